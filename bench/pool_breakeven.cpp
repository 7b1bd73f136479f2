//===- bench/pool_breakeven.cpp - When does splitting an op pay? ----------===//
//
// Times the runtime's two ways of splitting an op over its thread pool
// (backend/cpu/Parallel.h) against running the op whole on the calling
// thread, for a range of sizes:
//   kernels  [rows, 1000] elementwise, as bdlc emits them (vectorised loops):
//            a bias add (the cheapest kernel a model has) and a tanh-like
//            rational function (a typical nonlinearity);
//   GEMMs    square m = n = k = s, and outer products m = n = s, k = 32
//            (a batch-32 weight gradient).
// The break-even it prints is where bdl/executor.h's thresholds come from.
//
//   pool_breakeven [--threads N] [--trials T]
//
// Trials alternate whole and split runs (A B A B ...) and each column keeps
// its fastest trial, which filters out the time other processes take.
//
//===----------------------------------------------------------------------===//

#include "Parallel.h"
#include "ThreadPool.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

using namespace bdl::cpu;
using Clock = std::chrono::steady_clock;

namespace {

enum Tensor { In, Bias, Out, NumTensors };

void biasAdd(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
             const BdlContext *) {
  const float *b = t[Bias];
  for (int64_t r = r0; r < r1; ++r) {
    const float *x = t[In] + r * cols;
    float *y = t[Out] + r * cols;
    for (int64_t c = 0; c < cols; ++c)
      y[c] = x[c] + b[c];
  }
}

void rationalTanh(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                  const BdlContext *) {
  const float *b = t[Bias];
  for (int64_t r = r0; r < r1; ++r) {
    const float *x = t[In] + r * cols;
    float *y = t[Out] + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      float a = x[c] + b[c], a2 = a * a;
      y[c] = a * (135135.0f + a2 * (17325.0f + a2 * (378.0f + a2))) /
             (135135.0f + a2 * (62370.0f + a2 * (3150.0f + 28.0f * a2)));
    }
  }
}

/// Seconds per call of `op`, the fastest of `trials` trials of `calls`
/// calls each, for `variants` interleaved variants.
std::vector<double> fastest(int trials, int calls,
                            const std::vector<std::function<void()>> &variants) {
  std::vector<double> best(variants.size(), 1e30);
  for (int t = 0; t < trials; ++t)
    for (size_t v = 0; v < variants.size(); ++v) {
      variants[v](); // warm: caches, and the workers out of their sleep
      auto start = Clock::now();
      for (int i = 0; i < calls; ++i)
        variants[v]();
      double s = std::chrono::duration<double>(Clock::now() - start).count() / calls;
      best[v] = std::min(best[v], s);
    }
  return best;
}

/// Calls per trial so that a trial of the whole op takes about 2 ms.
int callsFor(const std::function<void()> &op) {
  auto start = Clock::now();
  op();
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  return std::clamp(int(2e-3 / std::max(s, 1e-7)), 5, 2000);
}

struct Row {
  std::string what;
  double size; // elements or flops
  double whole, split;
};

/// The smallest size from which the split run wins for this and every
/// larger size in `rows`, or -1.
double breakEven(const std::vector<Row> &rows) {
  double from = -1;
  for (const Row &r : rows) {
    if (r.split < r.whole) {
      if (from < 0)
        from = r.size;
    } else {
      from = -1;
    }
  }
  return from;
}

void print(const Row &r, const char *unit) {
  std::printf("  %-22s %12.0f %-8s %10.2f %10.2f %8.2fx\n", r.what.c_str(), r.size, unit,
              r.whole * 1e6, r.split * 1e6, r.whole / r.split);
}

} // namespace

int main(int argc, char **argv) {
  int threads = 2, trials = 9;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--trials") && i + 1 < argc)
      trials = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--trials T]\n", argv[0]);
      return 2;
    }
  }
  if (threads < 2 || trials < 1) {
    std::fprintf(stderr, "pool_breakeven: needs --threads >= 2 and --trials >= 1\n");
    return 2;
  }
  openblas_set_num_threads(1);
  ThreadPool pool(threads);
  ThreadPool blocking(threads,
                      PoolWaiting{.workerPollMicroseconds = 0, .callerPollMicroseconds = 0});
  std::printf("pool_breakeven: 1 thread (whole) vs %d threads (split), fastest of %d trials, "
              "us per op\n",
              threads, trials);

  // The cost of handing work to the threads and joining them: a run of one
  // 1-us task per thread takes 1 us plus that cost when the threads share
  // it, and `threads` us when the caller ends up running every task.
  {
    auto microsecond = [](int) {
      auto end = Clock::now() + std::chrono::microseconds(1);
      while (Clock::now() < end)
        ;
    };
    std::vector<double> t = fastest(
        trials, 2000,
        {[&] { pool.run(threads, microsecond); }, [&] { blocking.run(threads, microsecond); }});
    std::printf("\n%d tasks of 1 us: %.2f us polling first (this pool), %.2f us blocking at "
                "once\n",
                threads, t[0] * 1e6, t[1] * 1e6);
  }

  const int64_t cols = 1000;
  const int64_t rowCounts[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256};
  std::vector<float> in(256 * cols, 0.5f), bias(cols, 0.25f), out(256 * cols);
  float *tensors[NumTensors] = {in.data(), bias.data(), out.data()};
  const float hp[4] = {};
  struct Kernel {
    const char *name;
    BdlKernelFn fn;
  };
  double kernelEven = 0;
  for (Kernel k : {Kernel{"bias add", biasAdd}, Kernel{"tanh-like", rationalTanh}}) {
    std::printf("\nkernel %-15s %12s %-8s %10s %10s %9s\n", k.name, "size", "", "1 thread", "split",
                "speedup");
    std::vector<Row> rows;
    for (int64_t r : rowCounts) {
      auto whole = [&] { runKernelSlices(pool, 1, k.fn, r, cols, tensors, hp, nullptr); };
      auto split = [&] { runKernelSlices(pool, threads, k.fn, r, cols, tensors, hp, nullptr); };
      std::vector<double> t = fastest(trials, callsFor(whole), {whole, split});
      rows.push_back({"[" + std::to_string(r) + ", " + std::to_string(cols) + "]", double(r * cols),
                      t[0], t[1]});
      print(rows.back(), "elements");
    }
    double even = breakEven(rows);
    std::printf("  break-even: %.0f elements\n", even);
    kernelEven = even < 0 ? -1 : std::max(kernelEven, even);
  }

  struct Shape {
    const char *family;
    int64_t m, n, k;
  };
  std::vector<std::vector<Shape>> families;
  {
    std::vector<Shape> square, outer;
    for (int64_t s : {16, 24, 32, 48, 64, 96, 128, 192, 256, 384})
      square.push_back({"square", s, s, s});
    for (int64_t s : {16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 784})
      outer.push_back({"outer k=32", s, s, 32});
    families = {square, outer};
  }
  std::vector<float> a(784 * 784, 0.01f), b(784 * 784, 0.02f), c(784 * 784);
  double gemmEven = 0;
  for (const std::vector<Shape> &family : families) {
    std::printf("\ngemm %-17s %12s %-8s %10s %10s %9s\n", family[0].family, "size", "", "1 thread",
                "split", "speedup");
    std::vector<Row> rows;
    for (const Shape &s : family) {
      GemmArgs g;
      g.m = s.m, g.n = s.n, g.k = s.k;
      g.a = a.data(), g.lda = s.k, g.b = b.data(), g.ldb = s.n, g.c = c.data(), g.ldc = s.n;
      auto whole = [&] { runGemmSlices(pool, 1, g); };
      auto split = [&] { runGemmSlices(pool, threads, g); };
      std::vector<double> t = fastest(trials, callsFor(whole), {whole, split});
      rows.push_back({std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k),
                      2.0 * double(s.m * s.n * s.k), t[0], t[1]});
      print(rows.back(), "flops");
    }
    double even = breakEven(rows);
    std::printf("  break-even: %.0f flops\n", even);
    gemmEven = even < 0 ? -1 : std::max(gemmEven, even);
  }
  std::printf("\nbreak-even over all: kernels %.0f elements, GEMMs %.0f flops "
              "(-1: splitting never won from some size on)\n",
              kernelEven, gemmEven);
  return 0;
}
