//===- bdl/train.h - The training loop and evaluation -----------*- C++ -*-===//
//
// Independent of files and the command line so that tests (and later the
// tuner) can train a ModelInstance on an in-memory Dataset directly.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TRAIN_H
#define BDL_TRAIN_H

#include "bdl/data.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bdl {

class ModelInstance;

struct TrainOptions {
  int epochs = 1;
  int64_t batch = 32;
  uint64_t seed = 0; // key of the per-epoch shuffles
  /// The last `validation` examples of the training view are held out
  /// (before shuffling) and evaluated after each epoch.
  int64_t validation = 0;
  /// Epochs before this one are done (a resumed run); 1-based.
  int firstEpoch = 1;
  /// False: every epoch visits the examples in file order (--no-shuffle).
  bool shuffle = true;
  /// The monitors are computed on every monitorEvery-th batch of an epoch
  /// (its first included); 0: on every kDefaultMonitorEvery-th, and no
  /// per-batch rows (callbacks.monitors); negative: never.
  int64_t monitorEvery = 0;
  /// The first `warmup` epochs skip the blocks marked afterWarmup.
  int warmup = 0;
};

/// How often a run computes the monitors when --monitor-every is not given:
/// their block costs about a training step, so a 1-in-16 sample costs a few
/// percent of the run.
constexpr int64_t kDefaultMonitorEvery = 16;

struct EvalResult {
  double accuracy = 0;
  /// Mean per-example loss, when the blocks run compute the loss tensor.
  std::optional<double> loss;
  int64_t examples = 0;
};

struct EpochMetrics {
  int epoch = 0; // 1-based
  int epochs = 0;
  std::optional<double> trainLoss; // mean over the epoch's examples
  double trainAccuracy = 0;
  std::optional<double> valAccuracy;
  std::optional<double> testLoss;
  std::optional<double> testAccuracy;
  double seconds = 0; // training only, evaluation excluded
  double examplesPerSecond = 0;
  /// Per monitor (BdlModel.monitorNames): the mean of its finite values
  /// over the epoch's monitored batches; none when it had none.
  std::vector<std::optional<double>> monitors;
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  int64_t trainExamples = 0; // per epoch, validation excluded
  double trainSeconds = 0;   // sum of the epochs' training time
  double examplesPerSecond = 0;
};

struct TrainCallbacks {
  /// After each epoch's evaluation.
  std::function<void(const EpochMetrics &)> epochEnd;
  /// After each training batch: examples done of total in this epoch.
  std::function<void(int epoch, int64_t done, int64_t total)> progress;
  /// Before each training batch runs: its examples' indices in the training
  /// set and the sequence number of the first (BdlContext.example0).
  std::function<void(const std::vector<int64_t> &indices, int64_t example0)> batchBegin;
  /// After each training batch ran, before the next one is loaded.
  std::function<void()> batchEnd;
  /// With TrainOptions.monitorEvery > 0, every monitorEvery batches: the
  /// epoch, the batch count so far in it, and each monitor's mean over
  /// those batches (NaN when none was finite).
  std::function<void(int epoch, int64_t batch, const std::vector<double> &values)> monitors;
};

/// Throws bdl::Error unless the model's input, target and prediction
/// tensors are [batch, features] / [batch, classes] for this dataset.
void checkDatasetFits(const ModelInstance &instance, const Dataset &data);

/// Throws a UsageError unless holding out `validation` of `count` training
/// examples leaves some to train on; the message starts with `setting`, the
/// number and where it came from (e.g. "--validation 500").
void checkValidationSplit(int64_t count, int64_t validation, const std::string &setting);

/// Runs the evaluation blocks over `data` in batches of at most `batch`
/// (the instance must be allocated for it). Example i of `data` has sequence
/// number i (BdlContext.example0); the blocks reset the state they need.
EvalResult evaluate(ModelInstance &instance, const DataView &data, int64_t batch);

/// Trains the allocated, initialised instance for epochs
/// [options.firstEpoch, options.epochs]; `test` may be empty. The example at
/// position p of epoch e's order (e from 1) has sequence number
/// (e - 1) * n + p for n examples per epoch, whatever the batch size, so
/// draws keyed by it do not depend on how examples are batched. Throws
/// DivergedError naming the first tensor found non-finite and the batch: the
/// loss and the predictions are checked after every batch, the tensors that
/// carry across batches every few batches and at the end of each epoch, so an
/// epoch reported through `callbacks` ended finite.
TrainResult train(ModelInstance &instance, const DataView &trainSet, const DataView &test,
                  const TrainOptions &options, const TrainCallbacks &callbacks = {});

/// Whether tensors of this BdlTensorRole carry values from one batch to the
/// next and are changed by training: weights, optimiser and model state.
bool carriesAcrossBatches(int32_t role);

/// Whether none of the `n` values is a NaN or an infinity.
bool allFinite(const float *values, size_t n);

/// Index of the largest of `n` values, the lowest on ties.
int64_t argmax(const float *values, int64_t n);

} // namespace bdl

#endif // BDL_TRAIN_H
