//===- Math.cpp - Vectorisable scalar math for kernel bodies -------------===//
#include "Math.h"

#include "llvm/IR/Intrinsics.h"

using namespace llvm;

namespace bdl::codegen {
namespace {

Value *f32(IRBuilder<> &b, float v) { return ConstantFP::get(b.getFloatTy(), v); }

/// a * b + c, fused where the target has FMA (deterministic per binary).
Value *mulAdd(IRBuilder<> &b, Value *x, Value *y, Value *z) {
  return b.CreateIntrinsic(Intrinsic::fmuladd, {x->getType()}, {x, y, z});
}

/// Horner: ((c0 * x + c1) * x + c2) ...
Value *horner(IRBuilder<> &b, Value *x, std::initializer_list<float> coeffs) {
  auto it = coeffs.begin();
  Value *acc = f32(b, *it++);
  for (; it != coeffs.end(); ++it)
    acc = mulAdd(b, acc, x, f32(b, *it));
  return acc;
}

} // namespace

Value *emitExpF32(IRBuilder<> &b, Value *x) {
  // e^x = 2^k e^r with k = round(x / ln2), |r| <= ln2 / 2, computed as
  // 2^(k-1) * (2 e^r) so that the largest k still has a finite scale.
  //
  // Clamp with compare+select so that a NaN passes through (and comes out
  // NaN). At 89, k = 128 and 2 e^r * 2^127 overflows to inf as it should; at
  // -87.5, k = -126 and the scale's exponent field is 0, so the result is 0.
  Value *hi = f32(b, 89.0f), *lo = f32(b, -87.5f);
  Value *xc = b.CreateSelect(b.CreateFCmpOGT(x, hi), hi, x);
  xc = b.CreateSelect(b.CreateFCmpOLT(xc, lo), lo, xc);

  // k by the 1.5 * 2^23 trick (no fptosi, whose NaN result would be poison):
  // the sum's low mantissa bits hold k + 126, the exponent field of 2^(k-1).
  const float magic = 12582912.0f + 126.0f;
  Value *kb = mulAdd(b, xc, f32(b, 1.44269504088896341f), f32(b, magic));
  Value *kf = b.CreateFSub(kb, f32(b, magic));
  Value *scale =
      b.CreateBitCast(b.CreateShl(b.CreateBitCast(kb, b.getInt32Ty()), 23), b.getFloatTy());

  // r = x - k ln2, ln2 split so that k * C1 is exact (Cephes).
  Value *r = mulAdd(b, kf, f32(b, -0.693359375f), xc);
  r = mulAdd(b, kf, f32(b, 2.12194440e-4f), r);

  // 2 e^r: the Cephes expf polynomial (~1 ulp on |r| <= ln2/2) with every
  // coefficient doubled (exactly).
  Value *p = horner(b, r,
                    {2 * 1.9875691500E-4f, 2 * 1.3981999507E-3f, 2 * 8.3334519073E-3f,
                     2 * 4.1665795894E-2f, 2 * 1.6666665459E-1f, 2 * 5.0000001201E-1f, 2.0f, 2.0f});
  return b.CreateFMul(p, scale);
}

Value *emitSigmoid(IRBuilder<> &b, Value *x, function_ref<Value *(Value *)> exp) {
  // e^-x = inf for x < -88.7 gives 1 / inf = 0: the true value is below
  // 3e-39 there.
  Value *e = exp(b.CreateFNeg(x));
  return b.CreateFDiv(f32(b, 1.0f), b.CreateFAdd(f32(b, 1.0f), e));
}

Value *emitTanh(IRBuilder<> &b, Value *x, function_ref<Value *(Value *)> exp) {
  Value *ax = b.CreateUnaryIntrinsic(Intrinsic::fabs, x);

  // |x| > 0.625: 1 - 2 / (e^(2|x|) + 1), sign restored.
  Value *e = exp(b.CreateFAdd(ax, ax));
  Value *big =
      b.CreateFSub(f32(b, 1.0f), b.CreateFDiv(f32(b, 2.0f), b.CreateFAdd(e, f32(b, 1.0f))));
  big = b.CreateBinaryIntrinsic(Intrinsic::copysign, big, x);

  // |x| <= 0.625: x + x^3 P(x^2).
  Value *s = b.CreateFMul(x, x);
  Value *p = horner(b, s,
                    {-5.70498872745E-3f, 2.06390887954E-2f, -5.37397155531E-2f, 1.33314422036E-1f,
                     -3.33332819422E-1f});
  Value *small = mulAdd(b, b.CreateFMul(p, s), x, x);

  return b.CreateSelect(b.CreateFCmpOGT(ax, f32(b, 0.625f)), big, small);
}

} // namespace bdl::codegen
