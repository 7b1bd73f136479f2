//===- backend/cpu/Profile.h - Timing the executor's ops --------*- C++ -*-===//
//
// The recorder behind cpu::setProfiling and cpu::opTimings (bdl/executor.h).
// Off, it costs the Executor one branch per op.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CPU_PROFILE_H
#define BDL_BACKEND_CPU_PROFILE_H

#include "bdl/abi.h"

#include <chrono>

namespace bdl::cpu {

/// Whether ops are being timed now: profiling is on, and no enclosing scope
/// (a phase split by examples) is timed already.
bool profiling();
void enterTimed();
void leaveTimed();

/// Adds one call of `seconds` to the entry of `op` (the part-th ... of
/// `block`; evaluation blocks are told apart from training ones), or, with
/// a null op, to the entry of the whole phase `block`.
void recordTime(const BdlBlock &block, bool evaluation, const BdlOp *op, int32_t index,
                double seconds);

/// Times its scope into recordTime when profiling is on.
class ScopedOpTimer {
public:
  ScopedOpTimer(const BdlBlock &block, bool evaluation, const BdlOp *op, int32_t index)
      : block(block), evaluation(evaluation), op(op), index(index), on(profiling()) {
    if (on) {
      enterTimed();
      start = std::chrono::steady_clock::now();
    }
  }
  ~ScopedOpTimer() {
    if (!on)
      return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    leaveTimed();
    recordTime(block, evaluation, op, index, seconds);
  }
  ScopedOpTimer(const ScopedOpTimer &) = delete;
  ScopedOpTimer &operator=(const ScopedOpTimer &) = delete;

private:
  const BdlBlock &block;
  bool evaluation;
  const BdlOp *op;
  int32_t index;
  bool on;
  std::chrono::steady_clock::time_point start;
};

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_PROFILE_H
