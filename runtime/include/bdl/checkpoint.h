//===- bdl/checkpoint.h - Resumable training state --------------*- C++ -*-===//
//
// A checkpoint holds what a killed run needs to continue as if it had never
// stopped: every tensor that carries across batches (weights, optimiser
// state, model state) and the fixed ones, the number of epochs done, the
// position of the random streams, the run's settings and parameter values,
// and the metrics of the epochs done. One file, replaced atomically; its
// format is described in runtime/README.md.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CHECKPOINT_H
#define BDL_CHECKPOINT_H

#include "bdl/abi.h"
#include "bdl/report.h"
#include "bdl/train.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bdl {

class ModelInstance;

/// Bumped on any change to the layout or to the meaning of a field; a
/// checkpoint of another version is refused.
inline constexpr uint32_t kCheckpointFormatVersion = 2;

/// A hash of everything in the descriptor that gives a checkpoint's numbers
/// their meaning: the tensors (names, roles, initialisers, shapes), the
/// parameters (names, types, defaults, tune ranges), the blocks and their ops
/// (names, operands, shapes, scalars), the designated tensors and the train
/// block's defaults. Not the kernel bodies (their names stand for them), the
/// source path or any pointer.
uint64_t modelHash(const BdlModel &model);

/// Writes `bytes` to `path` so that a crash at any point leaves either the
/// previous file or the whole new one: temporary file, fsync, rename, fsync
/// of the directory (which makes the rename itself durable).
void writeAtomically(const std::string &path, const std::string &bytes);

/// The tensors a checkpoint holds: those that carry across batches and the
/// fixed ones.
bool isCheckpointed(int32_t role);

struct CheckpointState {
  int epoch = 0; // epochs done; the next one to run is epoch + 1
  /// The run's settings; `seed` is also the position of every random stream,
  /// whose counters are functions of (seed, epoch, tensor), so nothing more is
  /// needed for the next epoch to shuffle as the uninterrupted run would.
  RunInfo run;
  std::vector<double> params;        // indexed like BdlModel.params
  std::vector<EpochMetrics> history; // epochs 1..epoch
  /// The executor's context: steps simulated since the state was last reset
  /// (ModelInstance::time), and the sequence number of the next training
  /// example (epoch * examples per epoch), which the trainer recomputes.
  int64_t time = 0;
  int64_t nextExample = 0;
};

/// A checkpoint read and verified, its tensors not yet in an instance.
struct LoadedCheckpoint {
  std::string path;
  CheckpointState state;
  std::vector<std::vector<float>> tensors; // indexed like BdlModel.tensors
};

/// DIR/checkpoint/checkpoint.bdlckpt
std::string checkpointPath(const std::string &outDir);

/// Writes the instance's checkpointed tensors and `state` to `path`: to a
/// temporary file first, flushed to disk, then renamed over `path`, so a
/// crash leaves either the old checkpoint or the new one. Throws
/// DivergedError (writing nothing) if a tensor is not finite, Error on I/O
/// failure.
void writeCheckpoint(const std::string &path, const ModelInstance &instance,
                     const CheckpointState &state);

/// Reads `path` and checks it fits `model`; throws Error naming the file when
/// it is missing, not a checkpoint, of another format version, truncated or
/// corrupt, or written by a different model.
LoadedCheckpoint readCheckpoint(const std::string &path, const BdlModel &model);

/// Copies the loaded tensors into an instance allocated with the
/// checkpoint's parameter values and sets its simulated time; throws Error
/// on a size mismatch.
void restoreCheckpoint(ModelInstance &instance, const LoadedCheckpoint &checkpoint);

} // namespace bdl

#endif // BDL_CHECKPOINT_H
