//===- bdl/executor.h - Walking a model's blocks on the CPU -----*- C++ -*-===//
#ifndef BDL_EXECUTOR_H
#define BDL_EXECUTOR_H

#include "bdl/abi.h"
#include "bdl/model.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bdl {

/// Every backend's rule for a block marked monitorsOnly, around its run:
/// skipped unless the instance is monitoring; when it runs, it advances no
/// simulated time; and it takes no block index of its own, so the draws of
/// every other block are keyed the same whether a batch is monitored or
/// not. `monitorBlocks` counts them across the blocks of one call. A block
/// marked afterWarmup is skipped in warm-up epochs (and keeps its index).
class MonitorBlockScope {
public:
  MonitorBlockScope(ModelInstance &instance, const BdlBlock &block, int32_t &monitorBlocks)
      : instance(instance), monitorBlocks(monitorBlocks), isMonitor(block.monitorsOnly != 0),
        time(instance.time()) {
    skip = (isMonitor && !instance.monitoring()) || (block.afterWarmup && instance.warmingUp());
  }
  ~MonitorBlockScope() {
    if (!isMonitor)
      return;
    instance.setTime(time);
    ++monitorBlocks;
  }
  MonitorBlockScope(const MonitorBlockScope &) = delete;
  MonitorBlockScope &operator=(const MonitorBlockScope &) = delete;

  /// The block's index for BdlContext.block.
  int32_t index(int32_t b) const { return b - monitorBlocks; }
  bool skip;

private:
  ModelInstance &instance;
  int32_t &monitorBlocks;
  bool isMonitor;
  int64_t time;
};

namespace cpu {

/// Kernels with at least this many elements are split over rows between
/// threads; smaller ones cost more to hand out than to run. From
/// bench/pool_breakeven on the idle 2-core development VM (bench/README.md):
/// with the pool polling, a hand-over costs 0.2 us, and two threads first
/// beat one at 12,000 elements for the cheapest kernel (a bias add, 1.03x;
/// 1.16x at 16,000) and at 6,000 for a tanh-like one.
constexpr int64_t kParallelKernelElements = 16384;

/// GEMMs of at least this many flops (2 m n k) are split into bands of C,
/// one per thread; smaller ones run whole on the calling thread. From the
/// same run: two bands first beat one whole call at 221,184 flops for square
/// products (48^3, 1.19x) and 147,456 for outer products with k = 32
/// (48x48x32, 1.08x; 1.32x at 262,144).
constexpr int64_t kParallelGemmFlops = 262144;

/// Host-side copies split over the pool from this size. A batch's gather of
/// dataset rows (random rows, bound by memory latency) of fa_mlp at batch 256
/// (800 KB) took 5% of the training loop on one thread; below ~100 KB a
/// copy is done in about the time the pool takes to hand it over.
constexpr int64_t kParallelHostBytes = 262144;

/// Sees the model after every step of every block while installed with
/// setStepObserver (tracing); `ctx` is the step's context.
class StepObserver {
public:
  virtual ~StepObserver() = default;
  virtual void afterStep(const ModelInstance &instance, const BdlContext &ctx) = 0;
};

/// Runs the blocks in order. Per block: with resetState, the state is reset
/// (ModelInstance::resetState); the step count is stepsFn's value when
/// stepsFn is set (evaluated once per call); the prologue runs once; then
/// `steps` repetitions of the ops. GEMMs go to cblas_sgemm; shapes are
/// checked against the current batch size and a mismatch throws bdl::Error
/// naming the op. Every kernel gets the BdlContext of its call: the
/// instance's seed, example0 and time, the step and the block index (with
/// BDL_EVAL_BLOCK when `evaluation`); the time advances by one per step.
/// REPLAY ops overwrite their tensor from the instance's replay, in training
/// only (evaluation draws).
void runBlocks(ModelInstance &instance, const BdlBlock *blocks, int32_t numBlocks,
               bool evaluation = false);

/// Whether a phase (a block of several steps) runs as one task per slice of
/// the batch's examples, each thread running every step for its rows
/// (docs/threads.md), given a batch of more than one example, two threads
/// and enough work; otherwise its ops run one after the other.
bool splitsByExamples(ModelInstance &instance, const BdlBlock &block);

/// Forgets the products cached from tensors the host wrote (memoised
/// products; with `weights`, every weight's transposed copy for spike
/// products too): call after writing tensors outside the blocks (a batch's
/// inputs; with `weights`, initialisation, loading, restoring). Learning
/// blocks do it themselves.
void invalidateCaches(bool weights = true);

/// Installs (or, with null, removes) the observer of every step.
void setStepObserver(StepObserver *observer);
/// The installed observer, or null (every backend calls it).
StepObserver *currentStepObserver();

/// Whether `op` runs now: it has no guard, its guard holds for the
/// instance's params (BdlOp.guard), or a step observer is installed (a
/// trace may read what nothing else does). Every backend asks.
bool opRuns(const ModelInstance &instance, const BdlOp &op);

/// Sets the size of the thread pool that runs kernels and GEMMs; OpenBLAS
/// itself is kept single-threaded (docs/threads.md). Until called, the pool
/// uses every hardware thread.
void setThreads(int threads);

/// The kernel thread pool's size, the calling thread included.
int threads();

/// Where the CPU executor's time goes (net train --profile): one entry per
/// op of the schedule that ran, in the order they first ran, or per phase
/// split by examples (its threads run all its ops, timed as a whole).
struct OpTiming {
  std::string block; // "train forward", "eval forward", ...
  std::string part;  // "prologue", "step", "once" (a one-step block) or "phase"
  int32_t index = 0; // the op's index in its part; -1 for a phase
  std::string kind;  // "kernel", "gemm", "rotate", "replay", "image" or "phase"
  std::string name;
  int64_t calls = 0;
  double seconds = 0; // wall time, the op's own threads included
};

/// Starts (clearing what was recorded) or stops timing every op: two clock
/// reads and a lookup per op, about 70 ns, so a spiking run at batch 1
/// (ops of a few microseconds) takes a third longer profiled, a rate model's
/// batch about the same.
void setProfiling(bool on);
std::vector<OpTiming> opTimings();

/// Host-side work that follows the pool's rule (docs/threads.md): calls
/// body(begin, end) on contiguous slices of [0, count), one per pool thread,
/// when the work moves at least kParallelHostBytes (count * bytesEach);
/// otherwise body(0, count) on this thread. Slices must be independent.
void forSlices(int64_t count, int64_t bytesEach,
               const std::function<void(int64_t begin, int64_t end)> &body);

} // namespace cpu

/// A GEMM op's shape under the current batch and params, for every backend:
/// row-major C[m, n] = alpha op(A)[m, k] op(B)[k, n] + beta C, leading
/// dimensions lda, ldb, ldc, alpha and beta scaled by their hp slots.
/// Throws Error naming the op when the shapes disagree.
struct GemmShape {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  float alpha = 1, beta = 0;
};
GemmShape gemmShape(const ModelInstance &instance, const BdlBlock &block, const BdlOp &op);

/// The step count of `block` at this call: `steps`, or stepsFn's value
/// (evaluated with ctx.step = ctx.steps = 0); throws Error when negative.
int32_t blockSteps(const ModelInstance &instance, const BdlBlock &block, const BdlContext &ctx);

/// A REPLAY op (in a train block): overwrites the host buffer of op.c with
/// the next recorded row when --replay named it; a no-op otherwise.
void applyReplay(ModelInstance &instance, const BdlBlock &block, const BdlOp &op);

/// An IMAGE op on the host buffers (bdl/image.h), its examples split over
/// the CPU's pool. The CUDA backend calls it too, between a download and an
/// upload, until it has device kernels for these ops.
void runImageOp(ModelInstance &instance, const BdlOp &op);

} // namespace bdl

#endif // BDL_EXECUTOR_H
