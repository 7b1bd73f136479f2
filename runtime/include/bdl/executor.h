//===- bdl/executor.h - Walking a model's blocks on the CPU -----*- C++ -*-===//
#ifndef BDL_EXECUTOR_H
#define BDL_EXECUTOR_H

#include "bdl/abi.h"

#include <cstdint>

namespace bdl {

class ModelInstance;

namespace cpu {

/// Kernels with at least this many elements are split over rows between
/// threads; smaller ones cost more to hand out than to run.
constexpr int64_t kParallelKernelElements = 16384;

/// Runs each block `steps` times, its ops in order. GEMMs go to cblas_sgemm;
/// shapes are checked against the current batch size and a mismatch throws
/// bdl::Error naming the op.
void runBlocks(ModelInstance &instance, const BdlBlock *blocks, int32_t numBlocks);

/// Sets the thread count of both the kernel thread pool and OpenBLAS
/// (GEMMs). Until called, kernels use every hardware thread.
void setThreads(int threads);

/// The kernel thread pool's size, the calling thread included.
int threads();

} // namespace cpu
} // namespace bdl

#endif // BDL_EXECUTOR_H
