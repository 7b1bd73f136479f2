//===- backend/cuda/Executor.h - Blocks on a GPU ----------------*- C++ -*-===//
#ifndef BDL_BACKEND_CUDA_EXECUTOR_H
#define BDL_BACKEND_CUDA_EXECUTOR_H

#include "Driver.h"

#include "bdl/abi.h"

#include <map>
#include <string>
#include <vector>

namespace bdl {
class ModelInstance;
}

namespace bdl::cuda {

/// One instance's tensors on GPU `ordinal` and the kernels of its PTX.
///
/// Every tensor has a device buffer of the host buffer's capacity; the
/// device's tensor table rotates with the host's (BDL_OP_ROTATE), so tensor
/// i's device buffer always mirrors inst.data(i). Kernels are launched with
/// 256-thread blocks over their rows x cols (the kernels loop grid-stride,
/// cuda/KernelEmitter.h); GEMMs go to cuBLAS as the column-major product
/// C^T = op(B)^T op(A)^T. A block's contexts (one per step) go up in one
/// copy before it runs, and the tensor tables a block's rotations produce
/// are uploaded once each and reused (the rotations of a history repeat), so
/// a phase's steps are launched back to back without a host round trip.
class DeviceModel {
public:
  /// Checks that `m` can run on GPU `ordinal` (PTX present, driver, GPU,
  /// architecture) without touching it; throws UsageError / NoDeviceError.
  struct Probe {
    CUdevice device = 0;
    std::string description;
  };
  static Probe probe(const BdlModel &m, int ordinal);

  DeviceModel(ModelInstance &inst, int ordinal);
  ~DeviceModel();
  DeviceModel(const DeviceModel &) = delete;
  DeviceModel &operator=(const DeviceModel &) = delete;

  void run(ModelInstance &inst, const BdlBlock *blocks, int32_t numBlocks, bool evaluation);
  /// One kernel op alone, with context `ctx`, then waits for it (selftest).
  void runKernel(ModelInstance &inst, const BdlOp &op, const BdlContext &ctx);
  void upload(const ModelInstance &inst, int tensor);
  void download(ModelInstance &inst, int tensor);
  /// "cuda:0 NVIDIA H200 (sm_90), PTX sm_80 (the driver JIT-compiles it)".
  const std::string &description() const { return about; }

private:
  void launch(ModelInstance &inst, const BdlOp &op, CUdeviceptr ctx);
  void gemm(ModelInstance &inst, const BdlBlock &block, const BdlOp &op);
  void resetState(ModelInstance &inst);
  /// The device copy of the current tensor table (uploaded on first use).
  CUdeviceptr currentTable();

  const Api &api;
  std::string about;
  CUmodule module = nullptr;
  cublasHandle_t blas = nullptr;
  std::map<const BdlOp *, CUfunction> functions;
  std::vector<CUdeviceptr> table; // tensor i's device buffer, rotated like the host's
  std::map<std::vector<CUdeviceptr>, CUdeviceptr> tables;
  CUdeviceptr tableNow = 0; // 0: the current table has not been looked up
  CUdeviceptr hp = 0;
  size_t hpBytes = 0;
  CUdeviceptr contexts = 0;
  size_t contextCapacity = 0; // BdlContexts
};

} // namespace bdl::cuda

#endif // BDL_BACKEND_CUDA_EXECUTOR_H
