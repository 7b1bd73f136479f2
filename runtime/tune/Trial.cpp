//===- tune/Trial.cpp - One trial: folds, training, the score -------------===//
#include "tune/Trial.h"

#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/rng.h"
#include "bdl/train.h"

#include <chrono>
#include <cmath>
#include <map>

namespace bdl::tune {

using Clock = std::chrono::steady_clock;

namespace {

/// k stratified folds: each class's examples, in an order shuffled with the
/// seed, are dealt round-robin to the folds, so every fold holds each class
/// in the proportion of the whole.
std::vector<Split> makeFolds(const DataView &data, int k, uint64_t seed) {
  std::map<int, std::vector<uint32_t>> byClass;
  for (int64_t i = 0; i < data.count; ++i)
    byClass[data.label(i)].push_back(uint32_t(data.index(i)));
  std::vector<int> fold(size_t(data.data->size()), -1);
  Philox rng(seed, rng_stream::shuffle(-1));
  for (auto &[label, members] : byClass) {
    for (size_t i = members.size(); i > 1; --i)
      std::swap(members[i - 1], members[rng.below(uint32_t(i))]);
    for (size_t j = 0; j < members.size(); ++j)
      fold[members[j]] = int(j % size_t(k));
  }
  std::vector<Split> splits(static_cast<size_t>(k));
  for (int64_t i = 0; i < data.count; ++i) {
    uint32_t row = uint32_t(data.index(i));
    for (int f = 0; f < k; ++f)
      (fold[row] == f ? splits[size_t(f)].heldOutRows : splits[size_t(f)].trainRows).push_back(row);
  }
  for (Split &s : splits) {
    s.train = DataView(*data.data, s.trainRows.data(), int64_t(s.trainRows.size()));
    s.heldOut = DataView(*data.data, s.heldOutRows.data(), int64_t(s.heldOutRows.size()));
  }
  return splits;
}

} // namespace

std::vector<Split> makeSplits(const DataView &data, const TuneOptions &o) {
  if (o.folds >= 2) {
    if (data.count < 2 * o.folds)
      throw UsageError("--folds " + std::to_string(o.folds) + " needs at least " +
                       std::to_string(2 * o.folds) + " training examples");
    return makeFolds(data, o.folds, o.seed);
  }
  if (o.folds == 1)
    throw UsageError("--folds must be at least 2 (or 0 for a validation split)");
  int64_t held = o.validation >= 0 ? o.validation : data.count / 6;
  checkValidationSplit(data.count, held, "--validation " + std::to_string(held));
  if (held == 0)
    throw UsageError("--validation 0 leaves nothing to score a trial on");
  std::vector<Split> one(1);
  one[0].train = data.slice(0, data.count - held);
  one[0].heldOut = data.slice(data.count - held, held);
  return one;
}

Outcome runTrial(const BdlModel &model, const Space &space, const Point &x,
                 const std::vector<Split> &splits, const TuneOptions &o, const Progress &progress) {
  Outcome out;
  auto begin = Clock::now();
  try {
    for (size_t s = 0; s < splits.size(); ++s) {
      ModelInstance inst(model);
      for (const std::string &a : o.sets)
        inst.applyAssignment(a);
      for (const std::string &a : o.fixes)
        inst.applyAssignment(a);
      for (size_t d = 0; d < space.dims.size(); ++d)
        inst.setParamValue(inst.findParam(space.dims[d].name), x[d]);
      const Split &split = splits[s];
      int64_t batch = std::min(o.batch, std::max(split.train.count, split.heldOut.count));
      inst.allocate(batch);
      checkDatasetFits(inst, *split.train.data);
      inst.initialise(o.seed);
      exec::useDevice(inst, o.device);
      TrainOptions t;
      t.epochs = o.epochs;
      t.warmup = inst.model().warmup; // within --epochs, as in a training run
      t.batch = std::min(o.batch, split.train.count);
      t.seed = o.seed;
      TrainCallbacks callbacks;
      if (progress)
        callbacks.progress = [&](int epoch, int64_t done, int64_t total) {
          progress(s, epoch, done, total);
        };
      TrainResult r = train(inst, split.train, split.heldOut, t, callbacks);
      const EpochMetrics &last = r.epochs.back();
      bool loss = o.objective.metric == BDL_METRIC_LOSS;
      std::optional<double> score = loss ? last.testLoss : last.testAccuracy;
      if (!score)
        throw Error(std::string("the model reports no held-out ") +
                    (loss ? "loss (it declares none)" : "accuracy"));
      out.folds.push_back(*score);
    }
    double sum = 0;
    for (double f : out.folds)
      sum += f;
    out.objective = sum / double(out.folds.size());
    if (!std::isfinite(*out.objective))
      out.status = "failed", out.error = "the objective is not finite", out.objective.reset();
  } catch (const DivergedError &e) {
    out.status = "diverged", out.error = e.what();
  } catch (const Error &e) {
    out.status = "failed", out.error = e.what();
  } catch (const std::exception &e) {
    out.status = "failed", out.error = e.what();
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  return out;
}

} // namespace bdl::tune
