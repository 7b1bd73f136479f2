//===- bdl/device.h - Where a model's blocks run ----------------*- C++ -*-===//
//
// The trainer and the reports talk to the tensors of a ModelInstance through
// its host buffers. With `--device cuda` the blocks run on a GPU, against
// device copies of every tensor; the host buffers are then a mirror that
// these calls keep in step at the few points where the host reads or writes
// (a batch's input and target in, its predictions and loss out; weights
// loaded, saved, checkpointed or scanned for divergence). On the CPU every
// call but runBlocks is free.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_DEVICE_H
#define BDL_DEVICE_H

#include "bdl/abi.h"
#include "bdl/error.h"

#include <string>
#include <string_view>

namespace bdl {

class ModelInstance;

struct Device {
  enum class Kind { Cpu, Cuda } kind = Kind::Cpu;
  /// The GPU's ordinal for Cuda; kAnyGpu: the process's local rank (OpenMPI's
  /// OMPI_COMM_WORLD_LOCAL_RANK, MPICH's MPI_LOCALRANKID, Slurm's
  /// SLURM_LOCALID) modulo the GPUs, so that ranks spread over a host's
  /// GPUs round-robin; GPU 0 without one.
  int index = kAnyGpu;
  static constexpr int kAnyGpu = -1;
  /// "cpu", "cuda", "cuda:1".
  std::string spelling() const;
};

/// "cpu", "cuda" (kAnyGpu) or "cuda:N"; a UsageError otherwise.
Device parseDevice(std::string_view text);

/// The device cannot be used here: no NVIDIA driver, no GPU, an ordinal
/// past the last GPU, a GPU the binary's PTX cannot run on (exit code 4).
class NoDeviceError : public Error {
public:
  using Error::Error;
  int exitCode() const override { return ExitNoDevice; }
};

namespace exec {

/// Checks, before any data is loaded, that `model` can run on `device`
/// (useDevice's checks, without allocating anything); throws as it does.
void probeDevice(const BdlModel &model, const Device &device);

/// Runs `instance`'s blocks on `device` from now on (call it after the host
/// has initialised or loaded every tensor). For cuda: loads the driver
/// (libcuda.so.1) and cuBLAS with dlopen, loads the model's PTX, allocates
/// a device copy of every tensor and uploads them; throws NoDeviceError
/// when that is impossible, UsageError when the binary carries no PTX.
/// With MPI, `device.index` is the rank's GPU (see docs/gpu.md).
void useDevice(ModelInstance &instance, const Device &device);

/// The device in use ("cpu" until useDevice), and one line about it for
/// logs ("cpu", "cuda:0 NVIDIA H200 (sm_90), PTX sm_80 through the JIT").
const Device &current();
std::string describeCurrent();

/// cpu::runBlocks on the CPU; the same semantics on a GPU (bdl/executor.h).
void runBlocks(ModelInstance &instance, const BdlBlock *blocks, int32_t numBlocks,
               bool evaluation = false);

/// The host wrote tensor `tensor` (or every tensor): the next blocks must
/// see it. Forgets the CPU's caches of weights (cpu::invalidateCaches).
void hostWrote(ModelInstance &instance, int tensor);
void hostWroteAll(ModelInstance &instance);

/// The host is about to read tensor `tensor` (or every tensor).
void toHost(ModelInstance &instance, int tensor);
void toHostAll(ModelInstance &instance);

} // namespace exec
} // namespace bdl

#endif // BDL_DEVICE_H
