//===- backend/cpu/Saxpy.h - Runs of scaled rows into one vector -*- C++ -*-===//
//
// A sparse product adds one weight row per input spike to its output row:
// tens of cblas_saxpy calls per step, each too short to pay for the call.
// addScaledRows does the whole run in one pass over the output, with one
// rounding rule on every machine (Saxpy.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CPU_SAXPY_H
#define BDL_BACKEND_CPU_SAXPY_H

#include <cstddef>
#include <cstdint>

namespace bdl::cpu {

/// One term of a run: c += scale * values[0, n).
struct ScaledRow {
  float scale;
  const float *values;
};

/// c[o] = fma(rows[j].scale, rows[j].values[o], c[o]) for j = 0, 1, ...,
/// count - 1 in that order and every o in [0, n), zero scales included: the
/// same bits on every machine.
void addScaledRows(int64_t n, const ScaledRow *rows, size_t count, float *c);

/// One row of an outer-product update, c[o] = fma(scale, x[o], c[o]), where
/// both factors are non-zero; where either is zero c[o] keeps its bits
/// (as a zero's product would, but for a -0 or an infinite factor). So
/// C_ij and its transpose's (j, i) change under the same condition, by the
/// same fma, whichever of the two is the row (Products.cpp); and a zero
/// scale costs nothing, as in BLAS's axpy.
void addOuterRow(int64_t n, float scale, const float *x, float *c);

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_SAXPY_H
