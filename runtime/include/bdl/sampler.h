//===- bdl/sampler.h - Reference of the random draws in kernels -*- C++ -*-===//
//
// The draws a generated kernel makes (ExprOp::Bernoulli, ExprOp::Poisson),
// written out in plain C++. Every backend must produce exactly these bits:
// the CPU code generator is tested against this file (CodeGenSamplerTest),
// and a GPU backend compiles the same operations in the same order.
//
// Keys. A draw of site `site` at element (r, c) of a kernel's iteration space
// uses Philox4x32-10 (bdl/rng.h) with
//   key     = { (uint32)seed, (uint32)(seed >> 32) }
//   counter = { c,
//               (uint32)step ^ (n << 24),
//               (uint32)(example0 + r),
//               BDL_DRAW_STREAM | site << 8 | (block & 0xff) }
// where seed, example0, step and block come from the BdlContext of the call
// and n is the index of the Philox block within the draw (0 for the first
// four uniforms). So a draw depends on nothing but (seed, site, block,
// step, example, column): not on the thread count, on how rows are split
// between calls, or on how examples are batched. Distinct draws need
// site < 2^21, block & 0xff distinct (BDL_EVAL_BLOCK keeps evaluation blocks
// apart), and step < 2^24.
//
// Uniforms. Uniform j of a draw is word (j & 3) of Philox block n = j >> 2,
// turned into u = (word >> 8) * 2^-24, exactly representable in float, in
// [0, 1 - 2^-24].
//
// Bernoulli(p): uniform 0; 1 when u < p, else 0 (p <= 0 or NaN: always 0,
// p >= 1: always 1).
//
// Poisson(lambda): exact inversion, in float arithmetic. lambda <= 0 or NaN
// gives 0; lambda is clamped to kPoissonMaxMean. The mean is split into
// chunks of kPoissonChunk (the last one takes the rest, exactly: lambda -
// 32 j is representable), and chunk j, with mean mu and uniform j, counts
//   k = 0; p = expNeg(mu); F = p;
//   while (u > F) { k = k + 1; p = p * (mu / k); if (F + p == F) break;
//                   F = F + p; }
// The count is the sum over the chunks (a sum of independent Poisson counts
// is Poisson). The chunk keeps e^-mu >= e^-32 far from float's smallest
// normal; the `F + p == F` exit ends the search once the remaining terms
// can no longer change F (for a u within a few 1e-7 of 1, where rounding
// has left F just below u, the count is taken from the far tail of the
// distribution; that changes probabilities below 1e-6).
//
// expNeg(mu) = e^-mu on [0, 32] from IEEE +, -, *, / and bit operations
// only, each rounded on its own (no fused multiply-add: every product here
// passes through rounded(), the code generator emits separate fmul and fadd
// without fast-math flags), so any IEEE float implementation gives the same
// bits. A GPU backend must likewise keep its compiler from contracting
// (e.g. __fmul_rn and __fadd_rn, or -fmad=false).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_SAMPLER_H
#define BDL_SAMPLER_H

#include "bdl/abi.h"
#include "bdl/rng.h"

#include <bit>
#include <cmath>
#include <cstdint>

namespace bdl::sampler {

/// x, rounded to float and opaque to the optimiser: a product passed
/// through it cannot be fused with the addition that follows into one fma,
/// whatever the compiler's contraction setting (GCC's and CUDA's defaults
/// fuse; clang's -ffp-contract=fast ignores pragmas).
inline float rounded(float x) {
  volatile float v = x;
  return v;
}

/// Poisson means are split into chunks of at most this much.
constexpr float kPoissonChunk = 32.0f;
/// Larger means are clamped to this (1024 chunks, 256 Philox blocks).
constexpr float kPoissonMaxMean = 32768.0f;
/// Draw sites are below this (site << 8 must stay under BDL_DRAW_STREAM).
constexpr int32_t kMaxDrawSites = 1 << 21;

/// Where a draw is: the fields of its Philox counter and key.
struct DrawKey {
  uint64_t seed = 0;
  uint32_t column = 0;  // c
  uint32_t step = 0;    // ctx->step
  uint32_t example = 0; // ctx->example0 + r, truncated
  uint32_t tag = 0;     // BDL_DRAW_STREAM | site << 8 | (block & 0xff)
};

/// The key of a draw of `site` at element (r, c) under `ctx`.
inline DrawKey drawKey(const BdlContext &ctx, int32_t site, int64_t r, int64_t c) {
  DrawKey k;
  k.seed = ctx.seed;
  k.column = uint32_t(c);
  k.step = uint32_t(ctx.step);
  k.example = uint32_t(uint64_t(ctx.example0) + uint64_t(r));
  k.tag = BDL_DRAW_STREAM | uint32_t(site) << 8 | (uint32_t(ctx.block) & 0xffu);
  return k;
}

/// Philox block n of a draw.
inline PhiloxCounter drawBlock(const DrawKey &k, uint32_t n) {
  return philox4x32({k.column, k.step ^ (n << 24), k.example, k.tag},
                    {uint32_t(k.seed), uint32_t(k.seed >> 32)});
}

/// (word >> 8) * 2^-24: exact, in [0, 1 - 2^-24].
inline float wordToUniform(uint32_t word) { return float(word >> 8) * 0x1p-24f; }

/// Uniform j of a draw.
inline float drawUniform(const DrawKey &k, uint32_t j) {
  return wordToUniform(drawBlock(k, j >> 2)[j & 3]);
}

/// e^-mu for mu in [0, kPoissonChunk]: Cody-Waite reduction -mu = n ln2 + r
/// and the Cephes expf polynomial, unfused. Relative error a few 1e-7.
inline float expNeg(float mu) {
  float x = -mu;
  // n = round(x / ln2) by the 1.5 * 2^23 trick; exact for |x| <= 2^22.
  float t = rounded(x * 1.44269504088896341f);
  float nf = (t + 12582912.0f) - 12582912.0f;
  // ln2 = 0.693359375 - 2.12194440e-4; n * 0.693359375 is exact.
  float r = x - rounded(nf * 0.693359375f);
  r = r - rounded(nf * -2.12194440e-4f);
  float p = 1.9875691500E-4f;
  p = rounded(p * r) + 1.3981999507E-3f;
  p = rounded(p * r) + 8.3334519073E-3f;
  p = rounded(p * r) + 4.1665795894E-2f;
  p = rounded(p * r) + 1.6666665459E-1f;
  p = rounded(p * r) + 5.0000001201E-1f;
  float rr = rounded(r * r);
  float er = (rounded(p * rr) + r) + 1.0f;
  // 2^n for n in [-47, 0]: a normal number built in the exponent field.
  int32_t n = int32_t(nf);
  float scale = std::bit_cast<float>(uint32_t(n + 127) << 23);
  return er * scale;
}

/// A Poisson count of mean mu in (0, kPoissonChunk] from one uniform u.
inline uint32_t poissonChunk(float mu, float u) {
  uint32_t k = 0;
  float p = expNeg(mu);
  float F = p;
  while (u > F) {
    k = k + 1;
    p = rounded(p * (mu / float(k)));
    float next = F + p;
    if (next == F)
      break;
    F = next;
  }
  return k;
}

/// Bernoulli(p) at `k`: 1.0f or 0.0f.
inline float bernoulli(const DrawKey &k, float p) { return drawUniform(k, 0) < p ? 1.0f : 0.0f; }

/// A standard normal at `k` (ExprOp::Normal, `normal(mean, std)` in a learn
/// block): Box-Muller, sqrt(-2 ln(1 - u0)) cos(2 pi u1). It calls logf and
/// cosf, so a GPU's libdevice may differ from it in the last bits.
inline float normal(const DrawKey &k) {
  float radius = std::sqrt(-2.0f * std::log(1.0f - drawUniform(k, 0)));
  return radius * std::cos(6.28318530717958648f * drawUniform(k, 1));
}

/// Poisson(lambda) at `k`, as a float.
inline float poisson(const DrawKey &k, float lambda) {
  if (!(lambda > 0.0f))
    return 0.0f;
  if (lambda > kPoissonMaxMean)
    lambda = kPoissonMaxMean;
  uint32_t count = 0, j = 0;
  while (lambda > kPoissonChunk) {
    count += poissonChunk(kPoissonChunk, drawUniform(k, j));
    lambda = lambda - kPoissonChunk;
    ++j;
  }
  count += poissonChunk(lambda, drawUniform(k, j));
  return float(count);
}

} // namespace bdl::sampler

#endif // BDL_SAMPLER_H
