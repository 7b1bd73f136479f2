//===- SourceLocations.cpp - Where a parsed module's parts were written ---===//
#include "ir/Parser.h"

namespace bdl::ir {

using llvm::SMLoc;

SMLoc SourceLocations::find(const Module &m, const Entity &e) const {
  auto at = [&](const std::vector<SMLoc> &locs, size_t i) {
    return i < locs.size() ? locs[i] : module;
  };
  if (auto *p = std::get_if<const Param *>(&e))
    for (size_t i = 0; i < m.params.size(); ++i)
      if (&m.params[i] == *p)
        return at(params, i);
  if (auto *t = std::get_if<const Tensor *>(&e))
    for (size_t i = 0; i < m.tensors.size(); ++i)
      if (&m.tensors[i] == *t)
        return at(tensors, i);
  for (int s = 0; s < 2; ++s) {
    const std::vector<Block> &blocks = s == 0 ? m.trainBlocks : m.evalBlocks;
    const std::vector<BlockLocations> &blockLocs = s == 0 ? trainBlocks : evalBlocks;
    for (size_t b = 0; b < blocks.size() && b < blockLocs.size(); ++b) {
      const BlockLocations &bl = blockLocs[b];
      if (auto *p = std::get_if<const Block *>(&e); p && *p == &blocks[b])
        return bl.block;
      for (size_t o = 0; o < blocks[b].ops.size(); ++o) {
        const Op &op = blocks[b].ops[o];
        auto *g = std::get_if<GemmOp>(&op);
        auto *k = std::get_if<KernelOp>(&op);
        if (auto *p = std::get_if<const GemmOp *>(&e); p && *p == g)
          return at(bl.ops, o);
        if (auto *p = std::get_if<const KernelOp *>(&e); p && *p == k)
          return at(bl.ops, o);
        if (auto *p = std::get_if<const KernelOutput *>(&e); p && k)
          for (size_t i = 0; i < k->outputs.size(); ++i)
            if (&k->outputs[i] == *p)
              return o < bl.outputs.size() && i < bl.outputs[o].size() ? bl.outputs[o][i]
                                                                       : at(bl.ops, o);
      }
    }
  }
  return module;
}

} // namespace bdl::ir
