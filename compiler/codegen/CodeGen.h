//===- CodeGen.h - LLVM code generation for bdl modules ---------*- C++ -*-===//
//
// Turns an ir::Module into an LLVM module holding
//  - one kernel per ir::KernelOp, `void @bdl_k<N>_<name>(i64 rowBegin,
//    i64 rowEnd, i64 cols, ptr tensors, ptr hp, ptr ctx)` (a BdlKernelFn;
//    ctx is the call's `const BdlContext *`), where N counts the KernelOps
//    in this order: trainBlocks then evalBlocks, and within a block its
//    prologue's kernels before its ops' kernels;
//  - for each block with a stepsExpr, `i32 @bdl_steps<N>(ptr hp, ptr ctx)`
//    (a BdlStepsFn; N is the block's position in trainBlocks then
//    evalBlocks), which evaluates the expression in float and converts it
//    toward zero like Python's int(), clamped to [0, INT32_MAX] (NaN gives
//    0); its Wald draws call the runtime's `bdl_draw_wald(ctx, site, mean,
//    scale)`;
//  - when a param is derived, `void @bdl_derive(ptr hp)` (a BdlDeriveFn):
//    for each derived param i in order, hp[kFirstParamSlot + i] = its
//    derivation, whose slot reads see the values stored before them;
//  - the constant `bdl_model` of type BdlModel (runtime/include/bdl/abi.h):
//    a rotation is an op of kind BDL_OP_ROTATE with a = first, b = count, a
//    replay one of kind BDL_OP_REPLAY with c = tensor.
//
// Kernel semantics, per element (r, c) of the iteration space [rows, cols]:
//  - outputs are evaluated in order; each stored output is written as soon as
//    it is computed, so a later output that Loads the same tensor at the same
//    element sees the new value (exactly as if the outputs were separate ops);
//    Local(k) is output k's value at this element, stored or not;
//  - in RowReduce / ColReduce kernels the last output is the reduced one; the
//    outputs before it behave as in a Map (normally they are stored=false);
//  - when a KernelOp's cols is a constant, the kernel uses that constant and
//    ignores its `cols` argument (the runtime passes the same value);
//  - distinct tensors must not overlap in memory (the loops assume noalias);
//  - results are bitwise reproducible and do not depend on how the rows are
//    split between calls; a row sum is reassociated (vectorised) in a fixed
//    order; a Max row reduction over a row holding a NaN gives an unspecified
//    value (nnan lets it vectorise);
//  - exp/sigmoid/tanh are inline polynomials (Math.h); log and pow call libm
//    (logf, powf), so the program links with -lm (g++ adds it anyway).
//  - comparisons give 1.0f or 0.0f (ordered: false on NaN, except Ne, true
//    on NaN); Select(c, a, b) is c != 0 ? a : b (a NaN condition selects a);
//    when a or b holds a draw it is a real branch, so an unselected draw
//    costs nothing; the costliest condition that reads only params (a model
//    flag) is decided once per call, with a copy of the loop nest per value
//    (ElementFunction::invariants); Context reads ctx->step / ctx->steps as
//    float;
//  - Bernoulli and Poisson draws are exactly those of bdl/sampler.h (Philox
//    4x32-10 keyed by seed, site, block, step, example0 + r and c; uniforms
//    (word >> 8) * 2^-24; Poisson by inversion in chunks of mean <= 32, the
//    mean clamped to 32768, 0 when not positive or NaN; e^-mu from an
//    unfused polynomial), so they are reproducible on any IEEE backend and
//    independent of the row split; a kernel that draws always runs the
//    row/column loop nest, since its draws are keyed by (r, c).
//  - a Map's Poisson output that only selects between draws and draw-free
//    values (EmitOptions::deferDraws, ElementEmitter.h) is drawn in two
//    passes over each row: a vectorised one that decides every count up to
//    3 with the reference's own operations (so bit for bit) and stores
//    -lambda for the rest, then, only in rows that have such markers, a
//    scalar one that runs the reference's search there. The search loop
//    would keep the whole kernel scalar. Means <= 0.2 reach the second pass
//    once in ~17000 draws. bench/draw_bench: 2.5 instead of 16 ns per
//    draw at means in [0, 0.4] (one thread, shared AVX-512 Xeon, 256-bit
//    vectors), so the draws fall from ~41% to ~19% of a spiking training
//    run of examples/guerguiev.bdl and its user time from 1.74 s to 1.10 s
//    (`train --limit 500 --threads 1`).
//
// Typical use:
//   auto tm = createTargetMachine({});           // host CPU
//   auto mod = emitModule(irModule, ctx);
//   optimize(**mod, **tm, 2);
//   emitObject(**mod, **tm, "model.o");
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CODEGEN_CODEGEN_H
#define BDL_CODEGEN_CODEGEN_H

#include "ir/IR.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm {
class DataLayout;
class LLVMContext;
class Module;
class TargetMachine;
} // namespace llvm

namespace bdl::codegen {

struct TargetOptions {
  std::string triple;       // empty: the host triple
  std::string cpu = "host"; // "host" or an LLVM CPU name, e.g. "x86-64-v3"
  std::string features;     // extra "+avx2,-fma" style features (optional)
  int optLevel = 2;         // 0..3: code generator optimisation level
};

struct EmitOptions {
  /// Emit exp (and sigmoid/tanh, which use it) as an inline polynomial that
  /// the loop vectoriser can vectorise. False: call llvm.exp.f32 (scalar
  /// expf unless a vector library maps it).
  bool inlineExp = true;
  /// Let a Map's Poisson draws take the vectorisable fast path and finish
  /// the rare rest in a per-row tail (ElementEmitter.h). Same bits either
  /// way; false keeps the inline search loop (for comparisons).
  bool deferDraws = true;
  /// What wraps the element functions (cpu/KernelEmitter.h,
  /// cuda/KernelEmitter.h): CPU loop nests; PTX kernels only (no descriptor
  /// and no host functions: the device half of a CUDA build); or the GPU's
  /// kernel bodies driven on the host by a loop over a launch's blocks and
  /// threads, in an otherwise ordinary CPU module (to test them without a
  /// GPU).
  enum class Kernels { Cpu, Ptx, HostGrid } kernels = Kernels::Cpu;
  /// A PTX module of the same kernels (for GPU architecture
  /// embeddedPtxArch) that the descriptor carries (BdlModel.ptx), so that
  /// one executable runs on the CPU or on a GPU; empty for none.
  std::string embeddedPtx, embeddedPtxArch;
};

/// The kernels and the `bdl_model` descriptor, unoptimised and verified.
/// Fails on a malformed ir::Module (bad tensor index, Local of a later
/// output, wrong operand count, ...).
llvm::Expected<std::unique_ptr<llvm::Module>>
emitModule(const ir::Module &m, llvm::LLVMContext &ctx, const EmitOptions &opts = {});

/// A target machine for `opts` (PIC, host CPU name and features for "host").
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createTargetMachine(const TargetOptions &opts);

/// Sets the module's triple and data layout from `tm` (if not yet set) and
/// runs the new pass manager's default pipeline at O<optLevel> (0..3).
/// `libmvec`: let the vectoriser call glibc's vector math (exp, log, pow,
/// ...; x86-64 only), so the program must be linked with -lmvec.
void optimize(llvm::Module &m, llvm::TargetMachine &tm, int optLevel, bool libmvec = false);

/// The NVPTX target for `gpu` ("sm_80", "sm_90"; LLVM 19 knows up to sm_90a).
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createPtxTargetMachine(const std::string &gpu,
                                                                            int optLevel);

/// Readies a Kernels::Ptx module for `optimize`: LLVM 19's NVPTX backend has
/// no lowering of llvm.log / llvm.pow, so they become calls of libdevice's
/// __nv_logf / __nv_powf, linked from `libdevice` (libdevice.10.bc) when any
/// is used; everything but the kernels is internalised; denormals are kept
/// (nvvm-reflect-ftz = 0), as on the CPU. exp, sigmoid and tanh are inline
/// polynomials on both targets, so they agree bit for bit.
llvm::Error prepareForPtx(llvm::Module &m, llvm::TargetMachine &tm, const std::string &libdevice);

/// Where libdevice.10.bc is: $CUDA_HOME/nvvm/libdevice, else /usr/local/cuda's;
/// empty when neither exists.
std::string findLibdevice();

/// Writes a relocatable object file.
llvm::Error emitObject(llvm::Module &m, llvm::TargetMachine &tm, llvm::StringRef path);

/// Writes the target's assembly (PTX for an NVPTX target) to `path` ("-": stdout).
llvm::Error emitAssembly(llvm::Module &m, llvm::TargetMachine &tm, llvm::StringRef path);
llvm::Expected<std::string> emitAssemblyText(llvm::Module &m, llvm::TargetMachine &tm);

/// Checks that LLVM lays out the descriptor structs under `dl` exactly as the
/// host C compiler lays out the structs of bdl/abi.h.
llvm::Error verifyDescriptorLayout(const llvm::DataLayout &dl);

/// The symbol of the N-th kernel: "bdl_k<N>_<name>" with characters outside
/// [A-Za-z0-9_] replaced by '_'.
std::string kernelSymbol(unsigned ordinal, llvm::StringRef name);

} // namespace bdl::codegen

#endif // BDL_CODEGEN_CODEGEN_H
