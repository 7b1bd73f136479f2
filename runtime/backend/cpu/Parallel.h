//===- backend/cpu/Parallel.h - Splitting ops over the thread pool -*- C++ -*-===//
//
// The two ways the runtime uses its cores (docs/threads.md): a kernel runs as
// contiguous row slices, a GEMM as sub-GEMMs over slices of C, each on a
// single-threaded OpenBLAS. The Executor decides how many slices an op gets;
// bench/pool_breakeven times the same functions with the split forced.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CPU_PARALLEL_H
#define BDL_BACKEND_CPU_PARALLEL_H

#include "bdl/abi.h"

#include "ThreadPool.h"

#include <cstdint>
#include <functional>

namespace bdl::cpu {

/// In a phase's steps, a product over an inner dimension this short is
/// computed as runs of scaled rows of B (or of its transposed copy) instead
/// of by OpenBLAS: k rows in one pass beat n dot products of length k. Every
/// row of C takes that path, however many there are, so a row's bits do not
/// depend on how a batch is split over threads (Products.cpp).
constexpr int64_t kShortInner = 32;

/// Row-major C[m, n] = alpha op(A)[m, k] op(B)[k, n] + beta C, as cblas_sgemm
/// takes it.
struct GemmArgs {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1;
  const float *a = nullptr;
  int64_t lda = 0;
  const float *b = nullptr;
  int64_t ldb = 0;
  float beta = 0;
  float *c = nullptr;
  int64_t ldc = 0;
};

/// The GEMM's arguments for rows [r0, r1) of op(A) = A and of C.
inline GemmArgs rowSlice(const GemmArgs &g, int64_t r0, int64_t r1) {
  GemmArgs s = g;
  s.m = r1 - r0, s.a = g.a + r0 * g.lda, s.c = g.c + r0 * g.ldc;
  return s;
}

/// The GEMM on this thread: OpenBLAS's sgemm, or sgemv for one row of C, or
/// the outer product's own loop for k = 1.
void sgemm(const GemmArgs &g);

/// Calls body(begin, end) on `slices` contiguous ranges of [0, rows), one
/// per pool task (slices <= pool.size()); at once, on this thread, for one.
void runRowSlices(ThreadPool &pool, int slices, int64_t rows,
                  const std::function<void(int64_t begin, int64_t end)> &body);

/// Runs the kernel over rows [0, rows) as `slices` contiguous row ranges,
/// one per pool task (slices <= pool.size()). The ranges are disjoint, so the
/// result does not depend on which thread runs which.
void runKernelSlices(ThreadPool &pool, int slices, BdlKernelFn fn, int64_t rows, int64_t cols,
                     float *const *tensors, const float *hp, const BdlContext *ctx);

/// Runs the GEMM as `slices` sub-GEMMs over disjoint bands of C (rows when C
/// is taller than wide, columns otherwise), one per pool task. Every element
/// of C is still one dot product over all of k in OpenBLAS's order.
void runGemmSlices(ThreadPool &pool, int slices, const GemmArgs &g);

/// c[0, n) = beta c as a BLAS call leaves it before adding a product: zeros
/// when beta is 0 (whatever c held, NaN included), c itself when beta is 1.
void scaleByBeta(float beta, int64_t n, float *c);

/// C = alpha op(A) B + beta C (B not transposed) as one run
/// of scaled rows per row of C: fma(alpha a_ri, B_i, .) for i = 0 .. k-1 in
/// order (addScaledRows). For short k only: feedback from a 10-unit output
/// layer every time step, where OpenBLAS's sgemv took about 0.9 us for
/// [1, 10] x [10, 500] (9% of a spiking Guerguiev example) and one pass a
/// fraction of that.
void scaledRowsProduct(const GemmArgs &g);

/// How many slices the Executor gives an op on a pool of `threads`: 1 below
/// the thresholds in bdl/executor.h.
int kernelSlices(int64_t rows, int64_t cols, int threads);
int gemmSlices(const GemmArgs &g, int threads);

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_PARALLEL_H
