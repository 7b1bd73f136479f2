//===- backend/cpu/Saxpy.cpp - Runs of scaled rows into one vector --------===//
//
// Every element is a chain of fused multiply-adds over the rows in order,
// c = fma(scale_j, x_j, c), a zero scale included. A fused multiply-add
// is rounded once, exactly, on every CPU, so the AVX-512, the AVX2 and the
// scalar path give the same bits, and so does any machine: no dependence on
// which of OpenBLAS's kernels its DYNAMIC_ARCH build picks (Haswell's
// saxpy fuses only n & -32 elements, SkylakeX's rounds otherwise again).
// The vector paths keep a block of the output in registers over all rows.
//
//===----------------------------------------------------------------------===//
#include "Saxpy.h"

#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bdl::cpu {
namespace {

void scalarOuterRow(int64_t begin, int64_t n, float scale, const float *x, float *c) {
  for (int64_t o = begin; o < n; ++o)
    if (x[o] != 0)
      c[o] = std::fma(scale, x[o], c[o]);
}

void scalarRows(int64_t begin, int64_t n, const ScaledRow *rows, size_t count, float *c) {
  for (int64_t o = begin; o < n; ++o) {
    float acc = c[o];
    for (size_t j = 0; j < count; ++j)
      acc = std::fma(rows[j].scale, rows[j].values[o], acc);
    c[o] = acc;
  }
}

#if defined(__x86_64__)

/// c[o, o + 16 V) over all the rows: V independent accumulators hide the
/// multiply-add latency.
template <int V>
__attribute__((target("avx512f"))) void block512(int64_t o, const ScaledRow *rows, size_t count,
                                                 float *c) {
  __m512 acc[V];
  for (int v = 0; v < V; ++v)
    acc[v] = _mm512_loadu_ps(c + o + 16 * v);
  for (size_t j = 0; j < count; ++j) {
    __m512 s = _mm512_set1_ps(rows[j].scale);
    const float *x = rows[j].values + o;
    for (int v = 0; v < V; ++v)
      acc[v] = _mm512_fmadd_ps(s, _mm512_loadu_ps(x + 16 * v), acc[v]);
  }
  for (int v = 0; v < V; ++v)
    _mm512_storeu_ps(c + o + 16 * v, acc[v]);
}

__attribute__((target("avx512f"))) void rows512(int64_t n, const ScaledRow *rows, size_t count,
                                                float *c) {
  int64_t o = 0;
  for (; o + 128 <= n; o += 128)
    block512<8>(o, rows, count, c);
  for (; o + 16 <= n; o += 16)
    block512<1>(o, rows, count, c);
  if (o == n)
    return;
  __mmask16 tail = __mmask16((1u << (n - o)) - 1);
  __m512 acc = _mm512_maskz_loadu_ps(tail, c + o);
  for (size_t j = 0; j < count; ++j)
    acc = _mm512_fmadd_ps(_mm512_set1_ps(rows[j].scale),
                          _mm512_maskz_loadu_ps(tail, rows[j].values + o), acc);
  _mm512_mask_storeu_ps(c + o, tail, acc);
}

template <int V>
__attribute__((target("avx2,fma"))) void block256(int64_t o, const ScaledRow *rows, size_t count,
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

__attribute__((target("avx2,fma"))) void rows256(int64_t n, const ScaledRow *rows, size_t count,
                                                 float *c) {
  int64_t o = 0;
  for (; o + 64 <= n; o += 64)
    block256<8>(o, rows, count, c);
  for (; o + 8 <= n; o += 8)
    block256<1>(o, rows, count, c);
  scalarRows(o, n, rows, count, c);
}

__attribute__((target("avx512f"))) void outerRow512(int64_t n, float scale, const float *x,
                                                    float *c) {
  __m512 s = _mm512_set1_ps(scale), zero = _mm512_setzero_ps();
  int64_t o = 0;
  auto step = [&](int64_t at) __attribute__((target("avx512f"))) {
    __m512 v = _mm512_loadu_ps(x + at);
    __mmask16 live = _mm512_cmp_ps_mask(v, zero, _CMP_NEQ_UQ);
    _mm512_storeu_ps(c + at, _mm512_mask3_fmadd_ps(s, v, _mm512_loadu_ps(c + at), live));
  };
  for (; o + 64 <= n; o += 64) // four in flight: the loop is bound by memory
    step(o), step(o + 16), step(o + 32), step(o + 48);
  for (; o + 16 <= n; o += 16)
    step(o);
  if (o == n)
    return;
  __mmask16 tail = __mmask16((1u << (n - o)) - 1);
  __m512 v = _mm512_maskz_loadu_ps(tail, x + o);
  __mmask16 live = _mm512_mask_cmp_ps_mask(tail, v, zero, _CMP_NEQ_UQ);
  _mm512_mask_storeu_ps(c + o, tail,
                        _mm512_mask3_fmadd_ps(s, v, _mm512_maskz_loadu_ps(tail, c + o), live));
}

__attribute__((target("avx2,fma"))) void outerRow256(int64_t n, float scale, const float *x,
                                                     float *c) {
  __m256 s = _mm256_set1_ps(scale), zero = _mm256_setzero_ps();
  int64_t o = 0;
  for (; o + 8 <= n; o += 8) {
    __m256 v = _mm256_loadu_ps(x + o), old = _mm256_loadu_ps(c + o);
    __m256 live = _mm256_cmp_ps(v, zero, _CMP_NEQ_UQ);
    _mm256_storeu_ps(c + o, _mm256_blendv_ps(old, _mm256_fmadd_ps(s, v, old), live));
  }
  scalarOuterRow(o, n, scale, x, c);
}

#endif

} // namespace

void addOuterRow(int64_t n, float scale, const float *x, float *c) {
  if (n <= 0 || scale == 0)
    return;
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx512)
    return outerRow512(n, scale, x, c);
  if (avx2)
    return outerRow256(n, scale, x, c);
#endif
  scalarOuterRow(0, n, scale, x, c);
}

void addScaledRows(int64_t n, const ScaledRow *rows, size_t count, float *c) {
  if (n <= 0 || count == 0)
    return;
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx512)
    return rows512(n, rows, count, c);
  if (avx2)
    return rows256(n, rows, count, c);
#endif
  scalarRows(0, n, rows, count, c);
}

} // namespace bdl::cpu
