//===- backend/cpu/Parallel.cpp -------------------------------------------===//

#include "Parallel.h"
#include "Saxpy.h"

#include "bdl/executor.h"

#include <algorithm>
#include <cblas.h>
#include <functional>
#include <vector>

namespace bdl::cpu {

namespace {

/// GEMM bands start at multiples of this many rows or columns: whole
/// micro-kernel tiles, and (for column bands) whole 64-byte lines of C.
constexpr int64_t kGemmBandAlign = 16;

/// C = alpha a b^T + beta C for k = 1 (an outer product at batch 1), one
/// pass per row. OpenBLAS's small-matrix sgemm spends about 5 ns per element
/// of C on this shape, several times a plain pass. With b contiguous, each
/// element with both factors non-zero becomes fma(alpha a_i, b_j, c_ij)
/// (addOuterRow), which a weight's transposed copy can repeat bit for bit
/// (Executor.cpp).
void outerProduct(const GemmArgs &g) {
  int64_t aStride = g.transA ? 1 : g.lda, bStride = g.transB ? g.ldb : 1;
  for (int64_t i = 0; i < g.m; ++i) {
    float *c = g.c + i * g.ldc;
    scaleByBeta(g.beta, g.n, c);
    float scale = g.alpha * g.a[i * aStride];
    if (bStride == 1) {
      addOuterRow(g.n, scale, g.b, c);
    } else {
      cblas_saxpy(int(g.n), scale, g.b, int(bStride), c, 1);
    }
  }
}

} // namespace

void sgemm(const GemmArgs &g) {
  if (g.k == 1)
    return outerProduct(g);
  if (g.m == 1) {
    // One row of C: a matrix-vector product, which sgemv does at the
    // memory's speed where sgemm's small-matrix path does not.
    int aStride = g.transA ? int(g.lda) : 1;
    if (g.transB)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, int(g.n), int(g.k), g.alpha, g.b, int(g.ldb), g.a,
                  aStride, g.beta, g.c, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, int(g.k), int(g.n), g.alpha, g.b, int(g.ldb), g.a,
                  aStride, g.beta, g.c, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans,
              g.transB ? CblasTrans : CblasNoTrans, int(g.m), int(g.n), int(g.k), g.alpha, g.a,
              int(g.lda), g.b, int(g.ldb), g.beta, g.c, int(g.ldc));
}

void scaleByBeta(float beta, int64_t n, float *c) {
  if (beta == 0)
    std::fill(c, c + n, 0.0f);
  else if (beta != 1)
    cblas_sscal(int(n), beta, c, 1);
}

void scaledRowsProduct(const GemmArgs &g) {
  thread_local std::vector<ScaledRow> terms;
  terms.resize(size_t(g.k));
  int64_t rowStride = g.transA ? 1 : g.lda, innerStride = g.transA ? g.lda : 1;
  for (int64_t r = 0; r < g.m; ++r) {
    float *c = g.c + r * g.ldc;
    scaleByBeta(g.beta, g.n, c);
    const float *a = g.a + r * rowStride;
    for (int64_t i = 0; i < g.k; ++i)
      terms[size_t(i)] = {g.alpha * a[i * innerStride], g.b + i * g.ldb};
    addScaledRows(g.n, terms.data(), terms.size(), c);
  }
}

void runRowSlices(ThreadPool &pool, int slices, int64_t rows,
                  const std::function<void(int64_t begin, int64_t end)> &body) {
  int64_t chunks = std::clamp<int64_t>(slices, 1, std::max<int64_t>(rows, 1));
  if (chunks == 1)
    return body(0, rows);
  int64_t per = (rows + chunks - 1) / chunks;
  pool.run(int(chunks), [&](int t) {
    int64_t begin = t * per, end = std::min(rows, begin + per);
    if (begin < end)
      body(begin, end);
  });
}

void runKernelSlices(ThreadPool &pool, int slices, BdlKernelFn fn, int64_t rows, int64_t cols,
                     float *const *tensors, const float *hp, const BdlContext *ctx) {
  if (slices <= 1)
    return fn(0, rows, cols, tensors, hp, ctx);
  runRowSlices(pool, slices, rows,
               [&](int64_t begin, int64_t end) { fn(begin, end, cols, tensors, hp, ctx); });
}

void runGemmSlices(ThreadPool &pool, int slices, const GemmArgs &g) {
  bool byRows = g.m > g.n;
  int64_t extent = byRows ? g.m : g.n;
  int64_t bands = std::clamp<int64_t>(
      slices, 1, std::max<int64_t>(1, (extent + kGemmBandAlign - 1) / kGemmBandAlign));
  if (bands == 1)
    return sgemm(g);
  int64_t per = (extent + bands - 1) / bands;
  per = (per + kGemmBandAlign - 1) / kGemmBandAlign * kGemmBandAlign;
  pool.run(int(bands), [&](int t) {
    int64_t begin = t * per, end = std::min(extent, begin + per);
    if (begin >= end)
      return;
    GemmArgs band = g;
    if (byRows) {
      // Rows of op(A) and of C.
      band.m = end - begin;
      band.a = g.a + (g.transA ? begin : begin * g.lda);
      band.c = g.c + begin * g.ldc;
    } else {
      // Columns of op(B) and of C.
      band.n = end - begin;
      band.b = g.b + (g.transB ? begin * g.ldb : begin);
      band.c = g.c + begin;
    }
    sgemm(band);
  });
}

int kernelSlices(int64_t rows, int64_t cols, int threads) {
  if (threads < 2 || rows < 2 || rows * cols < kParallelKernelElements)
    return 1;
  return int(std::min<int64_t>(threads, rows));
}

int gemmSlices(const GemmArgs &g, int threads) {
  if (threads < 2 || 2 * g.m * g.n * g.k < kParallelGemmFlops)
    return 1;
  return threads;
}

} // namespace bdl::cpu
