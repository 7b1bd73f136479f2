//===- test/gpu/fake/FakeCuda.cpp - A CUDA driver and cuBLAS on the host --===//
//
// Built twice, as libcuda.so.1 and as libcublas.so.13, for tests that put
// this directory first on LD_LIBRARY_PATH: the runtime's CUDA backend then
// runs for real (dlopen, every driver call, the device memory it manages,
// its launches and its cuBLAS calls) on a machine without a GPU.
//
// "Device memory" is host memory, bounds-checked per allocation. A module
// is the PTX text the runtime loads; cuModuleGetFunction requires the entry
// to be in it, then returns the executable's CPU kernel of the same name
// (the kernels are exported for this), which cuLaunchKernel calls with the
// launch's parameters: what runs is the CPU's code, but through the GPU
// path's descriptors, tables and contexts. cublasSgemm is computed by
// OpenBLAS in column-major order, as cuBLAS defines it, so a mistake in the
// runtime's row-major-to-column-major mapping gives wrong numbers here too.
//
// FAKE_CUDA_NO_DEVICE=1 makes cuInit fail as on a machine without a GPU;
// FAKE_CUDA_LOG=1 prints every call to stderr.
//
//===----------------------------------------------------------------------===//
#include "bdl/abi.h"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <string>

namespace {

using CUresult = int;
using CUdeviceptr = unsigned long long;

constexpr CUresult kSuccess = 0, kInvalidValue = 1, kOutOfMemory = 2, kNoDevice = 100,
                   kInvalidPtx = 218, kNotFound = 500, kLaunchOutOfResources = 701;

bool logging() {
  static bool on = std::getenv("FAKE_CUDA_LOG") != nullptr;
  return on;
}

#define LOG(...)                                                                                   \
  do {                                                                                             \
    if (logging())                                                                                 \
      std::fprintf(stderr, "fake-cuda: " __VA_ARGS__);                                             \
  } while (0)

/// Live allocations: start -> size in bytes.
std::map<uintptr_t, size_t> &allocations() {
  static std::map<uintptr_t, size_t> a;
  return a;
}

/// Whether [p, p + bytes) lies inside one allocation of this copy.
bool insideHere(CUdeviceptr p, size_t bytes) {
  auto &a = allocations();
  auto it = a.upper_bound(uintptr_t(p));
  if (it == a.begin())
    return false;
  --it;
  return uintptr_t(p) >= it->first && uintptr_t(p) + bytes <= it->first + it->second;
}

extern "C" bool fake_cuda_inside(CUdeviceptr p, size_t bytes) { return insideHere(p, bytes); }

/// Whether [p, p + bytes) was allocated by cuMemAlloc. The library is loaded
/// twice (as the driver and as cuBLAS), each copy with its own statics: the
/// allocations are the driver copy's.
bool inside(CUdeviceptr p, size_t bytes) {
  static auto driverInside = [] {
    void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    void *f = driver ? dlsym(driver, "fake_cuda_inside") : nullptr;
    return f ? reinterpret_cast<bool (*)(CUdeviceptr, size_t)>(f) : &insideHere;
  }();
  return driverInside(p, bytes);
}

struct Module {
  std::string ptx;
};

} // namespace

extern "C" {

CUresult cuInit(unsigned) {
  LOG("cuInit\n");
  return std::getenv("FAKE_CUDA_NO_DEVICE") ? kNoDevice : kSuccess;
}

CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}

CUresult cuDeviceGet(int *device, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *device = 0;
  return kSuccess;
}

CUresult cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, size_t(len), "%s", "fake GPU (host memory, test/gpu/fake)");
  return kSuccess;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  if (attribute == 75) // compute capability major
    *value = 9;
  else if (attribute == 76)
    *value = 0;
  else
    return kInvalidValue;
  return kSuccess;
}

CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  static int dummy;
  *context = &dummy;
  return kSuccess;
}

CUresult cuCtxSetCurrent(void *) { return kSuccess; }
CUresult cuCtxSynchronize() { return kSuccess; }

CUresult cuModuleLoadData(void **module, const void *image) {
  const char *text = static_cast<const char *>(image);
  if (!text || !std::strstr(text, ".version") || !std::strstr(text, ".target sm_"))
    return kInvalidPtx;
  *module = new Module{text};
  LOG("cuModuleLoadData: %zu bytes of PTX\n", std::strlen(text));
  return kSuccess;
}

CUresult cuModuleUnload(void *module) {
  delete static_cast<Module *>(module);
  return kSuccess;
}

CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
  const std::string &ptx = static_cast<Module *>(module)->ptx;
  if (ptx.find(".entry " + std::string(name) + "(") == std::string::npos)
    return kNotFound;
  *function = dlsym(RTLD_DEFAULT, name);
  LOG("cuModuleGetFunction %s -> %p\n", name, *function);
  return *function ? kSuccess : kNotFound;
}

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  size_t rounded = (bytes + 255) / 256 * 256;
  void *p = std::aligned_alloc(256, rounded ? rounded : 256);
  if (!p)
    return kOutOfMemory;
  std::memset(p, 0xff, rounded); // device memory starts as garbage (NaN floats)
  allocations()[uintptr_t(p)] = bytes;
  *pointer = CUdeviceptr(uintptr_t(p));
  return kSuccess;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
  if (!allocations().erase(uintptr_t(pointer)))
    return kInvalidValue;
  std::free(reinterpret_cast<void *>(pointer));
  return kSuccess;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  if (!inside(dst, bytes))
    return kInvalidValue;
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return kSuccess;
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  if (!inside(src, bytes))
    return kInvalidValue;
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return kSuccess;
}

CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned value, size_t count) {
  if (!inside(dst, count * 4))
    return kInvalidValue;
  auto *p = reinterpret_cast<unsigned *>(dst);
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return kSuccess;
}

CUresult cuLaunchKernel(void *function, unsigned gridX, unsigned gridY, unsigned gridZ,
                        unsigned blockX, unsigned blockY, unsigned blockZ, unsigned, void *,
                        void **params, void **extra) {
  if (!function || !params || extra || gridX == 0 || gridY != 1 || gridZ != 1 || blockX == 0 ||
      blockX > 1024 || blockY != 1 || blockZ != 1)
    return kInvalidValue;
  int64_t rowBegin = *static_cast<int64_t *>(params[0]);
  int64_t rowEnd = *static_cast<int64_t *>(params[1]);
  int64_t cols = *static_cast<int64_t *>(params[2]);
  CUdeviceptr tensors = *static_cast<CUdeviceptr *>(params[3]);
  CUdeviceptr hp = *static_cast<CUdeviceptr *>(params[4]);
  CUdeviceptr ctx = *static_cast<CUdeviceptr *>(params[5]);
  if (!inside(tensors, 8) || !inside(hp, 4 * BDL_HP_FIRST_PARAM) ||
      !inside(ctx, sizeof(BdlContext)))
    return kInvalidValue;
  // The launch must cover the kernel's points (a grid-stride kernel covers
  // them with any grid, but the runtime promises one thread per point).
  if (uint64_t(gridX) * blockX < uint64_t(rowEnd - rowBegin) * uint64_t(cols) &&
      gridX < 0x7fffffffu)
    return kLaunchOutOfResources;
  LOG("cuLaunchKernel rows [%lld, %lld) x %lld, grid %u x %u\n", (long long)rowBegin,
      (long long)rowEnd, (long long)cols, gridX, blockX);
  auto kernel = reinterpret_cast<BdlKernelFn>(function);
  kernel(rowBegin, rowEnd, cols, reinterpret_cast<float *const *>(tensors),
         reinterpret_cast<const float *>(hp), reinterpret_cast<const BdlContext *>(ctx));
  return kSuccess;
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  static const std::map<CUresult, const char *> names = {
      {kSuccess, "CUDA_SUCCESS"},
      {kInvalidValue, "CUDA_ERROR_INVALID_VALUE"},
      {kOutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY"},
      {kNoDevice, "CUDA_ERROR_NO_DEVICE"},
      {kInvalidPtx, "CUDA_ERROR_INVALID_PTX"},
      {kNotFound, "CUDA_ERROR_NOT_FOUND"},
      {kLaunchOutOfResources, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"}};
  auto it = names.find(error);
  *name = it == names.end() ? nullptr : it->second;
  return it == names.end() ? kInvalidValue : kSuccess;
}

// cuBLAS (v2 API), column-major as documented.
int cublasCreate_v2(void **handle) {
  static int dummy;
  *handle = &dummy;
  return 0;
}

int cublasDestroy_v2(void *) { return 0; }

int cublasSgemm_v2(void *, int transA, int transB, int m, int n, int k, const float *alpha,
                   const float *a, int lda, const float *b, int ldb, const float *beta, float *c,
                   int ldc) {
  // Column-major: op(A) is m x k, op(B) k x n, C m x n; A has lda >= its
  // stored rows (m untransposed, k transposed), likewise B and C.
  int rowsA = transA ? k : m, colsA = transA ? m : k;
  int rowsB = transB ? n : k, colsB = transB ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, rowsA) || ldb < std::max(1, rowsB) ||
      ldc < std::max(1, m))
    return 7; // CUBLAS_STATUS_INVALID_VALUE
  auto fits = [](const float *p, int ld, int cols) {
    return cols == 0 || inside(CUdeviceptr(uintptr_t(p)), size_t(ld) * size_t(cols - 1) * 4 + 4);
  };
  if (!fits(a, lda, colsA) || !fits(b, ldb, colsB) || !fits(c, ldc, n))
    return 7;
  LOG("cublasSgemm %c%c m %d n %d k %d\n", transA ? 'T' : 'N', transB ? 'T' : 'N', m, n, k);
  cblas_sgemm(CblasColMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              m, n, k, *alpha, a, lda, b, ldb, *beta, c, ldc);
  return 0;
}

} // extern "C"
