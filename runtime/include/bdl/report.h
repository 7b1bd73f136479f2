//===- bdl/report.h - What a run leaves behind ------------------*- C++ -*-===//
//
// metrics.csv and log.jsonl (one row per epoch, flushed as written, so a
// killed or diverged run keeps its history), summary.json, the weights as
// .npy files, and the human-facing epoch and progress lines.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_REPORT_H
#define BDL_REPORT_H

#include "bdl/executor.h"
#include "bdl/train.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace bdl {

class ModelInstance;

/// The settings of a run, as recorded in its logs.
struct RunInfo {
  std::string dataset;
  int epochs = 0;
  int64_t batch = 0;
  uint64_t seed = 0;
  int threads = 0;
  int64_t validation = 0;
  int warmup = 0;            // the first epochs, without the `after warmup` blocks
  int64_t limit = 0;         // --limit, 0 when every example is used
  bool shuffle = true;       // false with --no-shuffle
  int64_t trainExamples = 0; // per epoch, validation excluded
  int checkpointEvery = 0;   // epochs; 0: no checkpoints
  int64_t monitorEvery = 0;  // --monitor-every K (batches); 0: sampled, -1: --no-monitors
  std::string dataDir;
  int resumedFromEpoch = 0; // epochs done when the run was resumed, or 0
};

/// Writes DIR/metrics.csv, DIR/log.jsonl and, on finish(), DIR/summary.json.
class RunLog {
public:
  /// Creates `outDir` if needed and writes the CSV header, then a row for
  /// each epoch of `history` (the epochs a resumed run has already done),
  /// replacing any rows a killed run wrote after its checkpoint; so too in
  /// DIR/monitors.csv.
  RunLog(const std::string &outDir, const ModelInstance &instance, const RunInfo &info,
         const std::vector<EpochMetrics> &history = {});

  void epoch(const EpochMetrics &metrics);
  /// A row of DIR/monitors.csv (created with its header on the first):
  /// TrainCallbacks.monitors' arguments.
  void monitorRow(int epoch, int64_t batch, const std::vector<double> &values);
  /// Every epoch recorded, the resumed history included.
  const std::vector<EpochMetrics> &history() const { return epochs; }

  /// Writes summary.json from the epochs seen so far; `error` (e.g. the
  /// divergence message) is recorded when not empty.
  void finish(const std::string &error = {});

private:
  /// Keeps the header and the rows of DIR/monitors.csv up to `lastEpoch`.
  void keepMonitorRows(int lastEpoch);

  std::string dir;
  const ModelInstance &instance;
  RunInfo info;
  std::ofstream csv, jsonl, monitorsCsv;
  std::vector<EpochMetrics> epochs;
};

/// Writes DIR/eval.json for the eval command.
void writeEvalSummary(const std::string &path, const ModelInstance &instance,
                      const std::string &dataset, const std::string &weightsDir,
                      const EvalResult &result);

/// The .npy shape of a tensor: (n,) for a [1, n] vector, else (rows, cols).
std::vector<int64_t> npyShape(const ModelInstance &instance, int tensor);

/// Saves every WEIGHT and FIXED tensor as DIR/<name>.npy.
void saveWeights(const ModelInstance &instance, const std::string &dir);

/// Loads every WEIGHT and FIXED tensor from DIR/<name>.npy (or from
/// DIR/weights/, so a training --out directory works too), checking shapes.
/// Returns the directory actually read.
std::string loadWeights(ModelInstance &instance, const std::string &dir);

/// "epoch 3/5  loss 0.4123  train_acc 0.8512  test_acc 0.8421  3.1 s  19350 ex/s"
std::string formatEpochLine(const EpochMetrics &metrics);

/// `path` as CSV, one row per entry of cpu::opTimings() (net train
/// --profile): block, part, index, kind, name, calls, seconds, mean_us and
/// share (of all the rows' seconds), slowest first. Returns the rows in that
/// order.
std::vector<cpu::OpTiming> writeProfile(const std::string &path);

/// A line on stderr redrawn in place with '\r', only when stderr is a
/// terminal: logs redirected to files stay free of control characters.
class ProgressLine {
public:
  explicit ProgressLine(bool wanted);
  ~ProgressLine() { clear(); }
  void update(int epoch, int epochs, int64_t done, int64_t total);
  void clear();

private:
  bool enabled;
  bool shown = false;
  std::chrono::steady_clock::time_point last;
};

} // namespace bdl

#endif // BDL_REPORT_H
