//===- Sampler.h - Random draws of kernel bodies in LLVM IR ----*- C++ -*-===//
//
// The Bernoulli and Poisson draws of runtime/include/bdl/sampler.h, emitted
// operation for operation: the same Philox counters, the same uniforms, the
// same unfused float arithmetic (no fmuladd, no fast-math flags), so that
// the generated code gives the reference's bits. Target independent: a GPU
// backend can emit the same IR inside a thread-indexed kernel.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CODEGEN_SAMPLER_H
#define BDL_CODEGEN_SAMPLER_H

#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/IRBuilder.h"

namespace bdl::codegen {

/// %BdlContext, field by field as in bdl/abi.h:
/// { i64 seed, i64 example0, i64 time, i32 step, i32 steps, i32 block,
///   i32 reserved }.
llvm::StructType *contextType(llvm::LLVMContext &ctx);

enum class ContextIndex : unsigned { Seed, Example0, Time, Step, Steps, Block, Reserved };

/// Loads field `f` of the BdlContext at `ctx`.
llvm::Value *loadContextField(llvm::IRBuilder<> &b, llvm::Value *ctx, ContextIndex f);

/// The parts of a draw's key that do not depend on the site (sampler.h's
/// DrawKey less its tag), as i32 values.
struct DrawBase {
  llvm::Value *column = nullptr, *step = nullptr, *example = nullptr;
  llvm::Value *block = nullptr; // (ctx->block & 0xff)
  llvm::Value *key0 = nullptr, *key1 = nullptr;
};

/// Loads the context's fields at b's insertion point for element (r, c)
/// (i64 values).
DrawBase emitDrawBase(llvm::IRBuilder<> &b, llvm::Value *ctx, llvm::Value *r, llvm::Value *c);

/// sampler::bernoulli: 1.0f or 0.0f. Straight-line code.
llvm::Value *emitBernoulli(llvm::IRBuilder<> &b, const DrawBase &d, int32_t site, llvm::Value *p);

/// sampler::poisson, as a float. Adds basic blocks to the insertion point's
/// function and leaves `b` at the end of the last one.
llvm::Value *emitPoisson(llvm::IRBuilder<> &b, const DrawBase &d, int32_t site,
                         llvm::Value *lambda);

/// sampler::normal: a standard normal from uniforms 0 and 1 (Box-Muller).
/// Uses llvm.log and llvm.cos, so unlike the spike draws its last bits may
/// differ between the CPU's libm and a GPU's libdevice.
llvm::Value *emitNormal(llvm::IRBuilder<> &b, const DrawBase &d, int32_t site);

/// Counts up to this are decided by emitPoissonFast; larger ones are left to
/// the tail (with means <= 0.2, about 1 draw in 17000 reaches k = 4).
constexpr unsigned kPoissonFastMaxCount = 3;

/// The vectorisable head of sampler::poisson, straight-line code: the first
/// kPoissonFastMaxCount + 1 steps of the one-chunk search, in the
/// reference's operation order, so that a count they decide is the
/// reference's. Gives that count (+0.0f, 1.0f, ...), or, where the search
/// would go on or the mean needs chunks, the marker -lambda (negative: the
/// mean is positive there): emitPoisson(-marker) then gives the reference's
/// count.
llvm::Value *emitPoissonFast(llvm::IRBuilder<> &b, const DrawBase &d, int32_t site,
                             llvm::Value *lambda);

} // namespace bdl::codegen

#endif // BDL_CODEGEN_SAMPLER_H
