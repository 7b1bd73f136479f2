//===- backend/cpu/Saxpy.h - Runs of saxpy into one vector -------*- C++ -*-===//
//
// A sparse product adds one weight row per input spike to its output row:
// tens of cblas_saxpy calls per step, each too short to pay for the call.
// addScaledRows does the whole run in one pass over the output, with the
// rounding of OpenBLAS's own kernel, so results keep every bit.
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

/// c[0, n) += rows[j].scale * rows[j].values for j = 0, 1, ..., count - 1,
/// bit for bit as that many cblas_saxpy(n, scale, values, 1, c, 1) calls in
/// that order.
void addScaledRows(int64_t n, const ScaledRow *rows, size_t count, float *c);

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_SAXPY_H
