//===- tune/Tuner.h - `net tune`: hyperparameter search over trials --*- C++ -*-===//
//
// A trial trains the model at one point of its search space (the params it
// declares with `tune`) and scores it on held-out data: the mean accuracy
// over k cross-validation folds (--folds), or on the last --validation
// training examples (or the loss, by the model's `objective` or --objective). Trials are proposed
// by tune::Optimizer, appended to DIR/tune.jsonl as they finish (one JSON object per line, written
// with a single append, so a killed run leaves whole lines), and resumed from there. Under mpirun,
// every rank runs trials and rank 0 also proposes them and writes the log (docs/tuning.md).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TUNE_TUNER_H
#define BDL_TUNE_TUNER_H

#include "tune/Optimizer.h"

#include "bdl/abi.h"
#include "bdl/data.h"
#include "bdl/device.h"

#include <string>
#include <vector>

namespace bdl::tune {

/// What a trial is scored by, and which way is better.
struct Objective {
  BdlMetric metric = BDL_METRIC_ACCURACY;
  bool minimise = false;
};

/// The model's train-block `objective` (maximize(accuracy) unless it says).
Objective modelObjective(const BdlModel &model);

/// --objective: `accuracy` (maximised), `loss` (minimised), or the model's
/// own spelling, `maximize(loss)`; anything else is a UsageError.
Objective parseObjective(const std::string &text);

/// "maximize(accuracy)": the spelling of the model's source.
std::string spelling(const Objective &objective);

struct TuneOptions {
  int trials = 20;
  int epochs = 1;
  int folds = 0;           // >= 2: k-fold cross-validation; 0: a validation split
  int64_t validation = -1; // held-out examples without --folds; -1: a sixth
  int64_t batch = 32;
  uint64_t seed = 0; // the same for every trial: hyperparameters compared on equal draws
  int threads = 1;
  Device device; // where each trial trains (a GPU per rank with --device cuda)
  Strategy strategy = Strategy::Gp;
  Objective objective;
  bool objectiveGiven = false;    // --objective, not the model's
  std::vector<std::string> sets;  // --set: fixed for every trial
  std::vector<std::string> fixes; // --fix name=value: a dimension pinned
  std::string out;                // DIR: DIR/tune.jsonl, DIR/tune.json
  bool resume = false;
  bool progress = false;
  bool quiet = false;
};

/// The search space of `model` with --fix's dimensions removed (a --fix on a
/// param that is not tuned, or a malformed one, is a UsageError).
Space searchSpace(const BdlModel &model, const std::vector<std::string> &fixes);

/// "accuracy", "loss" (tune.json, tune.jsonl, the best trial's line).
const char *metricName(int32_t metric);
const char *kindName(Dimension::Kind kind);

/// "objective: minimize(loss) on the held-out data (the model's)".
void printObjective(const TuneOptions &o);

/// Prints the space, one dimension per line, and the objective.
void printSpace(const Space &space, const TuneOptions &o);

/// Runs the search on `train` (the training set, already cut by --limit).
/// Returns the process's exit code.
int runTune(const BdlModel &model, const DataView &train, const TuneOptions &options);

} // namespace bdl::tune

#endif // BDL_TUNE_TUNER_H
