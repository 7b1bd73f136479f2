//===- SourceLocations.cpp - Where a parsed module's parts were written ---===//
#include "ir/Parser.h"

#include <type_traits>

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
      for (int list = 0; list < 2; ++list) {
        const std::vector<Op> &ops = list == 0 ? blocks[b].prologue : blocks[b].ops;
        const std::vector<SMLoc> &opLocs = list == 0 ? bl.prologueOps : bl.ops;
        const auto &outputLocs = list == 0 ? bl.prologueOutputs : bl.outputs;
        for (size_t o = 0; o < ops.size(); ++o) {
          const Op &op = ops[o];
          auto *k = std::get_if<KernelOp>(&op);
          bool same = std::visit(
              [&](const auto &p) -> bool {
                using P = std::decay_t<decltype(p)>;
                if constexpr (std::is_pointer_v<P>) {
                  using T = std::remove_cv_t<std::remove_pointer_t<P>>;
                  if constexpr (std::is_same_v<T, GemmOp> || std::is_same_v<T, KernelOp> ||
                                std::is_same_v<T, RotateOp> || std::is_same_v<T, ReplayOp> ||
                                std::is_same_v<T, GradOp> || std::is_same_v<T, ImageOp>)
                    return std::get_if<T>(&op) == p;
                }
                return false;
              },
              e);
          if (same)
            return at(opLocs, o);
          if (auto *p = std::get_if<const KernelOutput *>(&e); p && k)
            for (size_t i = 0; i < k->outputs.size(); ++i)
              if (&k->outputs[i] == *p)
                return o < outputLocs.size() && i < outputLocs[o].size() ? outputLocs[o][i]
                                                                         : at(opLocs, o);
        }
      }
    }
  }
  return module;
}

} // namespace bdl::ir
