//===- ElementEmitter.h - A kernel body as a function of one element -*- C++ -*-===//
//
// The target-independent part of a kernel: an internal function computing a
// KernelOp at one element (r, c) of its iteration space,
//
//   Map:        void  @<name>.elem(i64 r, i64 c, i64 i, ptr t0, ..., ptr hp,
//                                  ptr ctx)
//   reductions: float @<name>.elem(...)   -- the value to reduce at (r, c)
//
// where i = r * cols + c and t0... are the base pointers of the tensors the
// kernel reads or writes (ElementFunction::tensors). A Map stores its stored
// outputs at t[i]; a reduction stores the outputs before the reduced one and
// returns the reduced value, which the caller accumulates. The CPU backend
// wraps it in a loop nest; a GPU backend can wrap it in a thread-indexed
// kernel.
//
// Deferred draws (EmitOptions::deferDraws). A Poisson draw needs an exact
// search loop, which keeps the loop vectoriser off the whole kernel. So in a
// Map, a stored output whose value is a Poisson draw, or selects between
// such draws and draw-free values whose conditions read nothing the kernel
// writes, is computed by emitPoissonFast (Sampler.h): almost every element
// gets its final count, the rest store a marker (negative: -lambda). fn
// returns whether the element's stored value has its sign bit set (a marker,
// or a negative draw-free value). When fn returned true anywhere in a row,
// the caller must, after fn has run at every element of that row and before
// the kernel returns, call `tail` at each element of the row: it follows
// the selects again and replaces the row's markers by the reference's
// counts. Such an output's tensor is written by no other output and read by
// none after it (nor, anywhere, at another element), so no marker is ever
// read before the tail replaces it. A backend that cannot run a second pass
// turns deferDraws off.
//
// The pointers are deliberately not noalias here: the caller that owns the
// loop should take them as noalias arguments instead. Noalias on a function
// inlined into a loop body becomes alias scopes declared inside the loop,
// which LoopAccessAnalysis discards (they hold for one iteration only) along
// with every other scope on the same accesses, so the vectoriser would fall
// back to run-time pointer checks.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CODEGEN_ELEMENTEMITTER_H
#define BDL_CODEGEN_ELEMENTEMITTER_H

#include "codegen/CodeGen.h"
#include "ir/IR.h"

#include "llvm/IR/Function.h"
#include "llvm/IR/IRBuilder.h"

#include <vector>

namespace bdl::codegen {

struct ElementFunction {
  llvm::Function *fn = nullptr;
  /// Tensor id of each pointer parameter, in parameter order (after r, c, i;
  /// hp and ctx follow them). Sorted, no duplicates.
  std::vector<ir::TensorId> tensors;
  /// Reductions return the value to reduce; Maps return void.
  bool returnsValue = false;
  /// Whether the body reads with Access::Row / Access::Col (if neither, r
  /// and c are unused and only i matters).
  bool usesRow = false, usesCol = false;
  /// Whether the body draws random numbers, which are keyed by (r, c): the
  /// caller must pass the true row and column.
  bool draws = false;
  /// Set when some Poisson draws of a Map are deferred (see below): `fn`
  /// then returns i1, and `tail` has fn's signature and returns void.
  llvm::Function *tail = nullptr;
  /// Select conditions that read only params (model flags such as
  /// `hp[spiking]`, ir::readsOnlyParams), the costliest first: fn and tail
  /// take each as an i1 argument after ctx, in this order, instead of
  /// evaluating it per element. The caller evaluates them once per call
  /// (emitParamCondition) and may pass constants in a copy of its loop per
  /// combination: after inlining, an unselected arm (a Poisson draw in a
  /// rate-mode run, a rate in a spiking one) is gone from the loop, and the
  /// loop is simpler to vectorise. At most kMaxInvariantConditions; other
  /// conditions stay per-element selects.
  std::vector<const ir::Expr *> invariants;
};

/// An empty exported function `symbol` with the BdlKernelFn signature
/// (rowBegin, rowEnd, cols, tensors, hp, ctx), the pointers nocapture and
/// readonly: every backend's kernel entry.
llvm::Function *declareKernelEntry(llvm::Module &llvmModule, llvm::StringRef symbol);

/// Copies of a loop are 2^invariants: 8 at most.
constexpr size_t kMaxInvariantConditions = 1;

/// `cond != 0` (true on NaN, as a Select's condition) for an expression that
/// reads only params, evaluated at b's insertion point from `hp`.
llvm::Value *emitParamCondition(llvm::IRBuilder<> &b, const ir::Expr &cond, llvm::Value *hp,
                                const EmitOptions &opts);

/// Emits the element function `<name>.elem` of a kernel that passes
/// ir::verifyKernel.
ElementFunction emitElementFunction(llvm::Module &llvmModule, const ir::Module &m,
                                    const ir::KernelOp &k, llvm::StringRef name,
                                    const EmitOptions &opts);

/// `i32 @<name>(ptr hp, ptr ctx)`: a block's step count (BdlStepsFn). Evaluates
/// `steps` (verified: slots, arithmetic, comparisons, selects, Wald draws)
/// in float and converts toward zero, as Python's int(); NaN and values
/// below 1 give 0, values from 2^31 give INT32_MAX.
llvm::Function *emitStepsFunction(llvm::Module &llvmModule, const ir::Expr &steps,
                                  llvm::StringRef name, const EmitOptions &opts);

/// `void @bdl_derive(ptr hp)` (BdlDeriveFn), or null when no parameter of
/// `m` is derived: hp[kFirstParamSlot + i] = derivation of param i, in
/// order, each reading the slots as the earlier ones left them.
llvm::Function *emitDeriveFunction(llvm::Module &llvmModule, const ir::Module &m,
                                   const EmitOptions &opts);

} // namespace bdl::codegen

#endif // BDL_CODEGEN_ELEMENTEMITTER_H
