//===- backend/cuda/SelfTest.cpp - Every kernel on the GPU against the CPU -===//
//
// What the host index loop (bdlc --target=cuda-host) cannot prove: that the
// PTX the driver runs (libdevice's log and pow, the launch, the tables and
// contexts as the device sees them) computes what the CPU's kernels
// compute. Every kernel of the model runs once on the host and once on the
// device from the same inputs, and every tensor is compared afterwards.
//
//===----------------------------------------------------------------------===//
#include "Executor.h"

#include "bdl/device.h"
#include "bdl/model.h"
#include "bdl/rng.h"
#include "bdl/selftest.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace bdl {
namespace {

/// max |a - b| / max(1, |a|) over one tensor; NaN matches NaN.
double difference(const float *a, const float *b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i]))
      continue;
    if (a[i] == b[i])
      continue;
    double d = std::isfinite(a[i]) && std::isfinite(b[i])
                   ? std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(a[i])))
                   : INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

} // namespace

int runSelfTest(ModelInstance &inst, const Device &device, double tolerance, bool quiet) {
  const BdlModel &m = inst.model();
  cuda::DeviceModel gpu(inst, device.index);
  if (!quiet)
    std::printf("selftest: every kernel of %s on %s against the CPU's\n", m.name,
                gpu.description().c_str());
  std::vector<std::vector<float>> inputs(size_t(m.numTensors)), expected(size_t(m.numTensors));
  Philox rng(inst.seed(), rng_stream::selfTest());
  double largest = 0;
  std::string largestAt = "-";
  int kernels = 0, failed = 0;
  for (auto [blocks, n, eval] :
       {std::tuple{m.trainBlocks, m.numTrainBlocks, false}, {m.evalBlocks, m.numEvalBlocks, true}})
    for (int32_t b = 0; b < n; ++b)
      for (auto [ops, count] : {std::pair{blocks[b].prologueOps, blocks[b].numPrologueOps},
                                {blocks[b].ops, blocks[b].numOps}})
        for (int32_t o = 0; o < count; ++o) {
          const BdlOp &op = ops[o];
          if (op.kind != BDL_OP_KERNEL)
            continue;
          // Inputs in [0, 1): valid for every op (log, sqrt, rates, means).
          for (int t = 0; t < m.numTensors; ++t) {
            inputs[size_t(t)].resize(inst.capacity(t));
            for (float &v : inputs[size_t(t)])
              v = rng.uniform();
            std::copy(inputs[size_t(t)].begin(), inputs[size_t(t)].end(), inst.data(t));
          }
          BdlContext ctx{};
          ctx.seed = inst.seed();
          ctx.example0 = 12345;
          ctx.time = 7;
          ctx.step = 3;
          ctx.steps = 50;
          ctx.block = b | (eval ? BDL_EVAL_BLOCK : 0);
          op.fn(0, inst.resolve(op.rows), inst.resolve(op.cols), inst.tensorTable(), inst.hp(),
                &ctx);
          for (int t = 0; t < m.numTensors; ++t)
            expected[size_t(t)].assign(inst.data(t), inst.data(t) + inst.capacity(t));
          for (int t = 0; t < m.numTensors; ++t) {
            std::copy(inputs[size_t(t)].begin(), inputs[size_t(t)].end(), inst.data(t));
            gpu.upload(inst, t);
          }
          gpu.runKernel(inst, op, ctx);
          double worst = 0;
          std::string where;
          for (int t = 0; t < m.numTensors; ++t) {
            gpu.download(inst, t);
            double d = difference(expected[size_t(t)].data(), inst.data(t), inst.capacity(t));
            if (d > worst || where.empty())
              worst = std::max(worst, d), where = m.tensors[t].name;
          }
          ++kernels;
          bool ok = worst <= tolerance;
          failed += !ok;
          if (worst > largest || largestAt == "-")
            largest = std::max(largest, worst),
            largestAt = std::string(op.symbol) + " (" + where + ")";
          if (!quiet || !ok)
            std::printf("  %-40s [%lld x %lld]  %s  largest difference %.3g%s\n", op.symbol,
                        static_cast<long long>(inst.resolve(op.rows)),
                        static_cast<long long>(inst.resolve(op.cols)), ok ? "ok  " : "FAIL", worst,
                        worst == 0 ? " (bit for bit)" : "");
        }
  if (largest == 0)
    std::printf("selftest: %d kernels, every one bit for bit\n", kernels);
  else
    std::printf("selftest: %d kernels, %d above %.0e; largest difference %.3g in %s\n", kernels,
                failed, tolerance, largest, largestAt.c_str());
  return failed ? ExitFailure : ExitOk;
}

} // namespace bdl
