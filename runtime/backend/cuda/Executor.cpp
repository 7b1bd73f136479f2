//===- backend/cuda/Executor.cpp - Blocks on a GPU -----------------------===//
#include "Executor.h"

#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

namespace bdl::cuda {
namespace {

constexpr unsigned kBlockThreads = 256;

/// sm_80 -> 80.
int archNumber(const char *arch) {
  if (!arch || std::strncmp(arch, "sm_", 3) != 0)
    return 0;
  return std::atoi(arch + 3);
}

template <typename F> void forEachOp(const BdlModel &m, F f) {
  for (auto [blocks, n] :
       {std::pair{m.trainBlocks, m.numTrainBlocks}, {m.evalBlocks, m.numEvalBlocks}})
    for (int32_t b = 0; b < n; ++b) {
      for (int32_t o = 0; o < blocks[b].numPrologueOps; ++o)
        f(blocks[b].prologueOps[o]);
      for (int32_t o = 0; o < blocks[b].numOps; ++o)
        f(blocks[b].ops[o]);
    }
}

/// This process's rank among those of its host under mpirun or srun, or 0.
int localRank() {
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char *v = std::getenv(name); v && *v)
      return std::max(0, std::atoi(v));
  return 0;
}

} // namespace

DeviceModel::Probe DeviceModel::probe(const BdlModel &m, int ordinal) {
  // A binary without PTX is a usage error wherever it runs: checked first.
  if (!m.ptx)
    throw UsageError(std::string("this binary carries no PTX: compile the model with `bdlc "
                                 "--target=cuda` to train it on a GPU (") +
                     (m.sourceFile ? m.sourceFile : m.name) + ")");
  const Api &api = cuda::api();
  int count = 0;
  check(api.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (ordinal == Device::kAnyGpu)
    ordinal = count > 0 ? localRank() % count : 0;
  if (ordinal < 0 || ordinal >= count)
    throw NoDeviceError("cuda:" + std::to_string(ordinal) + ": this machine has " +
                        std::to_string(count) + " GPU" + (count == 1 ? "" : "s"));
  Probe p;
  check(api.cuDeviceGet(&p.device, ordinal), "cuDeviceGet");
  char name[256] = {};
  check(api.cuDeviceGetName(name, int(sizeof name) - 1, p.device), "cuDeviceGetName");
  int major = 0, minor = 0;
  check(api.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, p.device),
        "cuDeviceGetAttribute");
  check(api.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, p.device),
        "cuDeviceGetAttribute");
  int gpuArch = major * 10 + minor, ptxArch = archNumber(m.ptxArch);
  if (gpuArch < ptxArch)
    throw NoDeviceError("cuda:" + std::to_string(ordinal) + " (" + name + ") is sm_" +
                        std::to_string(gpuArch) + ", but this binary's PTX is for " + m.ptxArch +
                        " or newer");
  p.description = "cuda:" + std::to_string(ordinal) + " " + name + " (sm_" +
                  std::to_string(gpuArch) + "), PTX " + m.ptxArch +
                  (gpuArch != ptxArch ? " (the driver JIT-compiles it for this GPU)" : "");
  return p;
}

DeviceModel::DeviceModel(ModelInstance &inst, int ordinal) : api(cuda::api()) {
  const BdlModel &m = inst.model();
  Probe found = probe(m, ordinal);
  CUdevice device = found.device;
  about = found.description;

  CUcontext context = nullptr;
  check(api.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  check(api.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(api.cuModuleLoadData(&module, m.ptx), "loading the model's PTX (cuModuleLoadData)");
  forEachOp(m, [&](const BdlOp &op) {
    if (op.kind != BDL_OP_KERNEL)
      return;
    if (!op.symbol)
      throw Error(std::string("kernel '") + (op.name ? op.name : "?") + "' has no symbol");
    CUfunction f = nullptr;
    check(api.cuModuleGetFunction(&f, module, op.symbol),
          std::string("PTX entry ") + op.symbol + " (cuModuleGetFunction)");
    functions[&op] = f;
  });
  if (api.cublasCreate(&blas) != 0)
    throw NoDeviceError("cublasCreate failed on " + about);

  table.assign(size_t(m.numTensors), 0);
  for (int i = 0; i < m.numTensors; ++i) {
    check(api.cuMemAlloc(&table[size_t(i)], std::max<size_t>(inst.capacity(i), 1) * sizeof(float)),
          std::string("allocating tensor '") + m.tensors[i].name + "' on " + about);
    upload(inst, i);
  }
  hpBytes = size_t(BDL_HP_FIRST_PARAM + m.numParams) * sizeof(float);
  check(api.cuMemAlloc(&hp, hpBytes), "allocating hp");
}

DeviceModel::~DeviceModel() {
  // The process is ending or moving to another device: free what we hold,
  // ignoring errors (a lost device cannot be cleaned up any better).
  for (CUdeviceptr p : table)
    api.cuMemFree(p);
  for (const auto &t : tables)
    api.cuMemFree(t.second);
  if (hp)
    api.cuMemFree(hp);
  if (contexts)
    api.cuMemFree(contexts);
  if (blas)
    api.cublasDestroy(blas);
  if (module)
    api.cuModuleUnload(module);
}

void DeviceModel::upload(const ModelInstance &inst, int tensor) {
  check(api.cuMemcpyHtoD(table[size_t(tensor)], inst.data(tensor),
                         inst.capacity(tensor) * sizeof(float)),
        std::string("copying '") + inst.model().tensors[tensor].name + "' to the GPU");
}

void DeviceModel::download(ModelInstance &inst, int tensor) {
  check(api.cuMemcpyDtoH(inst.data(tensor), table[size_t(tensor)],
                         inst.capacity(tensor) * sizeof(float)),
        std::string("copying '") + inst.model().tensors[tensor].name + "' from the GPU");
}

CUdeviceptr DeviceModel::currentTable() {
  if (tableNow)
    return tableNow;
  auto [it, added] = tables.try_emplace(table, 0);
  if (added) {
    check(api.cuMemAlloc(&it->second, table.size() * sizeof(CUdeviceptr)), "a tensor table");
    check(api.cuMemcpyHtoD(it->second, table.data(), table.size() * sizeof(CUdeviceptr)),
          "uploading a tensor table");
  }
  return tableNow = it->second;
}

void DeviceModel::launch(ModelInstance &inst, const BdlOp &op, CUdeviceptr ctx) {
  int64_t rowBegin = 0, rowEnd = inst.resolve(op.rows), cols = inst.resolve(op.cols);
  uint64_t points = uint64_t(std::max<int64_t>(rowEnd, 0)) * uint64_t(std::max<int64_t>(cols, 0));
  if (points == 0)
    return;
  // Grid-stride kernels: any grid covers the space; 2^31 - 1 is the limit.
  uint64_t grid = std::min<uint64_t>((points + kBlockThreads - 1) / kBlockThreads, 0x7fffffffu);
  CUdeviceptr tensors = currentTable();
  void *params[] = {&rowBegin, &rowEnd, &cols, &tensors, &hp, &ctx};
  check(api.cuLaunchKernel(functions.at(&op), unsigned(grid), 1, 1, kBlockThreads, 1, 1, 0, nullptr,
                           params, nullptr),
        std::string("launching kernel '") + (op.name ? op.name : "?") + "'");
}

void DeviceModel::runKernel(ModelInstance &inst, const BdlOp &op, const BdlContext &ctx) {
  check(api.cuMemcpyHtoD(hp, inst.hp(), hpBytes), "uploading hp");
  if (contextCapacity < 1) {
    contextCapacity = 1;
    check(api.cuMemAlloc(&contexts, sizeof(BdlContext)), "contexts");
  }
  check(api.cuMemcpyHtoD(contexts, &ctx, sizeof ctx), "uploading a context");
  launch(inst, op, contexts);
  check(api.cuCtxSynchronize(), std::string("kernel '") + (op.name ? op.name : "?") + "'");
}

void DeviceModel::gemm(ModelInstance &inst, const BdlBlock &block, const BdlOp &op) {
  GemmShape g = gemmShape(inst, block, op);
  if (g.m == 0 || g.n == 0)
    return;
  auto at = [&](int32_t t) { return reinterpret_cast<float *>(table[size_t(t)]); };
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
  int status =
      api.cublasSgemm(blas, g.transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                      g.transA ? CUBLAS_OP_T : CUBLAS_OP_N, int(g.n), int(g.m), int(g.k), &g.alpha,
                      at(op.b), int(g.ldb), at(op.a), int(g.lda), &g.beta, at(op.c), int(g.ldc));
  if (status != 0)
    throw Error(std::string("cuBLAS sgemm failed (status ") + std::to_string(status) + ") in '" +
                (op.name ? op.name : "?") + "'");
}

void DeviceModel::resetState(ModelInstance &inst) {
  const BdlModel &m = inst.model();
  inst.resetState(); // the host mirror and the time
  for (int i = 0; i < m.numTensors; ++i)
    if (const BdlTensorDesc &t = m.tensors[i]; t.role == BDL_ROLE_STATE) {
      float v = t.init == BDL_INIT_CONST ? t.initA : 0.0f;
      check(api.cuMemsetD32(table[size_t(i)], std::bit_cast<uint32_t>(v),
                            size_t(inst.rows(i) * inst.cols(i))),
            std::string("resetting '") + t.name + "'");
    }
}

void DeviceModel::run(ModelInstance &inst, const BdlBlock *blocks, int32_t numBlocks,
                      bool evaluation) {
  check(api.cuMemcpyHtoD(hp, inst.hp(), hpBytes), "uploading hp");
  BdlContext ctx{};
  ctx.seed = inst.seed();
  ctx.example0 = inst.example0();
  cpu::StepObserver *observer = cpu::currentStepObserver();
  std::vector<BdlContext> steps;
  int32_t monitorBlocks = 0;
  for (int32_t b = 0; b < numBlocks; ++b) {
    const BdlBlock &block = blocks[b];
    MonitorBlockScope monitorScope(inst, block, monitorBlocks);
    if (monitorScope.skip)
      continue;
    if (block.resetState)
      resetState(inst);
    ctx.block = monitorScope.index(b) | (evaluation ? BDL_EVAL_BLOCK : 0);
    ctx.time = inst.time();
    ctx.step = 0;
    ctx.steps = 0;
    int32_t n = blockSteps(inst, block, ctx);
    ctx.steps = n;
    // Context 0 is the prologue's, context 1 + s step s's.
    steps.assign(size_t(n) + 1, ctx);
    for (int32_t s = 0; s < n; ++s)
      steps[size_t(s) + 1].step = s, steps[size_t(s) + 1].time = ctx.time + s;
    if (steps.size() > contextCapacity) {
      if (contexts)
        api.cuMemFree(contexts);
      contextCapacity = std::max(steps.size(), 2 * contextCapacity);
      check(api.cuMemAlloc(&contexts, contextCapacity * sizeof(BdlContext)), "contexts");
    }
    check(api.cuMemcpyHtoD(contexts, steps.data(), steps.size() * sizeof(BdlContext)),
          "uploading a block's contexts");
    auto runOps = [&](const BdlOp *ops, int32_t count, size_t context) {
      CUdeviceptr c = contexts + context * sizeof(BdlContext);
      for (int32_t o = 0; o < count; ++o) {
        const BdlOp &op = ops[o];
        if (!cpu::opRuns(inst, op))
          continue;
        switch (op.kind) {
        case BDL_OP_KERNEL:
          launch(inst, op, c);
          break;
        case BDL_OP_GEMM:
          gemm(inst, block, op);
          break;
        case BDL_OP_ROTATE:
          std::rotate(table.begin() + op.a, table.begin() + op.a + op.b - 1,
                      table.begin() + op.a + op.b);
          inst.rotate(op.a, op.b);
          tableNow = 0;
          break;
        case BDL_OP_IMAGE:
          // No device kernels for these yet: on the host, between a download
          // of the operands and an upload of the result (docs/gpu.md).
          download(inst, op.a);
          if (op.image == BDL_IMAGE_MAXPOOL_ADJOINT)
            download(inst, op.b);
          runImageOp(inst, op);
          upload(inst, op.c);
          break;
        case BDL_OP_REPLAY:
          if (!evaluation && inst.replay(op.c)) {
            download(inst, op.c); // the rest of the tensor as drawn
            applyReplay(inst, block, op);
            upload(inst, op.c);
          }
          break;
        }
      }
    };
    runOps(block.prologueOps, block.numPrologueOps, 0);
    for (int32_t s = 0; s < n; ++s) {
      runOps(block.ops, block.numOps, size_t(s) + 1);
      inst.setTime(ctx.time + s + 1);
      if (observer) {
        for (int i = 0; i < inst.model().numTensors; ++i)
          download(inst, i);
        BdlContext at = steps[size_t(s) + 1];
        observer->afterStep(inst, at);
      }
    }
  }
}

} // namespace bdl::cuda
