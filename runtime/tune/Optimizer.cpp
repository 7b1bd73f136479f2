// A stand-in for the Gaussian-process optimiser (branch tune-gp, being
// written): uniform random points, deterministic in seed and history.
#include "tune/Optimizer.h"
#include "bdl/rng.h"
#include <cmath>
namespace bdl::tune {
Optimizer::Optimizer(Space space, Strategy strategy, uint64_t seed, bool maximise)
    : space_(std::move(space)), strategy_(strategy), seed_(seed), maximise_(maximise) {}
Point Optimizer::ask(const std::vector<Observation> &done,
                     const std::vector<Point> &pending) const {
  Philox rng(seed_, 99 + done.size() + pending.size());
  Point x;
  for (const Dimension &d : space_.dims) {
    double u = rng.uniform();
    switch (d.kind) {
    case Dimension::Kind::Real:
      x.push_back(d.lo + u * (d.hi - d.lo));
      break;
    case Dimension::Kind::LogReal:
      x.push_back(std::exp(std::log(d.lo) + u * (std::log(d.hi) - std::log(d.lo))));
      break;
    case Dimension::Kind::Int:
      x.push_back(std::floor(d.lo + u * (d.hi - d.lo + 1)));
      break;
    case Dimension::Kind::Bool:
      x.push_back(u < 0.5 ? 0 : 1);
      break;
    case Dimension::Kind::Choice:
      x.push_back(d.choices[size_t(u * d.choices.size())]);
      break;
    }
  }
  return x;
}
bool contains(const Space &, const Point &) { return true; }
} // namespace bdl::tune
