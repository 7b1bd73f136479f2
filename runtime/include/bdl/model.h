//===- bdl/model.h - One instance of a compiled model -----------*- C++ -*-===//
//
// Turns the static BdlModel descriptor into live memory: parameter values
// (defaults overridden by --set), resolved tensor shapes, 64-byte-aligned
// buffers sized for the largest batch, and the `hp` scalar array every
// kernel reads.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_MODEL_H
#define BDL_MODEL_H

#include "bdl/abi.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bdl {

const char *roleName(int32_t role);
const char *initName(int32_t init);
const char *paramTypeName(int32_t type);
/// "kernel", "gemm", "rotate", "replay" or "image" (BdlOpKind).
const char *opKindName(int32_t kind);
/// Whether `op` runs for the params in `hp` (BdlOp.guard): true for an op
/// without a guard.
bool guardHolds(const BdlOp &op, const float *hp);
/// `op`'s guard with the params' names ("symmetric and not noisy_sym or
/// ..."), or "" for an op without one.
std::string guardText(const BdlModel &m, const BdlOp &op);

/// Checks what the runtime relies on (ABI version, indices in range, kernel
/// pointers present); throws bdl::Error naming the offending entry.
void verifyModel(const BdlModel &model);

class ModelInstance {
public:
  /// Verifies the descriptor; parameters take their default values.
  explicit ModelInstance(const BdlModel &model);

  const BdlModel &model() const { return desc; }

  // Parameters. Those that size tensors can only change before allocate().
  int numParams() const { return desc.numParams; }
  /// Index of the named parameter, or -1.
  int findParam(std::string_view name) const;
  double param(int index) const { return params[index]; }
  /// Sets a parameter from its textual value, checking the type; throws
  /// UsageError on an unknown name (listing the known ones) or a bad value.
  void setParam(std::string_view name, std::string_view value);
  /// Applies one `name=value` assignment as given to --set.
  void applyAssignment(std::string_view assignment);
  void setParamValue(int index, double value);
  /// Whether the parameter is derived from others (BdlParamDesc.derived):
  /// recomputed by BdlModel.derive after every change, never set.
  bool isDerived(int index) const { return desc.params[index].derived != 0; }

  /// Resolves every shape and allocates storage for batches up to
  /// `maxBatch`; the contents are zero until initialise().
  void allocate(int64_t maxBatch);
  bool allocated() const { return maxBatchSize > 0; }
  int64_t maxBatch() const { return maxBatchSize; }

  /// Sets WEIGHT and FIXED tensors from their initialisers (tensor i draws
  /// from Philox stream i) and zeroes every other tensor; `seed` also keys
  /// the kernels' draws (BdlContext.seed) and the simulated time restarts.
  void initialise(uint64_t seed);

  // The integer context (BdlContext) of the executor's calls. The seed is
  // the run's; the time counts steps since the state was last reset; the
  // example is the sequence number of the current batch's row 0.
  uint64_t seed() const { return runSeed; }
  int64_t time() const { return simTime; }
  void setTime(int64_t time) { simTime = time; }
  int64_t example0() const { return firstExample; }
  void setExample0(int64_t example) { firstExample = example; }
  /// Whether the next runs of the train blocks compute the monitors (run
  /// the blocks marked BdlBlock.monitorsOnly); off until set.
  bool monitoring() const { return monitorsOn; }
  void setMonitoring(bool on) { monitorsOn = on; }
  /// Whether the current epoch is a warm-up one: the blocks marked
  /// BdlBlock.afterWarmup do not run. Off until set.
  bool warmingUp() const { return warmupOn; }
  void setWarmingUp(bool on) { warmupOn = on; }

  /// Zeroes the current batch's part of every STATE tensor (all of one that
  /// is not batch-sized) and restarts the simulated time.
  void resetState();

  /// Moves the history first, first+1, ..., first+count-1 one step back
  /// (BDL_OP_ROTATE): each takes the buffer of the one before it and `first`
  /// the oldest; pointers move, values do not.
  void rotate(int32_t first, int32_t count);

  /// Recorded values that BDL_OP_REPLAY writes into a tensor in place of the
  /// ones its kernel drew: row t of `values` ([rows, cols], time-major) at the
  /// op's t-th execution (counted from 0).
  struct Replay {
    std::string source; // the file, for messages
    std::vector<float> values;
    int64_t rows = 0, cols = 0;
    int64_t next = 0; // the row the next REPLAY op writes
  };
  /// Installs a replay for `tensor` (after allocate()); throws Error naming
  /// the source when its width is not the tensor's row width.
  void setReplay(int tensor, Replay replay);
  /// The replay of `tensor`, or null.
  Replay *replay(int tensor) { return replays.empty() ? nullptr : replays[tensor].get(); }

  /// Selects the number of rows the batch dimension resolves to.
  void setBatch(int64_t batch);
  /// The epoch kernels see as hp[BDL_HP_EPOCH], counted from 0.
  void setEpoch(int epoch);
  int64_t batch() const { return currentBatch; }

  /// An extent under the current batch size and parameter values.
  int64_t resolve(BdlDim dim) const { return resolveFor(dim, currentBatch); }
  int64_t rows(int tensor) const { return resolve(desc.tensors[tensor].rows); }
  int64_t cols(int tensor) const { return resolve(desc.tensors[tensor].cols); }
  /// The values of one example in a per-example tensor: its columns times
  /// its rows per example (an image's pixels).
  int64_t exampleWidth(int tensor) const {
    return resolveFor(desc.tensors[tensor].rows, 1) * cols(tensor);
  }

  /// Floats allocated for a tensor: its extent at the largest batch.
  size_t capacity(int tensor) const { return capacities[tensor]; }
  float *data(int tensor) { return table[tensor]; }
  const float *data(int tensor) const { return table[tensor]; }
  /// The table handed to kernels, indexed like BdlModel.tensors.
  float *const *tensorTable() const { return table.data(); }
  const float *hp() const { return hpValues.data(); }

  /// A human-readable extent: "B" for the batch, "100 (hidden)" for a
  /// parameter-sized one.
  std::string describeDim(BdlDim dim) const;

private:
  int64_t resolveFor(BdlDim dim, int64_t batch) const;
  /// Integer value of a parameter that sizes a tensor; throws UsageError
  /// when it is not a positive integer.
  int64_t dimParam(int index, const char *what) const;

  /// Runs BdlModel.derive on the hp values and copies the derived ones into
  /// `params`; refuses a change to a derived extent once allocated.
  void derive();
  /// Throws UsageError naming the first parameter outside its
  /// BdlParamDesc.range, and what needs the range.
  void checkRanges() const;

  struct FreeDeleter {
    void operator()(float *p) const { std::free(p); }
  };

  const BdlModel &desc;
  std::vector<double> params;
  std::vector<bool> sizesStorage; // per parameter: some tensor's extent
  std::vector<float> hpValues;
  std::vector<std::unique_ptr<float, FreeDeleter>> buffers;
  std::vector<float *> table;
  std::vector<size_t> capacities; // floats allocated per tensor
  int64_t maxBatchSize = 0;
  int64_t currentBatch = 0;
  uint64_t runSeed = 0;
  int64_t simTime = 0;
  int64_t firstExample = 0;
  bool monitorsOn = false;
  bool warmupOn = false;
  std::vector<std::unique_ptr<Replay>> replays; // by tensor; empty when none
};

} // namespace bdl

#endif // BDL_MODEL_H
