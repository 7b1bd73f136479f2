//===- TuneFunctions.h - Benchmark objectives for tune/Optimizer -*- C++ -*-===//
//
// The standard global-optimisation test functions the optimiser is judged
// on, shared by TuneOptimizerTest and bench/tune. Definitions as in Surjanovic
// & Bingham's Virtual Library of Simulation Experiments.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TEST_TUNEFUNCTIONS_H
#define BDL_TEST_TUNEFUNCTIONS_H

#include "tune/Optimizer.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace bdl::tune::testfn {

struct Problem {
  const char *name;
  Space space;
  std::function<double(const Point &)> f;
  double optimum;
};

inline Problem branin() {
  Space s;
  s.dims = {{Dimension::Kind::Real, "x1", -5, 10, {}}, {Dimension::Kind::Real, "x2", 0, 15, {}}};
  auto f = [](const Point &x) {
    const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    double u = x[1] - b * x[0] * x[0] + c * x[0] - 6;
    return u * u + 10 * (1 - t) * std::cos(x[0]) + 10;
  };
  return {"branin", s, f, 0.397887};
}

inline Problem hartmann6() {
  Space s;
  for (int i = 0; i < 6; ++i)
    s.dims.push_back({Dimension::Kind::Real, "x" + std::to_string(i), 0, 1, {}});
  auto f = [](const Point &x) {
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double sum = 0;
    for (int i = 0; i < 4; ++i) {
      double e = 0;
      for (int j = 0; j < 6; ++j)
        e += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
      sum += alpha[i] * std::exp(-e);
    }
    return -sum;
  };
  return {"hartmann6", s, f, -3.32237};
}

/// The best value after each of `budget` sequential evaluations (one ask per
/// finished evaluation, nothing pending).
inline std::vector<double> bestTrace(const Problem &p, Strategy strategy, uint64_t seed,
                                     int budget) {
  Optimizer opt(p.space, strategy, seed, /*maximise=*/false);
  std::vector<Observation> done;
  std::vector<double> trace;
  double best = INFINITY;
  for (int i = 0; i < budget; ++i) {
    Point x = opt.ask(done, {});
    double y = p.f(x);
    best = std::min(best, y);
    done.push_back({x, y, false});
    trace.push_back(best);
  }
  return trace;
}

/// The q-quantile by linear interpolation (q = 0.5: the median).
inline double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * double(v.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

} // namespace bdl::tune::testfn

#endif // BDL_TEST_TUNEFUNCTIONS_H
