//===- tune_bench.cpp - tune/Optimizer on Branin and Hartmann-6 -----------===//
//
// The median and interquartile range over seeds of the best value found after
// 20, 30 and 40 sequential evaluations, for Strategy::Gp and Strategy::Random.
// Prints a table, then one JSON line per (problem, strategy, budget) in the
// format of optuna_peer.py, so that the two can be compared line by line.
//
//   build/bin/tune_bench [SEEDS [THREADS [FIRST]]]
//
// Seeds FIRST..FIRST+SEEDS-1 (defaults: 10 seeds from 1, as the unit tests,
// on 2 threads).
//
//===----------------------------------------------------------------------===//
#include "TuneFunctions.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using namespace bdl::tune;
using namespace bdl::tune::testfn;

int main(int argc, char **argv) {
  int seeds = argc > 1 ? std::atoi(argv[1]) : 10;
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  int first = argc > 3 ? std::atoi(argv[3]) : 1;
  if (seeds < 1 || threads < 1 || first < 0) {
    std::fprintf(stderr, "usage: tune_bench [SEEDS [THREADS [FIRST]]]\n");
    return 2;
  }
  const int budgets[] = {20, 30, 40};
  const int maxBudget = 40;
  struct Row {
    std::string problem, strategy;
    int budget;
    double median, q25, q75, seconds;
  };
  std::vector<Row> rows;
  for (const Problem &p : {branin(), hartmann6()})
    for (Strategy s : {Strategy::Gp, Strategy::Random}) {
      std::vector<std::vector<double>> traces(static_cast<size_t>(seeds));
      auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          for (int i = t; i < seeds; i += threads)
            traces[size_t(i)] = bestTrace(p, s, uint64_t(first + i), maxBudget);
        });
      for (std::thread &t : pool)
        t.join();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (int b : budgets) {
        std::vector<double> v;
        for (const auto &trace : traces)
          v.push_back(trace[size_t(b - 1)]);
        rows.push_back({p.name, s == Strategy::Gp ? "gp" : "random", b, quantile(v, 0.5),
                        quantile(v, 0.25), quantile(v, 0.75), secs});
      }
    }
  std::printf("%-10s %-8s %6s %12s %12s %12s %9s\n", "problem", "sampler", "evals", "median", "q25",
              "q75", "run_s");
  for (const Row &r : rows)
    std::printf("%-10s %-8s %6d %12.6f %12.6f %12.6f %9.2f\n", r.problem.c_str(),
                r.strategy.c_str(), r.budget, r.median, r.q25, r.q75, r.seconds);
  for (const Row &r : rows)
    std::printf("{\"problem\": \"%s\", \"sampler\": \"%s\", \"evals\": %d, \"seeds\": %d, "
                "\"median\": %.9g, \"q25\": %.9g, \"q75\": %.9g, \"seconds\": %.3f}\n",
                r.problem.c_str(), r.strategy.c_str(), r.budget, seeds, r.median, r.q25, r.q75,
                r.seconds);
  return 0;
}
