//===- Sampler.cpp - Random draws of kernel bodies in LLVM IR ------------===//
//
// Every floating-point operation here is a plain fmul/fadd/fsub/fdiv with no
// fast-math flags, in the order of bdl/sampler.h: LLVM never fuses or
// reorders those (fusion needs `contract` or fmuladd), so the generated
// draws are the reference's bit for bit.
//
//===----------------------------------------------------------------------===//
#include "Sampler.h"

#include "bdl/abi.h"
#include "bdl/sampler.h"

#include "llvm/IR/Function.h"

#include <array>

using namespace llvm;

namespace bdl::codegen {
namespace {

Value *f32(IRBuilder<> &b, float v) { return ConstantFP::get(b.getFloatTy(), v); }

using Words = std::array<Value *, 4>;

/// bdl::philox4x32 (rng.h), unrolled.
Words philox(IRBuilder<> &b, Words ctr, Value *key0, Value *key1) {
  Type *i64 = b.getInt64Ty(), *i32 = b.getInt32Ty();
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 = b.CreateAdd(key0, b.getInt32(0x9E3779B9u));
      key1 = b.CreateAdd(key1, b.getInt32(0xBB67AE85u));
    }
    Value *p0 = b.CreateMul(b.CreateZExt(ctr[0], i64), b.getInt64(0xD2511F53u));
    Value *p1 = b.CreateMul(b.CreateZExt(ctr[2], i64), b.getInt64(0xCD9E8D57u));
    Value *hi0 = b.CreateTrunc(b.CreateLShr(p0, 32), i32);
    Value *hi1 = b.CreateTrunc(b.CreateLShr(p1, 32), i32);
    ctr = {b.CreateXor(b.CreateXor(hi1, ctr[1]), key0), b.CreateTrunc(p1, i32),
           b.CreateXor(b.CreateXor(hi0, ctr[3]), key1), b.CreateTrunc(p0, i32)};
  }
  return ctr;
}

Value *tag(IRBuilder<> &b, const DrawBase &d, int32_t site) {
  return b.CreateOr(d.block, b.getInt32(BDL_DRAW_STREAM | uint32_t(site) << 8));
}

/// sampler::drawUniform(key, j) for an i32 `j`.
Value *uniform(IRBuilder<> &b, const DrawBase &d, Value *tagValue, Value *j) {
  Value *n = b.CreateLShr(j, 2);
  Value *step = b.CreateXor(d.step, b.CreateShl(n, 24));
  Words w = philox(b, {d.column, step, d.example, tagValue}, d.key0, d.key1);
  Value *word;
  if (auto *cj = dyn_cast<ConstantInt>(j)) {
    word = w[cj->getZExtValue() & 3];
  } else {
    Value *sel = b.CreateAnd(j, b.getInt32(3));
    word = b.CreateSelect(
        b.CreateICmpEQ(sel, b.getInt32(0)), w[0],
        b.CreateSelect(b.CreateICmpEQ(sel, b.getInt32(1)), w[1],
                       b.CreateSelect(b.CreateICmpEQ(sel, b.getInt32(2)), w[2], w[3])));
  }
  return b.CreateFMul(b.CreateUIToFP(b.CreateLShr(word, 8), b.getFloatTy()), f32(b, 0x1p-24f));
}

/// sampler::expNeg.
Value *expNeg(IRBuilder<> &b, Value *mu) {
  Value *x = b.CreateFNeg(mu);
  Value *t = b.CreateFMul(x, f32(b, 1.44269504088896341f));
  Value *nf = b.CreateFSub(b.CreateFAdd(t, f32(b, 12582912.0f)), f32(b, 12582912.0f));
  Value *r = b.CreateFSub(x, b.CreateFMul(nf, f32(b, 0.693359375f)));
  r = b.CreateFSub(r, b.CreateFMul(nf, f32(b, -2.12194440e-4f)));
  Value *p = f32(b, 1.9875691500E-4f);
  for (float c :
       {1.3981999507E-3f, 8.3334519073E-3f, 4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f})
    p = b.CreateFAdd(b.CreateFMul(p, r), f32(b, c));
  Value *er = b.CreateFAdd(b.CreateFAdd(b.CreateFMul(p, b.CreateFMul(r, r)), r), f32(b, 1.0f));
  Value *n = b.CreateFPToSI(nf, b.getInt32Ty());
  Value *scale = b.CreateBitCast(b.CreateShl(b.CreateAdd(n, b.getInt32(127)), 23), b.getFloatTy());
  return b.CreateFMul(er, scale);
}

} // namespace

StructType *contextType(LLVMContext &ctx) {
  if (StructType *t = StructType::getTypeByName(ctx, "BdlContext"))
    return t;
  Type *i64 = Type::getInt64Ty(ctx), *i32 = Type::getInt32Ty(ctx);
  return StructType::create(ctx, {i64, i64, i64, i32, i32, i32, i32}, "BdlContext");
}

Value *loadContextField(IRBuilder<> &b, Value *ctx, ContextIndex f) {
  StructType *t = contextType(b.getContext());
  unsigned i = static_cast<unsigned>(f);
  Type *ty = t->getElementType(i);
  return b.CreateAlignedLoad(ty, b.CreateStructGEP(t, ctx, i), Align(ty->isIntegerTy(64) ? 8 : 4),
                             "ctx." + Twine(i));
}

DrawBase emitDrawBase(IRBuilder<> &b, Value *ctx, Value *r, Value *c) {
  Type *i32 = b.getInt32Ty();
  DrawBase d;
  Value *seed = loadContextField(b, ctx, ContextIndex::Seed);
  d.key0 = b.CreateTrunc(seed, i32, "key0");
  d.key1 = b.CreateTrunc(b.CreateLShr(seed, 32), i32, "key1");
  d.column = b.CreateTrunc(c, i32, "draw.col");
  d.step = loadContextField(b, ctx, ContextIndex::Step);
  d.example = b.CreateTrunc(b.CreateAdd(loadContextField(b, ctx, ContextIndex::Example0), r), i32,
                            "draw.example");
  d.block = b.CreateAnd(loadContextField(b, ctx, ContextIndex::Block), b.getInt32(0xff));
  return d;
}

Value *emitBernoulli(IRBuilder<> &b, const DrawBase &d, int32_t site, Value *p) {
  Value *u = uniform(b, d, tag(b, d, site), b.getInt32(0));
  return b.CreateSelect(b.CreateFCmpOLT(u, p), f32(b, 1.0f), f32(b, 0.0f), "bernoulli");
}

Value *emitNormal(IRBuilder<> &b, const DrawBase &d, int32_t site) {
  // sqrt(-2 ln(1 - u0)) cos(2 pi u1): 1 - u0 is in [2^-24, 1], so the log is
  // finite and |z| <= 5.8.
  Value *t = tag(b, d, site);
  Value *u0 = uniform(b, d, t, b.getInt32(0)), *u1 = uniform(b, d, t, b.getInt32(1));
  Value *lnU = b.CreateUnaryIntrinsic(Intrinsic::log, b.CreateFSub(f32(b, 1.0f), u0));
  Value *radius = b.CreateUnaryIntrinsic(Intrinsic::sqrt, b.CreateFMul(f32(b, -2.0f), lnU));
  Value *angle = b.CreateFMul(f32(b, 6.28318530717958648f), u1);
  return b.CreateFMul(radius, b.CreateUnaryIntrinsic(Intrinsic::cos, angle), "normal");
}

Value *emitPoisson(IRBuilder<> &b, const DrawBase &d, int32_t site, Value *lambda) {
  LLVMContext &ctx = b.getContext();
  Function *f = b.GetInsertBlock()->getParent();
  Type *i32 = b.getInt32Ty();
  Value *chunk = f32(b, sampler::kPoissonChunk);
  auto block = [&](const char *name) { return BasicBlock::Create(ctx, name, f); };
  BasicBlock *setup = block("poisson.setup"), *chunkHead = block("poisson.chunk"),
             *searchHead = block("poisson.search"), *searchBody = block("poisson.next"),
             *chunkEnd = block("poisson.chunkend"), *done = block("poisson.done");

  // lambda > 0 is false for NaN too.
  BasicBlock *entry = b.GetInsertBlock();
  b.CreateCondBr(b.CreateFCmpOGT(lambda, f32(b, 0.0f)), setup, done);

  b.SetInsertPoint(setup);
  Value *tagValue = tag(b, d, site);
  Value *maxMean = f32(b, sampler::kPoissonMaxMean);
  Value *lam = b.CreateSelect(b.CreateFCmpOGT(lambda, maxMean), maxMean, lambda);
  b.CreateBr(chunkHead);

  // Chunk j: mean min(rest, 32) with uniform j.
  b.SetInsertPoint(chunkHead);
  PHINode *rest = b.CreatePHI(b.getFloatTy(), 2, "poisson.rest");
  PHINode *count = b.CreatePHI(i32, 2, "poisson.count");
  PHINode *j = b.CreatePHI(i32, 2, "poisson.j");
  rest->addIncoming(lam, setup);
  count->addIncoming(b.getInt32(0), setup);
  j->addIncoming(b.getInt32(0), setup);
  Value *more = b.CreateFCmpOGT(rest, chunk);
  Value *mu = b.CreateSelect(more, chunk, rest);
  Value *u = uniform(b, d, tagValue, j);
  Value *e = expNeg(b, mu);
  b.CreateBr(searchHead);

  b.SetInsertPoint(searchHead);
  PHINode *k = b.CreatePHI(i32, 2, "poisson.k");
  PHINode *p = b.CreatePHI(b.getFloatTy(), 2, "poisson.p");
  PHINode *cdf = b.CreatePHI(b.getFloatTy(), 2, "poisson.F");
  k->addIncoming(b.getInt32(0), chunkHead);
  p->addIncoming(e, chunkHead);
  cdf->addIncoming(e, chunkHead);
  b.CreateCondBr(b.CreateFCmpOGT(u, cdf), searchBody, chunkEnd);

  b.SetInsertPoint(searchBody);
  Value *k1 = b.CreateAdd(k, b.getInt32(1));
  Value *p1 = b.CreateFMul(p, b.CreateFDiv(mu, b.CreateUIToFP(k1, b.getFloatTy())));
  Value *next = b.CreateFAdd(cdf, p1);
  k->addIncoming(k1, searchBody);
  p->addIncoming(p1, searchBody);
  cdf->addIncoming(next, searchBody);
  b.CreateCondBr(b.CreateFCmpOEQ(next, cdf), chunkEnd, searchHead);

  b.SetInsertPoint(chunkEnd);
  PHINode *kk = b.CreatePHI(i32, 2, "poisson.chunkcount");
  kk->addIncoming(k, searchHead);
  kk->addIncoming(k1, searchBody);
  Value *sum = b.CreateAdd(count, kk);
  rest->addIncoming(b.CreateFSub(rest, chunk), chunkEnd);
  count->addIncoming(sum, chunkEnd);
  j->addIncoming(b.CreateAdd(j, b.getInt32(1)), chunkEnd);
  b.CreateCondBr(more, chunkHead, done);

  b.SetInsertPoint(done);
  PHINode *result = b.CreatePHI(i32, 2, "poisson.result");
  result->addIncoming(b.getInt32(0), entry);
  result->addIncoming(sum, chunkEnd);
  return b.CreateUIToFP(result, b.getFloatTy(), "poisson");
}

Value *emitPoissonFast(IRBuilder<> &b, const DrawBase &d, int32_t site, Value *lambda) {
  // Every value below is computed whatever lambda is (no branch, so the loop
  // vectoriser can take it); a mean outside (0, 32] (NaN included) is
  // replaced by 1 so that expNeg never sees one it cannot take (fptosi of a
  // NaN is poison, which a select's condition would spread).
  Value *positive = b.CreateFCmpOGT(lambda, f32(b, 0.0f));
  Value *oneChunk = b.CreateAnd(positive, b.CreateFCmpOLE(lambda, f32(b, sampler::kPoissonChunk)));
  Value *mu = b.CreateSelect(oneChunk, lambda, f32(b, 1.0f));
  Value *u = uniform(b, d, tag(b, d, site), b.getInt32(0));
  // poissonChunk's loop, unrolled: count t is decided when the search stops
  // at it, by `u > F` failing or by the `F + p == F` exit.
  Value *p = expNeg(b, mu), *cdf = p;
  Value *decided = b.CreateFCmpULE(u, cdf);
  Value *count = f32(b, 0.0f);
  for (unsigned t = 1; t <= kPoissonFastMaxCount; ++t) {
    count = b.CreateSelect(decided, count, f32(b, float(t)));
    p = b.CreateFMul(p, b.CreateFDiv(mu, f32(b, float(t))));
    Value *next = b.CreateFAdd(cdf, p);
    decided = b.CreateOr(decided, b.CreateOr(b.CreateFCmpOEQ(next, cdf), b.CreateFCmpULE(u, next)));
    cdf = next;
  }
  Value *marker = b.CreateFNeg(lambda);
  Value *v = b.CreateSelect(b.CreateAnd(oneChunk, decided), count, marker);
  return b.CreateSelect(positive, v, f32(b, 0.0f), "poisson.fast");
}

} // namespace bdl::codegen
