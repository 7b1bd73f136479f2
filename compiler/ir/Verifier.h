//===- Verifier.h - Structural checks of the bdl IR -----------*- C++ -*-===//
//
// Two levels, one rule each:
//  - verifyKernel: a kernel on its own (indices, operand counts, locals,
//    shapes under ir::accessFits). Code generation runs it on every kernel.
//  - verifyModule: the whole module (tensors, roles, GEMM shapes, rotations,
//    what is read before it is written, step counts, derived params) and
//    verifyKernel on each of its kernels.
// Where each expression op may appear: Load/Local, Context, Poisson and
// Bernoulli only in kernels; Wald only in a block's step count; Slot,
// arithmetic, comparisons and Select everywhere.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_VERIFIER_H
#define BDL_IR_VERIFIER_H

#include "ir/IR.h"
#include "llvm/Support/raw_ostream.h"

#include <variant>
#include <vector>

namespace bdl::ir {

/// The innermost part of a module a problem is about (monostate: the
/// module itself), so that a tool which parsed the IR can point at its text.
using Entity = std::variant<std::monostate, const Param *, const Tensor *, const Block *,
                            const GemmOp *, const KernelOp *, const KernelOutput *,
                            const RotateOp *, const ReplayOp *, const GradOp *, const ImageOp *>;

struct Problem {
  Entity entity;
  std::string context; // e.g. "train block forward, kernel @h"; may be empty
  std::string message;
};

/// The problems of kernel `k` of module `m`; empty if it is well formed.
std::vector<Problem> verifyKernel(const Module &m, const KernelOp &k);

/// The problems of a block's step-count expression: only constants, slots,
/// arithmetic, comparisons, selects and Wald draws (no tensors: it runs on
/// the host before the block).
std::vector<Problem> verifyStepsExpr(const Module &m, const Expr &steps);

/// The problems of the params' derivations: only constants, slots of earlier
/// params (or the runtime scalars before them), arithmetic, comparisons and
/// selects.
std::vector<Problem> verifyDerivations(const Module &m);

/// The problems of `m`; empty if it is well formed. `lowered`: `m` is what
/// the backends get, so a GradOp (which only the pipeline's differentiate
/// pass removes) is a problem too.
std::vector<Problem> verifyModule(const Module &m, bool lowered = false);

/// Returns true if `m` is well formed; otherwise describes every problem on
/// `errs`. A failure is a compiler bug, never a user error.
bool verify(const Module &m, llvm::raw_ostream &errs, bool lowered = false);

} // namespace bdl::ir

#endif
