//===- backend/cuda/Driver.h - The CUDA driver and cuBLAS, loaded at run time -*- C++ -*-===//
//
// Every binary starts on any machine: nothing here is linked against the
// CUDA toolkit. libcuda.so.1 (the driver, which comes with the NVIDIA
// kernel module, not with the toolkit) and cuBLAS are opened with dlopen
// the first time a GPU is asked for, and the few entry points the backend
// uses are declared here from the driver API's documented signatures.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CUDA_DRIVER_H
#define BDL_BACKEND_CUDA_DRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace bdl::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using cublasHandle_t = struct cublasContext *;
using cublasStatus_t = int;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;

/// The entry points, resolved once; null members mean "not loaded".
struct Api {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int len, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module, const char *name);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuMemAlloc)(CUdeviceptr *pointer, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr pointer);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
  CUresult (*cuMemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
  CUresult (*cuMemsetD32)(CUdeviceptr dst, unsigned value, size_t count);
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned gridX, unsigned gridY, unsigned gridZ,
                             unsigned blockX, unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream, void **params, void **extra);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);

  cublasStatus_t (*cublasCreate)(cublasHandle_t *handle);
  cublasStatus_t (*cublasDestroy)(cublasHandle_t handle);
  cublasStatus_t (*cublasSgemm)(cublasHandle_t handle, int transA, int transB, int m, int n, int k,
                                const float *alpha, const float *a, int lda, const float *b,
                                int ldb, const float *beta, float *c, int ldc);
};

/// The driver and cuBLAS, loaded on first use. Throws NoDeviceError naming
/// what is missing (the driver library, a symbol, cuInit's error).
const Api &api();

/// Throws bdl::Error "<what>: CUDA_ERROR_..." unless `result` is success.
void check(CUresult result, const std::string &what);

} // namespace bdl::cuda

#endif // BDL_BACKEND_CUDA_DRIVER_H
