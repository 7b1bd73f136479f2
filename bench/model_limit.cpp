//===- bench/model_limit.cpp - The machine's limit for one compiled model -===//
//
// Linked with a model's object file (bdlc MODEL --emit=obj) in place of the
// runtime's main, it prints how fast this machine could at best train that
// model at a batch size:
//
//   products  every GEMM of the training blocks at its shape for the batch,
//             each timed on its own with --threads threads both ways
//             OpenBLAS can use them: its own threading
//             (openblas_set_num_threads(--threads)), and --threads bands of
//             C on single-threaded OpenBLAS; the faster counts. C is a
//             scratch buffer, beta 0;
//   memory    one read and one write of every weight and optimiser state,
//             at the copy bandwidth measured here: --threads threads each
//             memcpy their share of a buffer that size into another.
//
//   limit seconds per batch = products + memory,  limit ex/s = batch / that.
//
// Everything else a training step does (elementwise kernels, reductions,
// loading the batch, handing work to threads) counts as overhead against the
// limit. Each figure is the fastest of --trials trials, so that other
// processes on the machine inflate it as little as possible.
//
//   fa-limit --batch B [--threads N] [--set name=value]... [--trials T]
//
// Output: one line of JSON (bench/run.sh reads it).
//
//===----------------------------------------------------------------------===//

#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"

#include "Parallel.h"
#include "ThreadPool.h"

#include <cblas.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace bdl;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// Seconds per call of `f`: the fastest of `trials` trials, each of enough
/// calls to take about half a millisecond.
double fastest(int trials, const std::function<void()> &f) {
  f(); // warm caches (and OpenBLAS's threads)
  auto start = Clock::now();
  f();
  int calls = std::clamp(int(5e-4 / std::max(seconds(start, Clock::now()), 1e-7)), 1, 1000);
  double best = 1e30;
  for (int t = 0; t < trials; ++t) {
    start = Clock::now();
    for (int i = 0; i < calls; ++i)
      f();
    best = std::min(best, seconds(start, Clock::now()) / calls);
  }
  return best;
}

void openblasGemm(const cpu::GemmArgs &g) {
  cblas_sgemm(CblasRowMajor, g.transA ? CblasTrans : CblasNoTrans,
              g.transB ? CblasTrans : CblasNoTrans, int(g.m), int(g.n), int(g.k), 1.0f, g.a,
              int(g.lda), g.b, int(g.ldb), 0.0f, g.c, int(g.ldc));
}

/// The model's GEMMs at the instance's batch: what one training batch
/// multiplies (the monitors' block, which runs on sampled batches only and
/// which bench/run.sh switches off, excluded).
std::vector<cpu::GemmArgs> trainingProducts(ModelInstance &inst, std::vector<float> &scratch) {
  const BdlModel &m = inst.model();
  std::vector<cpu::GemmArgs> out;
  size_t largest = 0;
  for (int32_t b = 0; b < m.numTrainBlocks; ++b) {
    const BdlBlock &block = m.trainBlocks[b];
    if (block.monitorsOnly)
      continue;
    for (int32_t step = 0; step < block.steps; ++step)
      for (int32_t o = 0; o < block.numOps; ++o) {
        const BdlOp &op = block.ops[o];
        if (op.kind != BDL_OP_GEMM)
          continue;
        cpu::GemmArgs g;
        g.transA = op.transA, g.transB = op.transB;
        g.m = inst.rows(op.c), g.n = inst.cols(op.c);
        g.k = op.transA ? inst.rows(op.a) : inst.cols(op.a);
        g.a = inst.data(op.a), g.lda = inst.cols(op.a);
        g.b = inst.data(op.b), g.ldb = inst.cols(op.b);
        g.ldc = g.n;
        largest = std::max(largest, size_t(g.m * g.n));
        out.push_back(g);
      }
  }
  scratch.assign(largest, 0.0f);
  for (cpu::GemmArgs &g : out)
    g.c = scratch.data();
  return out;
}

/// Seconds for `threads` threads to memcpy `bytes` in equal shares, the
/// fastest of `trials` (each thread's clock starts at a common barrier).
double copySeconds(size_t bytes, int threads, int trials) {
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  size_t share = (bytes + threads - 1) / threads;
  std::vector<double> elapsed(threads);
  double best = 1e30;
  for (int t = 0; t <= trials; ++t) {
    std::barrier start(threads);
    std::vector<std::thread> team;
    for (int i = 0; i < threads; ++i)
      team.emplace_back([&, i] {
        size_t begin = std::min(bytes, i * share), end = std::min(bytes, begin + share);
        std::memcpy(dst.data() + begin, src.data() + begin, end - begin); // warm
        start.arrive_and_wait();
        auto t0 = Clock::now();
        std::memcpy(dst.data() + begin, src.data() + begin, end - begin);
        elapsed[i] = seconds(t0, Clock::now());
      });
    for (std::thread &th : team)
      th.join();
    if (t > 0)
      best = std::min(best, *std::max_element(elapsed.begin(), elapsed.end()));
  }
  return best;
}

int usage(const char *argv0) {
  std::fprintf(stderr, "usage: %s --batch B [--threads N] [--set name=value]... [--trials T]\n",
               argv0);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  int64_t batch = 0;
  int threads = 1, trials = 30;
  std::vector<std::string> sets;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      return usage(argv[0]);
    if (arg == "--batch")
      batch = std::atoll(argv[++i]);
    else if (arg == "--threads")
      threads = std::atoi(argv[++i]);
    else if (arg == "--trials")
      trials = std::atoi(argv[++i]);
    else if (arg == "--set")
      sets.push_back(argv[++i]);
    else
      return usage(argv[0]);
  }
  if (batch < 1 || threads < 1 || trials < 1)
    return usage(argv[0]);

  try {
    ModelInstance inst(bdl_model);
    for (const std::string &s : sets)
      inst.applyAssignment(s);
    inst.allocate(batch);
    inst.initialise(1);
    inst.setBatch(batch);
    const BdlModel &m = inst.model();

    std::vector<float> scratch;
    std::vector<cpu::GemmArgs> products = trainingProducts(inst, scratch);
    double flops = 0;
    for (const cpu::GemmArgs &g : products)
      flops += 2.0 * double(g.m) * double(g.n) * double(g.k);

    // Each product both ways: OpenBLAS threading itself, and bands of C on
    // single-threaded OpenBLAS. The limit takes the faster for each, so a
    // shape OpenBLAS threads poorly does not make the limit easy to reach.
    std::vector<double> threaded, banded;
    openblas_set_num_threads(threads);
    for (const cpu::GemmArgs &g : products)
      threaded.push_back(fastest(trials, [&] { openblasGemm(g); }));
    openblas_set_num_threads(1);
    {
      cpu::ThreadPool pool(threads);
      for (const cpu::GemmArgs &g : products)
        banded.push_back(fastest(trials, [&] { cpu::runGemmSlices(pool, threads, g); }));
    }
    double threadedSeconds = 0, bandedSeconds = 0, productsSeconds = 0;
    for (size_t i = 0; i < products.size(); ++i) {
      threadedSeconds += threaded[i];
      bandedSeconds += banded[i];
      productsSeconds += std::min(threaded[i], banded[i]);
    }

    size_t stateBytes = 0;
    for (int32_t t = 0; t < m.numTensors; ++t)
      if (m.tensors[t].role == BDL_ROLE_WEIGHT || m.tensors[t].role == BDL_ROLE_OPTIMIZER)
        stateBytes += size_t(inst.rows(t) * inst.cols(t)) * sizeof(float);
    double memorySeconds = copySeconds(stateBytes, threads, trials);

    double limitSeconds = productsSeconds + memorySeconds;
    std::printf("{\"model\": \"%s\", \"batch\": %lld, \"threads\": %d, \"gemms\": %zu, "
                "\"gemm_flops\": %.0f, \"products_seconds\": %.9g, "
                "\"products_gflops\": %.2f, \"products_openblas_threads_seconds\": %.9g, "
                "\"products_bands_seconds\": %.9g, \"state_bytes\": %zu, "
                "\"copy_gbytes_per_second\": %.2f, \"memory_seconds\": %.9g, "
                "\"limit_seconds_per_batch\": %.9g, \"limit_examples_per_second\": %.1f}\n",
                m.name, (long long)batch, threads, products.size(), flops, productsSeconds,
                flops / productsSeconds * 1e-9, threadedSeconds, bandedSeconds, stateBytes,
                double(stateBytes) / memorySeconds * 1e-9, memorySeconds, limitSeconds,
                double(batch) / limitSeconds);
    return 0;
  } catch (const Error &e) {
    std::fprintf(stderr, "model_limit: error: %s\n", e.what());
    return 1;
  }
}
