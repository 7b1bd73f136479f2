//===- core/Descriptor.h - Walking a compiled model's descriptor -*- C++ -*-===//
//
// What core/'s files share about a BdlModel (bdl/abi.h): its names, which
// may be null in a hand-made or damaged descriptor, and its ops in order.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CORE_DESCRIPTOR_H
#define BDL_CORE_DESCRIPTOR_H

#include "bdl/abi.h"

#include <string>
#include <utility>

namespace bdl {

/// A descriptor's name for messages: "(null)" when it has none.
inline std::string nameOr(const char *s) { return s ? s : "(null)"; }

/// Calls f(block, op) for every op of the train blocks, then the eval blocks,
/// each block's prologue before its steps.
template <typename F> void forEachOp(const BdlModel &m, F f) {
  for (auto [blocks, n] :
       {std::pair{m.trainBlocks, m.numTrainBlocks}, std::pair{m.evalBlocks, m.numEvalBlocks}})
    for (int b = 0; b < n; ++b) {
      for (int o = 0; o < blocks[b].numPrologueOps; ++o)
        f(blocks[b], blocks[b].prologueOps[o]);
      for (int o = 0; o < blocks[b].numOps; ++o)
        f(blocks[b], blocks[b].ops[o]);
    }
}

} // namespace bdl

#endif // BDL_CORE_DESCRIPTOR_H
