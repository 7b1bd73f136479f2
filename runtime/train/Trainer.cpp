//===- train/Trainer.cpp - Epochs, mini-batches and evaluation ------------===//

#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/rng.h"
#include "bdl/train.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

namespace bdl {

int64_t argmax(const float *values, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (values[i] > values[best])
      best = i;
  return best;
}

void checkDatasetFits(const ModelInstance &inst, const Dataset &data) {
  const BdlModel &m = inst.model();
  auto check = [&](int32_t tensor, const char *role, int64_t width, const char *what) {
    const BdlTensorDesc &t = m.tensors[tensor];
    if (t.rows.kind != BDL_DIM_BATCH)
      throw Error("model '" + std::string(m.name) + "': " + role + " tensor '" + t.name +
                  "' must have the batch as its rows");
    int64_t cols = inst.cols(tensor);
    if (cols != width)
      throw Error("model '" + std::string(m.name) + "' " + role + " tensor '" + t.name + "' has " +
                  std::to_string(cols) + " columns but dataset '" + data.name + "' has " +
                  std::to_string(width) + " " + what + " (wrong --dataset?)");
  };
  check(m.inputTensor, "input", data.features, "features per example");
  check(m.targetTensor, "target", data.classes, "classes");
  check(m.predictTensor, "prediction", data.classes, "classes");
  if (m.lossTensor >= 0 && m.tensors[m.lossTensor].rows.kind != BDL_DIM_BATCH)
    throw Error("model '" + std::string(m.name) + "': loss tensor '" +
                m.tensors[m.lossTensor].name + "' must have the batch as its rows");
}

namespace {

using Clock = std::chrono::steady_clock;

/// A quiet NaN with a payload no arithmetic produces: loss entries still
/// holding it after the blocks ran were not computed by them.
constexpr uint32_t kUnwrittenBits = 0x7fe0bd17u;

/// Copies examples [start, start + count) of `order` (or of the view, when
/// order is null) into the input and one-hot target tensors.
void loadBatch(ModelInstance &inst, const DataView &data, const uint32_t *order, int64_t start,
               int64_t count) {
  const BdlModel &m = inst.model();
  inst.setBatch(count);
  int64_t features = data.data->features, classes = data.data->classes;
  float *input = inst.data(m.inputTensor);
  float *target = inst.data(m.targetTensor);
  std::fill(target, target + count * classes, 0.0f);
  for (int64_t r = 0; r < count; ++r) {
    int64_t i = order ? order[start + r] : start + r;
    std::memcpy(input + r * features, data.image(i), size_t(features) * sizeof(float));
    target[r * classes + data.label(i)] = 1.0f;
  }
  if (m.lossTensor >= 0) {
    float *loss = inst.data(m.lossTensor);
    std::fill(loss, loss + count * inst.cols(m.lossTensor), std::bit_cast<float>(kUnwrittenBits));
  }
}

struct BatchScore {
  int64_t correct = 0;
  bool lossWritten = false;
  double lossSum = 0;
  bool finite = true; // loss, or without one the predictions
};

BatchScore scoreBatch(const ModelInstance &inst, const DataView &data, const uint32_t *order,
                      int64_t start, int64_t count) {
  const BdlModel &m = inst.model();
  BatchScore s;
  int64_t classes = data.data->classes;
  const float *predict = inst.data(m.predictTensor);
  for (int64_t r = 0; r < count; ++r) {
    int64_t i = order ? order[start + r] : start + r;
    s.correct += argmax(predict + r * classes, classes) == data.label(i);
  }
  if (m.lossTensor >= 0) {
    const float *loss = inst.data(m.lossTensor);
    int64_t n = count * inst.cols(m.lossTensor);
    s.lossWritten = true;
    for (int64_t k = 0; k < n; ++k) {
      if (std::bit_cast<uint32_t>(loss[k]) == kUnwrittenBits) {
        s.lossWritten = false;
        break;
      }
      s.lossSum += loss[k];
    }
  }
  if (s.lossWritten) {
    s.finite = std::isfinite(s.lossSum);
  } else {
    for (int64_t k = 0; k < count * classes && s.finite; ++k)
      s.finite = std::isfinite(predict[k]);
  }
  return s;
}

/// Sums batch scores into an accuracy and a mean loss.
struct Tally {
  int64_t examples = 0, correct = 0;
  double lossSum = 0;
  bool lossWritten = true;

  void add(const BatchScore &s, int64_t count) {
    examples += count;
    correct += s.correct;
    lossSum += s.lossSum;
    lossWritten = lossWritten && s.lossWritten;
  }
  double accuracy() const { return examples ? double(correct) / double(examples) : 0.0; }
  std::optional<double> loss() const {
    if (!lossWritten || !examples)
      return std::nullopt;
    return lossSum / double(examples);
  }
};

} // namespace

EvalResult evaluate(ModelInstance &inst, const DataView &data, int64_t batch) {
  const BdlModel &m = inst.model();
  batch = std::min(batch, inst.maxBatch());
  Tally tally;
  for (int64_t start = 0; start < data.count; start += batch) {
    int64_t count = std::min(batch, data.count - start);
    loadBatch(inst, data, nullptr, start, count);
    cpu::runBlocks(inst, m.evalBlocks, m.numEvalBlocks);
    tally.add(scoreBatch(inst, data, nullptr, start, count), count);
  }
  return {tally.accuracy(), tally.loss(), tally.examples};
}

void checkValidationSplit(int64_t count, int64_t validation) {
  if (validation < 0 || validation >= count)
    throw UsageError("--validation " + std::to_string(validation) +
                     " leaves no training examples of " + std::to_string(count));
}

TrainResult train(ModelInstance &inst, const DataView &trainSet, const DataView &test,
                  const TrainOptions &opts, const TrainCallbacks &callbacks) {
  const BdlModel &m = inst.model();
  if (opts.epochs < 1)
    throw UsageError("the number of epochs must be at least 1");
  if (opts.batch < 1 || opts.batch > inst.maxBatch())
    throw Error("batch size " + std::to_string(opts.batch) + " outside [1, " +
                std::to_string(inst.maxBatch()) + "] (the size the model was allocated for)");
  checkValidationSplit(trainSet.count, opts.validation);
  checkDatasetFits(inst, *trainSet.data);
  if (test.count)
    checkDatasetFits(inst, *test.data);

  int64_t n = trainSet.count - opts.validation;
  DataView fit(*trainSet.data, trainSet.begin, n);
  DataView val(*trainSet.data, trainSet.begin + n, opts.validation);

  TrainResult result;
  result.trainExamples = n;
  std::vector<uint32_t> order(n);
  for (int epoch = 1; epoch <= opts.epochs; ++epoch) {
    auto begin = Clock::now();
    std::iota(order.begin(), order.end(), 0u);
    Philox rng(opts.seed, rng_stream::shuffle(epoch));
    inst.setEpoch(epoch - 1);
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[rng.below(uint32_t(i + 1))]);

    Tally tally;
    int64_t batchIndex = 0;
    for (int64_t start = 0; start < n; start += opts.batch) {
      int64_t count = std::min(opts.batch, n - start);
      loadBatch(inst, fit, order.data(), start, count);
      cpu::runBlocks(inst, m.trainBlocks, m.numTrainBlocks);
      BatchScore score = scoreBatch(inst, fit, order.data(), start, count);
      ++batchIndex;
      if (!score.finite)
        throw DivergedError(epoch, batchIndex);
      tally.add(score, count);
      if (callbacks.progress)
        callbacks.progress(epoch, start + count, n);
    }
    double seconds = std::chrono::duration<double>(Clock::now() - begin).count();

    EpochMetrics em;
    em.epoch = epoch;
    em.epochs = opts.epochs;
    em.trainLoss = tally.loss();
    em.trainAccuracy = tally.accuracy();
    em.seconds = seconds;
    em.examplesPerSecond = seconds > 0 ? double(n) / seconds : 0.0;
    if (val.count)
      em.valAccuracy = evaluate(inst, val, opts.batch).accuracy;
    if (test.count) {
      EvalResult r = evaluate(inst, test, opts.batch);
      em.testAccuracy = r.accuracy;
      em.testLoss = r.loss;
    }
    result.trainSeconds += seconds;
    result.epochs.push_back(em);
    if (callbacks.epochEnd)
      callbacks.epochEnd(em);
  }
  result.examplesPerSecond =
      result.trainSeconds > 0 ? double(n) * opts.epochs / result.trainSeconds : 0.0;
  return result;
}

} // namespace bdl
