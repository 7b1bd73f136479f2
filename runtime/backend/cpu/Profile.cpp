//===- backend/cpu/Profile.cpp - Timing the executor's ops ----------------===//
//
// Entries are keyed by the op's (or the phase's) address in the descriptor,
// which lives as long as the program. Only the thread that walks the
// blocks records: a phase split by examples is one entry.
//
//===----------------------------------------------------------------------===//

#include "Profile.h"

#include "bdl/executor.h"
#include "bdl/model.h"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bdl::cpu {

namespace {

struct Recorder {
  bool on = false;
  int depth = 0;                                  // timed scopes open
  std::unordered_map<const void *, size_t> index; // key -> entries[i]
  std::unordered_map<const void *, size_t> evalIndex;
  std::vector<OpTiming> entries;
};

Recorder &recorder() {
  static Recorder r;
  return r;
}

} // namespace

bool profiling() { return recorder().on && recorder().depth == 0; }
void enterTimed() { ++recorder().depth; }
void leaveTimed() { --recorder().depth; }

void setProfiling(bool on) {
  Recorder &r = recorder();
  r.on = on;
  r.depth = 0;
  if (on) {
    r.index.clear();
    r.evalIndex.clear();
    r.entries.clear();
  }
}

std::vector<OpTiming> opTimings() { return recorder().entries; }

void recordTime(const BdlBlock &block, bool evaluation, const BdlOp *op, int32_t index,
                double seconds) {
  Recorder &r = recorder();
  const void *key = op ? static_cast<const void *>(op) : static_cast<const void *>(&block);
  auto &keys = evaluation ? r.evalIndex : r.index;
  auto [it, fresh] = keys.try_emplace(key, r.entries.size());
  if (fresh) {
    OpTiming t;
    t.block = std::string(evaluation ? "eval " : "train ") + (block.name ? block.name : "?");
    if (!op) {
      t.part = "phase", t.index = -1, t.kind = "phase", t.name = "split by examples";
    } else {
      bool prologue = op >= block.prologueOps && op < block.prologueOps + block.numPrologueOps;
      bool phase = block.steps > 1 || block.stepsFn;
      t.part = prologue ? "prologue" : phase ? "step" : "once";
      t.index = index, t.kind = opKindName(op->kind), t.name = op->name ? op->name : "?";
    }
    r.entries.push_back(std::move(t));
  }
  OpTiming &t = r.entries[it->second];
  ++t.calls;
  t.seconds += seconds;
}

} // namespace bdl::cpu
