//===- backend/Device.cpp - The CPU or a GPU behind one interface --------===//
#include "bdl/device.h"
#include "bdl/executor.h"
#include "bdl/model.h"

#include "cuda/Executor.h"

#include <charconv>
#include <memory>

namespace bdl {

std::string Device::spelling() const {
  if (kind == Kind::Cpu)
    return "cpu";
  return index == kAnyGpu ? "cuda" : "cuda:" + std::to_string(index);
}

Device parseDevice(std::string_view text) {
  Device d;
  if (text == "cpu")
    return d;
  if (text.substr(0, 4) == "cuda") {
    d.kind = Device::Kind::Cuda;
    std::string_view rest = text.substr(4);
    if (rest.empty())
      return d;
    if (rest[0] == ':' && rest.size() > 1) {
      auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), d.index);
      if (ec == std::errc() && end == rest.data() + rest.size() && d.index >= 0)
        return d;
    }
  }
  throw UsageError("--device: '" + std::string(text) +
                   "' is not a device: use cpu, cuda (GPU 0, or the MPI local rank's) or cuda:N");
}

namespace exec {
namespace {

struct State {
  Device device;
  ModelInstance *instance = nullptr; // the one the GPU holds
  std::unique_ptr<cuda::DeviceModel> gpu;
};

/// Never destroyed: at exit the driver's own statics may be gone before
/// ours, and the end of the process frees the device memory anyway.
State &state() {
  static State *s = new State;
  return *s;
}

cuda::DeviceModel *gpuOf(const ModelInstance &instance) {
  State &s = state();
  return s.gpu && s.instance == &instance ? s.gpu.get() : nullptr;
}

} // namespace

void probeDevice(const BdlModel &model, const Device &device) {
  if (device.kind == Device::Kind::Cuda)
    cuda::DeviceModel::probe(model, device.index);
}

void useDevice(ModelInstance &instance, const Device &device) {
  State &s = state();
  s.gpu.reset();
  s.instance = nullptr;
  s.device = Device{};
  if (device.kind == Device::Kind::Cuda) {
    s.gpu = std::make_unique<cuda::DeviceModel>(instance, device.index);
    s.instance = &instance;
  }
  s.device = device;
}

const Device &current() { return state().device; }

std::string describeCurrent() {
  State &s = state();
  return s.gpu ? s.gpu->description() : s.device.spelling();
}

void runBlocks(ModelInstance &instance, const BdlBlock *blocks, int32_t numBlocks,
               bool evaluation) {
  if (cuda::DeviceModel *gpu = gpuOf(instance))
    gpu->run(instance, blocks, numBlocks, evaluation);
  else
    cpu::runBlocks(instance, blocks, numBlocks, evaluation);
}

void hostWrote(ModelInstance &instance, int tensor) {
  int32_t role = instance.model().tensors[tensor].role;
  cpu::invalidateCaches(role == BDL_ROLE_WEIGHT || role == BDL_ROLE_FIXED);
  if (cuda::DeviceModel *gpu = gpuOf(instance))
    gpu->upload(instance, tensor);
}

void hostWroteAll(ModelInstance &instance) {
  cpu::invalidateCaches();
  if (cuda::DeviceModel *gpu = gpuOf(instance))
    for (int i = 0; i < instance.model().numTensors; ++i)
      gpu->upload(instance, i);
}

void toHost(ModelInstance &instance, int tensor) {
  if (cuda::DeviceModel *gpu = gpuOf(instance))
    gpu->download(instance, tensor);
}

void toHostAll(ModelInstance &instance) {
  if (cuda::DeviceModel *gpu = gpuOf(instance))
    for (int i = 0; i < instance.model().numTensors; ++i)
      gpu->download(instance, i);
}

} // namespace exec
} // namespace bdl
