//===- bdl/trace.h - Per-step traces, replays and loaded tensors -*- C++ -*-===//
//
// The tools that compare a compiled model with a reference implementation
// step for step: record chosen tensors after every simulated step (--trace),
// feed recorded draws back in place of the model's own (--replay), and start
// from given tensors (--load).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TRACE_H
#define BDL_TRACE_H

#include "bdl/executor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bdl {

class ModelInstance;

/// Index of the named tensor; throws UsageError naming `flag` and listing
/// the valid names (those `allowed` accepts) when there is none.
int findTensor(const ModelInstance &instance, const std::string &name, const std::string &flag,
               bool (*allowed)(int32_t role) = nullptr);

/// Records the values of some tensors after every step of the first
/// `examples` training examples: DIR/NAME.npy (float32, time-major: [T, n]
/// for row 0 of a batch-sized tensor at batch 1 or a [1, n] tensor,
/// [T, batch, n] at a larger batch, [T, rows, cols] for other matrices) and
/// DIR/trace.json (each tensor's file, shape and which rows; each example's
/// dataset index and sequence number; each block's name, first step and
/// length). Drive it from TrainCallbacks.batchBegin / batchEnd.
class Tracer : public cpu::StepObserver {
public:
  /// Throws UsageError on an unknown name.
  Tracer(const ModelInstance &instance, const std::vector<std::string> &names, int64_t examples,
         std::string dir);
  ~Tracer() override;

  void batchBegin(const std::vector<int64_t> &indices, int64_t example0);
  void batchEnd();
  /// Writes the files (once) if any step was recorded; called by batchEnd
  /// when the last traced example is done, and by the owner at the end of
  /// training for a run with fewer examples.
  void finish();
  const std::string &directory() const { return dir; }
  bool written() const { return wrote; }

  void afterStep(const ModelInstance &instance, const BdlContext &ctx) override;

private:
  struct Series {
    int tensor;
    bool batched;  // a batch-sized tensor
    int64_t width; // floats per step
    std::vector<float> values;
  };
  struct BlockSpan {
    int64_t batchIndex;
    std::string name;
    int64_t firstStep, length;
  };

  const ModelInstance &inst;
  std::vector<Series> series;
  int64_t wanted;
  std::string dir;
  int64_t batchSize = 0; // of the traced batches
  int64_t traced = 0;    // examples begun
  int64_t steps = 0;     // rows recorded
  bool active = false, wrote = false;
  std::vector<std::pair<int64_t, int64_t>> examples; // dataset index, sequence
  std::vector<BlockSpan> blocks;
  int32_t lastBlock = -1;
  int64_t batches = 0;
};

/// Parses `--replay NAME=FILE.npy` and installs it on the allocated
/// instance: FILE is [T, n] (float32 or float64), row t replacing tensor
/// NAME at the t-th execution of its REPLAY op. Throws UsageError on a
/// malformed argument or unknown name, Error on a file that does not fit.
void installReplay(ModelInstance &instance, const std::string &assignment);

/// Loads DIR/NAME.npy into every weight, fixed, state or optimiser tensor
/// NAME that has one (float32 or float64; a vector as (n,), (n, 1) or
/// (1, n)); returns the names loaded. Throws Error naming the file and both
/// shapes on a mismatch, and when DIR holds no file for any tensor.
std::vector<std::string> loadTensors(ModelInstance &instance, const std::string &dir);

} // namespace bdl

#endif // BDL_TRACE_H
