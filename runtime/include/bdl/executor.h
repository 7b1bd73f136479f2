//===- bdl/executor.h - Walking a model's blocks on the CPU -----*- C++ -*-===//
#ifndef BDL_EXECUTOR_H
#define BDL_EXECUTOR_H

#include "bdl/abi.h"

#include <cstdint>

namespace bdl {

class ModelInstance;

namespace cpu {

/// Kernels with at least this many elements are split over rows between
/// OpenMP threads; smaller ones cost more to fork than to run.
constexpr int64_t kParallelKernelElements = 16384;

/// Runs each block `steps` times, its ops in order. GEMMs go to cblas_sgemm;
/// shapes are checked against the current batch size and a mismatch throws
/// bdl::Error naming the op.
void runBlocks(ModelInstance &instance, const BdlBlock *blocks, int32_t numBlocks);

/// Sets the thread count of both OpenMP (kernels) and OpenBLAS (GEMMs).
void setThreads(int threads);

} // namespace cpu
} // namespace bdl

#endif // BDL_EXECUTOR_H
