//===- tune/Trial.h - One trial of `net tune`: held-out data and a score -*- C++ -*-===//
//
// A trial trains fresh instances of the model at one point of the search
// space and scores them on held-out data: k cross-validation folds, or the
// last examples of the training set.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TUNE_TRIAL_H
#define BDL_TUNE_TRIAL_H

#include "tune/Tuner.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bdl::tune {

/// One way to score a point: train on `train`, evaluate on `heldOut`.
struct Split {
  std::vector<uint32_t> trainRows, heldOutRows;
  DataView train, heldOut;
};

/// --folds stratified folds, or one validation split (--validation).
std::vector<Split> makeSplits(const DataView &data, const TuneOptions &o);

struct Outcome {
  std::string status = "ok"; // ok, diverged, failed
  std::optional<double> objective;
  std::vector<double> folds;
  double seconds = 0;
  std::string error;
};

/// Called per training batch: (trial's split, epoch, examples done, total).
using Progress = std::function<void(size_t split, int epoch, int64_t done, int64_t total)>;

/// Trains on every split at `x` and scores by o.objective: the mean over the
/// splits. Never throws: a failure is the outcome's status.
Outcome runTrial(const BdlModel &model, const Space &space, const Point &x,
                 const std::vector<Split> &splits, const TuneOptions &o, const Progress &progress);

} // namespace bdl::tune

#endif // BDL_TUNE_TRIAL_H
