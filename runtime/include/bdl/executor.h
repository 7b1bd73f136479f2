//===- bdl/executor.h - Walking a model's blocks on the CPU -----*- C++ -*-===//
#ifndef BDL_EXECUTOR_H
#define BDL_EXECUTOR_H

#include "bdl/abi.h"

#include <cstdint>

namespace bdl {

class ModelInstance;

namespace cpu {

/// Kernels with at least this many elements are split over rows between
/// threads; smaller ones cost more to hand out than to run. MEASURED-KERNEL
constexpr int64_t kParallelKernelElements = 16384;

/// GEMMs of at least this many flops (2 m n k) are split into bands of C,
/// one per thread; smaller ones run whole on the calling thread. MEASURED-GEMM
constexpr int64_t kParallelGemmFlops = 1 << 20;

/// Runs each block `steps` times, its ops in order. GEMMs go to cblas_sgemm;
/// shapes are checked against the current batch size and a mismatch throws
/// bdl::Error naming the op.
void runBlocks(ModelInstance &instance, const BdlBlock *blocks, int32_t numBlocks);

/// Sets the size of the thread pool that runs kernels and GEMMs; OpenBLAS
/// itself is kept single-threaded (docs/threads.md). Until called, the pool
/// uses every hardware thread.
void setThreads(int threads);

/// The kernel thread pool's size, the calling thread included.
int threads();

} // namespace cpu
} // namespace bdl

#endif // BDL_EXECUTOR_H
