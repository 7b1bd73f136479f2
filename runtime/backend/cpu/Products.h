//===- backend/cpu/Products.h - Products of weights in phases -*- C++ -*-===//
//
// What the Executor asks of Products.cpp: whether a phase's product is a
// spike or short product (and then its result), the update that keeps a
// weight's transposed copy current, and memoised products.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_BACKEND_CPU_PRODUCTS_H
#define BDL_BACKEND_CPU_PRODUCTS_H

#include "bdl/abi.h"
#include "bdl/model.h"

#include "Parallel.h"
#include "ThreadPool.h"

#include <cstdint>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace bdl::cpu {

/// A block of several steps (or a drawn number of them).
inline bool isPhase(const BdlBlock &block) { return block.steps > 1 || block.stepsFn; }

/// Every block's run starts with this: the cached copies and products
/// derived from what the block may change become stale.
void noteBlockStart(const BdlBlock &block);

struct Transposed;

/// Weights' transposes for the threads of a phase split by examples: made
/// by the first thread whose product turns out sparse, then shared
/// read-only. A rate model's phases never make one.
class SharedTransposes {
public:
  const Transposed &get(const BdlModel &model, int32_t tensor, const GemmArgs &g);

private:
  std::mutex mutex;
  std::unordered_map<int32_t, const Transposed *> made;
};

/// The product as runs of scaled rows when it is one of a phase's spike or
/// short products; false (nothing written) otherwise. `shared`: where the
/// threads of a split phase get B^T.
bool sparseProduct(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                   const GemmArgs &g, SharedTransposes *shared = nullptr);

/// The GEMM of a weight's only update (BdlOp.soleWriter) over `threads`,
/// keeping the weight's transposed copy current where it can.
void updateKeepingTranspose(ThreadPool &threads, ModelInstance &inst, const BdlOp &op,
                            const GemmArgs &g);

/// A product of a weight with vectors that are the same as the last time
/// this product ran in this weight version (an input held for a whole
/// phase, a rate that has settled) is the same product: the last result is
/// copied instead of recomputed. This is loop-invariant hoisting decided at
/// run time, where a model's flags (--set spiking=false) show what is
/// constant. Products are told apart by their operand tensors, not by op:
/// the forward and the target phase compute the same input product.
using MemoKey = std::tuple<int32_t, int32_t, int32_t, int32_t, int32_t>;

inline MemoKey memoKey(const BdlOp &op) { return {op.a, op.b, op.c, op.transA, op.transB}; }

struct Memo {
  uint64_t run = ~uint64_t(0);
  float alpha = 0;
  std::vector<float> a, c;
};

bool memoHit(const Memo &memo, const GemmArgs &g);
void memoStore(Memo &memo, const GemmArgs &g);
bool memoisable(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                const GemmArgs &g);

} // namespace bdl::cpu

#endif // BDL_BACKEND_CPU_PRODUCTS_H
