//===- core/Draw.cpp - Random draws generated step functions call --------===//
//
// Step functions (BdlBlock.stepsFn) run on the host once per batch, so their
// draws are runtime functions rather than inlined code. Keys follow the
// Philox layout of abi.h, so a draw depends on (seed, site, example, block)
// and on nothing else: not on the thread count, the batch size or how many
// draws came before.
//
//===----------------------------------------------------------------------===//

#include "bdl/abi.h"
#include "bdl/rng.h"

#include <cmath>
#include <limits>

using bdl::PhiloxCounter;

extern "C" float bdl_draw_wald(const BdlContext *ctx, int32_t site, float mean, float scale) {
  if (!(mean > 0) || !(scale > 0))
    return std::numeric_limits<float>::quiet_NaN();
  // Element 0, step 0 of the context's example and block.
  PhiloxCounter ctr{0u, 0u, uint32_t(ctx->example0),
                    BDL_DRAW_STREAM | uint32_t(site) << 8 | uint32_t(ctx->block)};
  PhiloxCounter w = bdl::philox4x32(ctr, {uint32_t(ctx->seed), uint32_t(ctx->seed >> 32)});
  // Words 0 and 1: a standard normal (Box-Muller, u1 in (0, 1] so that the
  // logarithm is finite); word 2: the uniform of the acceptance test.
  double u1 = (double(w[0]) + 1.0) * 0x1p-32;
  double u2 = double(w[1]) * 0x1p-32;
  double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  double u = double(w[2]) * 0x1p-32;

  // Michael, Schucany and Haas (1976), in the form numpy's wald() uses: the
  // smaller root of the chi-square transform, or mean^2 / that root with
  // probability x / (mean + x).
  double mu = mean, lambda = scale;
  double y = mu * normal * normal;
  double x = mu + mu / (2 * lambda) * (y - std::sqrt(4 * lambda * y + y * y));
  return float(u <= mu / (mu + x) ? x : mu * mu / x);
}
