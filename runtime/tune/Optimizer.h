//===- tune/Optimizer.h - Bayesian optimisation over a model's search space -*- C++ -*-===//
//
// The search strategy of `net tune`, independent of training: a space of
// typed dimensions, and an optimiser that proposes the next point from the
// finished observations and the points still being evaluated. It keeps no
// state between calls, so that a resumed run (or another MPI rank's view)
// asks with the same history and gets the same answer.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TUNE_OPTIMIZER_H
#define BDL_TUNE_OPTIMIZER_H

#include <cstdint>
#include <string>
#include <vector>

namespace bdl::tune {

struct Dimension {
  enum class Kind { Real, LogReal, Int, Bool, Choice } kind = Kind::Real;
  std::string name;
  double lo = 0, hi = 1;       // Real, LogReal (lo > 0), Int: inclusive bounds
  std::vector<double> choices; // Choice: the listed values, in order
};

struct Space {
  std::vector<Dimension> dims;
};

/// A point in the user's units: a real its value, an int an integral value,
/// a bool 0 or 1, a choice one of its listed values.
using Point = std::vector<double>;

struct Observation {
  Point x;
  double value = 0; // the objective; ignored when failed
  bool failed = false;
};

enum class Strategy { Gp, Random };

class Optimizer {
public:
  /// `maximise`: larger objectives are better.
  Optimizer(Space space, Strategy strategy, uint64_t seed, bool maximise);

  /// The next point to evaluate, given every finished observation (failed
  /// ones included) and the points being evaluated now. Deterministic in
  /// (seed, done, pending). The first max(min(2d, d + 3), 5) points (d dimensions) are a
  /// space-filling design; after that, with Strategy::Gp, the maximiser of
  /// expected improvement under a Gaussian process fitted to the finished
  /// observations, the pending points entered at the current best value (a
  /// constant liar) so that parallel asks spread out; failed observations
  /// enter at the worst value seen so far, so the search moves away from
  /// them without stopping.
  Point ask(const std::vector<Observation> &done, const std::vector<Point> &pending) const;

  const Space &space() const { return space_; }

private:
  Space space_;
  Strategy strategy_;
  uint64_t seed_;
  bool maximise_;
};

/// Whether `x` lies in `space` (bounds, integrality, bool, listed choice).
bool contains(const Space &space, const Point &x);

} // namespace bdl::tune

#endif // BDL_TUNE_OPTIMIZER_H
