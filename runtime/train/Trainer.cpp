//===- train/Trainer.cpp - Epochs, mini-batches and evaluation ------------===//

#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/image.h"
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

bool carriesAcrossBatches(int32_t role) {
  return role == BDL_ROLE_WEIGHT || role == BDL_ROLE_OPTIMIZER || role == BDL_ROLE_STATE;
}

bool allFinite(const float *values, size_t n) {
  // On the bits, so that the loop vectorises and -ffast-math cannot fold it:
  // NaN and infinity are the values whose exponent bits are all ones.
  constexpr uint32_t kExponent = 0x7f800000u;
  constexpr size_t kChunk = 4096;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    size_t end = std::min(n, begin + kChunk);
    uint32_t bad = 0;
    for (size_t i = begin; i < end; ++i)
      bad |= uint32_t((std::bit_cast<uint32_t>(values[i]) & kExponent) == kExponent);
    if (bad)
      return false;
  }
  return true;
}

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
    int64_t cols = inst.exampleWidth(tensor);
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
  // An image input is channel-last (abi.h); the datasets store channels first.
  int64_t channels = m.inputChannels, pixels = int64_t(m.inputHeight) * m.inputWidth;
  cpu::forSlices(count, features * int64_t(sizeof(float)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t i = order ? order[start + r] : start + r;
      if (channels > 1)
        image::toChannelLast(channels, pixels, data.image(i), input + r * features);
      else
        std::memcpy(input + r * features, data.image(i), size_t(features) * sizeof(float));
      target[r * classes + data.label(i)] = 1.0f;
    }
  });
  if (m.lossTensor >= 0) {
    float *loss = inst.data(m.lossTensor);
    std::fill(loss, loss + count * inst.cols(m.lossTensor), std::bit_cast<float>(kUnwrittenBits));
    exec::hostWrote(inst, m.lossTensor);
  }
  exec::hostWrote(inst, m.inputTensor);
  exec::hostWrote(inst, m.targetTensor);
}

struct BatchScore {
  int64_t correct = 0;
  bool lossWritten = false;
  double lossSum = 0;
  bool predictionFinite = true;
  bool lossFinite = true; // true too when the blocks did not write the loss
};

BatchScore scoreBatch(ModelInstance &inst, const DataView &data, const uint32_t *order,
                      int64_t start, int64_t count) {
  const BdlModel &m = inst.model();
  exec::toHost(inst, m.predictTensor);
  if (m.lossTensor >= 0)
    exec::toHost(inst, m.lossTensor);
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
  // The predictions are checked whatever the loss says: a loss may clamp
  // its input (cross_entropy's max(y, 1e-30) turns a NaN into 1e-30).
  s.predictionFinite = allFinite(predict, size_t(count * classes));
  s.lossFinite = !s.lossWritten || std::isfinite(s.lossSum);
  return s;
}

/// Learned tensors are scanned once per this many batches (and at the end of
/// every epoch, and whenever a prediction or the loss is not finite). A scan
/// of fa_mlp's 795k weight and velocity floats takes 120-640 us on the 2-core
/// development machine (cache-bound; slower when other processes share the
/// cache), and even a batch of one costs more than two scans, because its
/// update reads and writes every weight, velocity and gradient. Measured with
/// this interval: 0.11-0.19% of an epoch at batch 1, 0.02% at batch 32.
constexpr int64_t kLearnedScanInterval = 512;

/// Finds the first non-finite value a training run produces. The predictions
/// and the loss are checked after every batch (a few floats per example);
/// the tensors that carry across batches (weights, optimiser and model
/// state) less often, because they are large.
class DivergenceWatch {
public:
  explicit DivergenceWatch(ModelInstance &inst) : inst(inst) {
    const BdlModel &m = inst.model();
    for (int i = 0; i < m.numTensors; ++i)
      if (carriesAcrossBatches(m.tensors[i].role))
        learned.push_back(i);
  }

  /// Before an epoch's first batch: the initial, restored or evaluated values.
  void atStart(int epoch) {
    std::vector<Found> bad = badLearned();
    if (!bad.empty())
      throw DivergedError("epoch " + std::to_string(epoch) +
                              " starts from non-finite values: " + describe(bad),
                          epoch, 0, bad.front().name);
    verifiedBatch = 0;
  }

  void afterBatch(const BatchScore &score, int epoch, int64_t batch, bool lastOfEpoch) {
    bool scan = !score.predictionFinite || !score.lossFinite || lastOfEpoch ||
                batch - verifiedBatch >= kLearnedScanInterval;
    if (!scan)
      return;
    std::vector<Found> bad = badLearned();
    if (score.predictionFinite && score.lossFinite && bad.empty()) {
      verifiedBatch = batch;
      return;
    }
    const BdlModel &m = inst.model();
    Found prediction{"prediction", m.tensors[m.predictTensor].name};
    Found loss{"loss", m.lossTensor >= 0 ? m.tensors[m.lossTensor].name : ""};
    // The batch computes its prediction, then its loss, then the updates: when
    // it started from verified values, that is the order things went wrong.
    // Otherwise a non-finite learned tensor is older than what it fed.
    std::vector<Found> found;
    bool startedVerified = verifiedBatch == batch - 1;
    if (!startedVerified)
      found = bad;
    if (!score.predictionFinite)
      found.push_back(prediction);
    if (!score.lossFinite)
      found.push_back(loss);
    if (startedVerified)
      found.insert(found.end(), bad.begin(), bad.end());
    std::string message = "diverged at epoch " + std::to_string(epoch) + " batch " +
                          std::to_string(batch) + ": " + describe(found);
    if (!startedVerified)
      message += "; the learned tensors were last verified finite " +
                 (verifiedBatch ? "after batch " + std::to_string(verifiedBatch)
                                : std::string("at the start of the epoch"));
    throw DivergedError(message, epoch, batch, found.front().name);
  }

private:
  struct Found {
    std::string role, name;
  };

  /// The learned tensors holding a NaN or an infinity, in declaration order.
  std::vector<Found> badLearned() {
    std::vector<Found> bad;
    for (int t : learned)
      exec::toHost(inst, t);
    for (int t : learned)
      if (!allFinite(inst.data(t), inst.capacity(t)))
        bad.push_back({roleName(inst.model().tensors[t].role), inst.model().tensors[t].name});
    return bad;
  }

  /// "weight 'W1' is not finite (NaN or infinite), nor are b1, W2 and 3 more"
  static std::string describe(const std::vector<Found> &found) {
    std::string s =
        found.front().role + " '" + found.front().name + "' is not finite (NaN or infinite)";
    constexpr size_t kListed = 6;
    for (size_t i = 1; i < found.size() && i <= kListed; ++i)
      s += (i == 1 ? ", nor are " : ", ") + found[i].name;
    if (found.size() > kListed + 1)
      s += " and " + std::to_string(found.size() - kListed - 1) + " more";
    return s;
  }

  ModelInstance &inst;
  std::vector<int> learned;
  int64_t verifiedBatch = 0; // learned tensors finite after this batch of the epoch
};

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

namespace {

/// Each monitor's value after a monitored batch.
std::vector<double> readMonitors(ModelInstance &inst) {
  const BdlModel &m = inst.model();
  std::vector<double> values;
  for (int32_t i = 0; i < m.numMonitors; ++i) {
    exec::toHost(inst, m.monitorTensors[i]);
    values.push_back(inst.data(m.monitorTensors[i])[0]);
  }
  return values;
}

/// NaN in every monitor, so that one whose block does not run (an `after
/// warmup` block in the warm-up) reads as not computed rather than as its
/// last value.
void clearMonitors(ModelInstance &inst) {
  const BdlModel &m = inst.model();
  for (int32_t i = 0; i < m.numMonitors; ++i) {
    inst.data(m.monitorTensors[i])[0] = std::nanf("");
    exec::hostWrote(inst, m.monitorTensors[i]);
  }
}

/// Means of the monitors' finite values (an angle to a zero update is NaN:
/// it has no direction, and says nothing about the others).
class MonitorMeans {
public:
  explicit MonitorMeans(const BdlModel &m) : sums(size_t(m.numMonitors)), counts(sums.size()) {}
  void add(const std::vector<double> &values) {
    for (size_t i = 0; i < values.size(); ++i)
      if (std::isfinite(values[i]))
        sums[i] += values[i], ++counts[i];
  }
  std::vector<double> means() const {
    std::vector<double> out;
    for (size_t i = 0; i < sums.size(); ++i)
      out.push_back(counts[i] ? sums[i] / double(counts[i]) : std::nan(""));
    return out;
  }

private:
  std::vector<double> sums;
  std::vector<int64_t> counts;
};

} // namespace

EvalResult evaluate(ModelInstance &inst, const DataView &data, int64_t batch) {
  const BdlModel &m = inst.model();
  batch = std::min(batch, inst.maxBatch());
  Tally tally;
  for (int64_t start = 0; start < data.count; start += batch) {
    int64_t count = std::min(batch, data.count - start);
    loadBatch(inst, data, nullptr, start, count);
    inst.setExample0(start);
    exec::runBlocks(inst, m.evalBlocks, m.numEvalBlocks, /*evaluation=*/true);
    tally.add(scoreBatch(inst, data, nullptr, start, count), count);
  }
  return {tally.accuracy(), tally.loss(), tally.examples};
}

void checkValidationSplit(int64_t count, int64_t validation, const std::string &setting) {
  if (validation < 0 || validation >= count)
    throw UsageError(setting + " leaves no training examples of " + std::to_string(count));
}

TrainResult train(ModelInstance &inst, const DataView &trainSet, const DataView &test,
                  const TrainOptions &opts, const TrainCallbacks &callbacks) {
  const BdlModel &m = inst.model();
  if (opts.epochs < 1)
    throw UsageError("the number of epochs must be at least 1");
  if (opts.firstEpoch < 1 || opts.firstEpoch > opts.epochs + 1)
    throw Error("first epoch " + std::to_string(opts.firstEpoch) + " outside [1, " +
                std::to_string(opts.epochs + 1) + "]");
  if (opts.batch < 1 || opts.batch > inst.maxBatch())
    throw Error("batch size " + std::to_string(opts.batch) + " outside [1, " +
                std::to_string(inst.maxBatch()) + "] (the size the model was allocated for)");
  if (opts.warmup < 0 || (opts.warmup > 0 && opts.warmup >= opts.epochs))
    throw UsageError("a warm-up of " + std::to_string(opts.warmup) + " epochs leaves none of the " +
                     std::to_string(opts.epochs) +
                     " to train every learn block in; the warm-up counts the first epochs");
  checkValidationSplit(trainSet.count, opts.validation,
                       "a validation split of " + std::to_string(opts.validation));
  checkDatasetFits(inst, *trainSet.data);
  if (test.count)
    checkDatasetFits(inst, *test.data);

  int64_t n = trainSet.count - opts.validation;
  DataView fit = trainSet.slice(0, n);
  DataView val = trainSet.slice(n, opts.validation);

  TrainResult result;
  result.trainExamples = n;
  std::vector<uint32_t> order(n);
  std::vector<int64_t> indices; // of a batch, for callbacks.batchBegin
  DivergenceWatch watch(inst);
  int64_t monitorEvery = opts.monitorEvery == 0 ? kDefaultMonitorEvery : opts.monitorEvery;
  for (int epoch = opts.firstEpoch; epoch <= opts.epochs; ++epoch) {
    auto begin = Clock::now();
    std::iota(order.begin(), order.end(), 0u);
    Philox rng(opts.seed, rng_stream::shuffle(epoch));
    inst.setEpoch(epoch - 1);
    inst.setWarmingUp(epoch <= opts.warmup);
    if (opts.shuffle)
      for (int64_t i = n - 1; i > 0; --i)
        std::swap(order[i], order[rng.below(uint32_t(i + 1))]);

    Tally tally;
    int64_t batchIndex = 0;
    MonitorMeans epochMonitors(m), windowMonitors(m);
    watch.atStart(epoch);
    for (int64_t start = 0; start < n; start += opts.batch) {
      int64_t count = std::min(opts.batch, n - start);
      loadBatch(inst, fit, order.data(), start, count);
      int64_t example0 = int64_t(epoch - 1) * n + start;
      inst.setExample0(example0);
      if (callbacks.batchBegin) {
        indices.resize(size_t(count));
        for (int64_t r = 0; r < count; ++r)
          indices[size_t(r)] = fit.index(order[size_t(start + r)]);
        callbacks.batchBegin(indices, example0);
      }
      bool monitored = m.numMonitors > 0 && monitorEvery > 0 && batchIndex % monitorEvery == 0;
      inst.setMonitoring(monitored);
      if (monitored)
        clearMonitors(inst);
      exec::runBlocks(inst, m.trainBlocks, m.numTrainBlocks);
      if (monitored) {
        std::vector<double> values = readMonitors(inst);
        epochMonitors.add(values);
        windowMonitors.add(values);
      }
      if (callbacks.batchEnd)
        callbacks.batchEnd();
      BatchScore score = scoreBatch(inst, fit, order.data(), start, count);
      ++batchIndex;
      watch.afterBatch(score, epoch, batchIndex, start + count >= n);
      tally.add(score, count);
      if (opts.monitorEvery > 0 && m.numMonitors > 0 &&
          (batchIndex % opts.monitorEvery == 0 || start + count >= n)) {
        if (callbacks.monitors)
          callbacks.monitors(epoch, batchIndex, windowMonitors.means());
        windowMonitors = MonitorMeans(m);
      }
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
    for (double v : epochMonitors.means())
      em.monitors.push_back(std::isfinite(v) ? std::optional<double>(v) : std::nullopt);
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
  result.examplesPerSecond = result.trainSeconds > 0
                                 ? double(n) * double(result.epochs.size()) / result.trainSeconds
                                 : 0.0;
  return result;
}

} // namespace bdl
