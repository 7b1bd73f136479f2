//===- backend/cpu/Saxpy.cpp - Runs of saxpy into one vector --------------===//
//
// OpenBLAS 0.3.21's Haswell saxpy (unit strides) fuses the multiply-add in
// its first n & -32 elements (vfmadd231ps) and rounds the product before
// the addition in the rest (vmulss, vaddss); a zero scale returns at once
// (interface/axpy.c). The fast path below does the same per element but
// keeps a block of the output in registers over all the rows. Other
// kernels (other CPUs, other versions) may round differently, so the fast
// path takes a length only after it matched cblas_saxpy's bits on a probe
// where fused and unfused results differ in every element, at several
// alignments; otherwise each row is one cblas_saxpy. The build compiles
// this file with -ffp-contract=off: the unfused products must stay unfused
// whatever -march the runtime is built for.
//
//===----------------------------------------------------------------------===//
#include "Saxpy.h"

#include <algorithm>
#include <bit>
#include <cblas.h>
#include <iterator>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bdl::cpu {
namespace {

void blasRows(int64_t n, const ScaledRow *rows, size_t count, float *c) {
  for (size_t j = 0; j < count; ++j)
    cblas_saxpy(int(n), rows[j].scale, rows[j].values, 1, c, 1);
}

#if defined(__x86_64__)

/// The fused part of OpenBLAS's kernel: n rounded down to this.
constexpr int64_t kFusedMultiple = 32;

/// Fused c[o, o + 8 V) over all the rows: V independent accumulators hide
/// the multiply-add latency.
template <int V>
__attribute__((target("avx2,fma"))) void fusedBlock(int64_t o, const ScaledRow *rows, size_t count,
                                                    float *c) {
  __m256 acc[V];
  for (int v = 0; v < V; ++v)
    acc[v] = _mm256_loadu_ps(c + o + 8 * v);
  for (size_t j = 0; j < count; ++j) {
    __m256 s = _mm256_set1_ps(rows[j].scale);
    const float *x = rows[j].values + o;
    for (int v = 0; v < V; ++v)
      acc[v] = _mm256_fmadd_ps(s, _mm256_loadu_ps(x + 8 * v), acc[v]);
  }
  for (int v = 0; v < V; ++v)
    _mm256_storeu_ps(c + o + 8 * v, acc[v]);
}

/// Rows with a zero scale already dropped.
__attribute__((target("avx2,fma"))) void fastRows(int64_t n, const ScaledRow *rows, size_t count,
                                                  float *c) {
  int64_t fusedEnd = n / kFusedMultiple * kFusedMultiple, o = 0;
  for (; o + 64 <= fusedEnd; o += 64)
    fusedBlock<8>(o, rows, count, c);
  for (; o < fusedEnd; o += 32)
    fusedBlock<4>(o, rows, count, c);
  // The product rounded, then added with the product as the first operand,
  // as the kernel's vaddss does (it decides which NaN comes out).
  for (; o + 8 <= n; o += 8) {
    __m256 acc = _mm256_loadu_ps(c + o);
    for (size_t j = 0; j < count; ++j)
      acc = _mm256_add_ps(
          _mm256_mul_ps(_mm256_set1_ps(rows[j].scale), _mm256_loadu_ps(rows[j].values + o)), acc);
    _mm256_storeu_ps(c + o, acc);
  }
  for (; o < n; ++o) {
    float acc = c[o];
    for (size_t j = 0; j < count; ++j)
      acc = rows[j].scale * rows[j].values[o] + acc;
    c[o] = acc;
  }
}

/// Whether fastRows gives cblas_saxpy's bits for length n. The probe's
/// scale * x = 1 + 2^-11 + 2^-24 rounds (a tie, to even) to 1 + 2^-11:
/// added to -1 it leaves 2^-11 + 2^-24 fused and 2^-11 unfused.
bool fastPathMatches(int64_t n) {
  const float scale = 1 + 0x1p-12f, x = 1 + 0x1p-12f;
  constexpr int64_t kShifts = 8; // a kernel that aligns its loads would split elsewhere
  std::vector<float> xs(size_t(n + kShifts), x), blas, fast;
  for (int64_t shift = 0; shift < kShifts; ++shift) {
    blas.assign(size_t(n + kShifts), -1.0f), fast = blas;
    const float *row = xs.data() + (shift * 3) % kShifts;
    cblas_saxpy(int(n), scale, row, 1, blas.data() + shift, 1);
    ScaledRow term{scale, row};
    fastRows(n, &term, 1, fast.data() + shift);
    if (!std::equal(blas.begin(), blas.end(), fast.begin(), [](float a, float b) {
          return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
        }))
      return false;
  }
  return true;
}

/// Per thread, so that threads never wait on each other: 0 not probed yet,
/// 1 fast path, -1 cblas_saxpy.
bool useFastPath(int64_t n) {
  static const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  thread_local std::vector<int8_t> verdict;
  if (!cpu)
    return false;
  if (verdict.size() <= size_t(n))
    verdict.resize(size_t(n) + 1, 0);
  int8_t &v = verdict[size_t(n)];
  if (v == 0)
    v = fastPathMatches(n) ? 1 : -1;
  return v > 0;
}

#endif

} // namespace

void addScaledRows(int64_t n, const ScaledRow *rows, size_t count, float *c) {
  if (n <= 0 || count == 0)
    return;
#if defined(__x86_64__)
  if (useFastPath(n)) {
    if (std::none_of(rows, rows + count, [](const ScaledRow &r) { return r.scale == 0; })) {
      fastRows(n, rows, count, c);
      return;
    }
    thread_local std::vector<ScaledRow> nonzero;
    nonzero.clear();
    std::copy_if(rows, rows + count, std::back_inserter(nonzero),
                 [](const ScaledRow &r) { return r.scale != 0; });
    fastRows(n, nonzero.data(), nonzero.size(), c);
    return;
  }
#endif
  blasRows(n, rows, count, c);
}

} // namespace bdl::cpu
