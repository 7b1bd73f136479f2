//===- backend/cuda/Driver.cpp - dlopen of libcuda and cuBLAS ------------===//
#include "Driver.h"

#include "bdl/device.h"
#include "bdl/error.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace bdl::cuda {
namespace {

void *openFirst(const std::vector<std::string> &names, std::string &tried) {
  for (const std::string &name : names) {
    if (void *h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL))
      return h;
    const char *why = dlerror();
    tried += (tried.empty() ? "" : "; ") + (why ? std::string(why) : name);
  }
  return nullptr;
}

template <typename F> void resolve(void *library, const char *symbol, F &out, const char *from) {
  out = reinterpret_cast<F>(dlsym(library, symbol));
  if (!out)
    throw NoDeviceError(std::string(from) + " has no symbol " + symbol +
                        " (a driver or cuBLAS older than this runtime expects)");
}

Api load() {
  Api a{};
  std::string tried;
  void *driver = openFirst({"libcuda.so.1"}, tried);
  if (!driver)
    throw NoDeviceError("no CUDA driver: cannot load libcuda.so.1, which comes with the NVIDIA "
                        "driver (" +
                        tried + ")");
  const char *lib = "libcuda.so.1";
  resolve(driver, "cuInit", a.cuInit, lib);
  resolve(driver, "cuDeviceGetCount", a.cuDeviceGetCount, lib);
  resolve(driver, "cuDeviceGet", a.cuDeviceGet, lib);
  resolve(driver, "cuDeviceGetName", a.cuDeviceGetName, lib);
  resolve(driver, "cuDeviceGetAttribute", a.cuDeviceGetAttribute, lib);
  resolve(driver, "cuDevicePrimaryCtxRetain", a.cuDevicePrimaryCtxRetain, lib);
  resolve(driver, "cuCtxSetCurrent", a.cuCtxSetCurrent, lib);
  resolve(driver, "cuCtxSynchronize", a.cuCtxSynchronize, lib);
  resolve(driver, "cuModuleLoadData", a.cuModuleLoadData, lib);
  resolve(driver, "cuModuleGetFunction", a.cuModuleGetFunction, lib);
  resolve(driver, "cuModuleUnload", a.cuModuleUnload, lib);
  // The _v2 entry points are the 64-bit ones cuda.h maps the names to.
  resolve(driver, "cuMemAlloc_v2", a.cuMemAlloc, lib);
  resolve(driver, "cuMemFree_v2", a.cuMemFree, lib);
  resolve(driver, "cuMemcpyHtoD_v2", a.cuMemcpyHtoD, lib);
  resolve(driver, "cuMemcpyDtoH_v2", a.cuMemcpyDtoH, lib);
  resolve(driver, "cuMemsetD32_v2", a.cuMemsetD32, lib);
  resolve(driver, "cuLaunchKernel", a.cuLaunchKernel, lib);
  resolve(driver, "cuGetErrorName", a.cuGetErrorName, lib);

  // cuBLAS's soname carries its major version; the toolkit's lib64 is not
  // on the loader's path by default, so CUDA_HOME is tried too.
  std::vector<std::string> blasNames;
  for (const char *v : {"13", "12", "11"})
    blasNames.push_back(std::string("libcublas.so.") + v);
  if (const char *home = std::getenv("CUDA_HOME"); home && *home)
    for (const char *v : {"13", "12", "11"})
      blasNames.push_back(std::string(home) + "/lib64/libcublas.so." + v);
  for (const char *v : {"13", "12", "11"})
    blasNames.push_back(std::string("/usr/local/cuda/lib64/libcublas.so.") + v);
  std::string blasTried;
  void *blas = openFirst(blasNames, blasTried);
  if (!blas)
    throw NoDeviceError("no cuBLAS: cannot load libcublas.so.13, .12 or .11 (install the CUDA "
                        "toolkit's cuBLAS or set CUDA_HOME; " +
                        blasTried + ")");
  resolve(blas, "cublasCreate_v2", a.cublasCreate, "cuBLAS");
  resolve(blas, "cublasDestroy_v2", a.cublasDestroy, "cuBLAS");
  resolve(blas, "cublasSgemm_v2", a.cublasSgemm, "cuBLAS");

  CUresult r = a.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char *name = nullptr;
    a.cuGetErrorName(r, &name);
    throw NoDeviceError(std::string("the CUDA driver found no usable GPU: cuInit failed with ") +
                        (name ? name : std::to_string(r).c_str()));
  }
  return a;
}

} // namespace

const Api &api() {
  static const Api instance = load();
  return instance;
}

void check(CUresult result, const std::string &what) {
  if (result == CUDA_SUCCESS)
    return;
  const char *name = nullptr;
  if (api().cuGetErrorName)
    api().cuGetErrorName(result, &name);
  throw Error(what + ": " + (name ? name : "CUDA error " + std::to_string(result)));
}

} // namespace bdl::cuda
