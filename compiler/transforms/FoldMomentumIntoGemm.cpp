//===- FoldMomentumIntoGemm.cpp -------------------------------------------===//
//
// Lowering computes a weight's gradient with a GEMM into a temporary G and
// then steps the optimiser in one kernel:
//
//   gemm %W.grad = hp[1] * %e^T x %x                 G = alpha op(A) op(B)
//   map @sgd.W { $0 %W.velocity = add(mul(hp[4], %W.velocity), %W.grad)
//                $1 %W = sub(%W, mul(lr, $0)) }
//
// BLAS already computes C = alpha op(A) op(B) + beta C, so when nothing but
// that step reads G, the product can accumulate straight into the velocity:
//
//   gemm %W.velocity = hp[1] * %e^T x %x + hp[4] * %W.velocity
//   map @sgd.W { $0 %W = sub(%W, mul(lr, %W.velocity)) }
//
// G is then neither written (no zeroing pass inside BLAS, no stores) nor read
// again. The rule and its convention (v = mu v + g, W -= lr v) are unchanged;
// only the rounding of mu v + g may differ, as BLAS forms it.
//
// The fold applies to any stored output X = beta * X + [c *] G, beta a
// non-zero constant or one runtime scalar and c a constant (X -/+ [c *] G,
// plain SGD, is beta = 1), where
//  - G is a temporary that one GEMM (with no beta of its own) writes earlier
//    in the same block, and that nothing else in either schedule reads: a
//    monitor, clipping or Adam that reads the raw gradient keeps it;
//  - no op between the GEMM and the kernel reads or writes X, and nothing
//    else in the kernel reads X's old value, since X now changes at the GEMM;
//  - X is not one of the GEMM's own operands.
//
//===----------------------------------------------------------------------===//
#include "transforms/OpEffects.h"
#include "transforms/Passes.h"

#include <map>
#include <optional>

namespace bdl {
namespace {

using ir::Expr;
using ir::ExprOp;
using ir::ExprPtr;
using ir::forEachLoad;
using ir::GemmOp;
using ir::KernelOp;
using ir::TensorId;

bool isFullLoad(const Expr &e, TensorId t) {
  return e.op == ExprOp::Load && e.index == t && e.access == ir::Access::Full;
}

/// A matched `X = beta * X + scale * G`.
struct Momentum {
  float beta = 1;
  int32_t betaSlot = -1;
  float scale = 1;
  TensorId gradient = -1;
};

/// beta * X or X * beta, beta a non-zero constant or a runtime scalar.
bool matchDecay(const Expr &e, TensorId x, Momentum &m) {
  if (e.op != ExprOp::Mul)
    return false;
  for (int side = 0; side < 2; ++side) {
    const Expr &factor = *e.operands[side], &other = *e.operands[1 - side];
    if (!isFullLoad(other, x))
      continue;
    if (factor.op == ExprOp::Const && factor.value != 0) {
      m.beta = factor.value, m.betaSlot = -1;
      return true;
    }
    if (factor.op == ExprOp::Slot) {
      m.beta = 1, m.betaSlot = factor.index;
      return true;
    }
  }
  return false;
}

/// G or c * G or G * c, G any full-shape load of a tensor other than X.
bool matchGradient(const Expr &e, TensorId x, Momentum &m) {
  if (e.op == ExprOp::Load && e.access == ir::Access::Full && e.index != x) {
    m.scale = 1, m.gradient = e.index;
    return true;
  }
  if (e.op != ExprOp::Mul)
    return false;
  for (int side = 0; side < 2; ++side) {
    const Expr &factor = *e.operands[side], &g = *e.operands[1 - side];
    if (factor.op == ExprOp::Const && g.op == ExprOp::Load && g.access == ir::Access::Full &&
        g.index != x) {
      m.scale = factor.value, m.gradient = g.index;
      return true;
    }
  }
  return false;
}

std::optional<Momentum> matchMomentum(const Expr &e, TensorId x) {
  // X - [c *] G and X + [c *] G: plain SGD, whose decay is 1.
  if ((e.op == ExprOp::Sub || e.op == ExprOp::Add) && isFullLoad(*e.operands[0], x)) {
    Momentum m;
    if (matchGradient(*e.operands[1], x, m)) {
      if (e.op == ExprOp::Sub)
        m.scale = -m.scale;
      return m;
    }
  }
  if (e.op != ExprOp::Add)
    return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    Momentum m;
    if (matchDecay(*e.operands[side], x, m) && matchGradient(*e.operands[1 - side], x, m))
      return m;
  }
  return std::nullopt;
}

/// Replaces $index by `value` and renumbers the locals after it: output
/// `index` is about to be removed.
void dropLocal(ExprPtr &e, int32_t index, const Expr &value) {
  if (e->op == ExprOp::Local) {
    if (e->index == index)
      e = value.clone();
    else if (e->index > index)
      --e->index;
    return;
  }
  for (ExprPtr &o : e->operands)
    dropLocal(o, index, value);
}

bool reads(const ir::Op &op, TensorId t) {
  bool any = false;
  forEachRead(op, [&](TensorId r) { any |= r == t; });
  return any;
}

bool writes(const ir::Op &op, TensorId t) {
  bool any = false;
  forEachWrite(op, /*unstored=*/false, [&](TensorId w) { any |= w == t; });
  return any;
}

class Folder {
public:
  explicit Folder(ir::Module &m) : m(m) {}

  void run() {
    for (std::vector<ir::Block> *schedule : {&m.trainBlocks, &m.evalBlocks})
      for (ir::Block &blk : *schedule)
        for (std::vector<ir::Op> *ops : {&blk.prologue, &blk.ops}) {
          std::vector<ir::Op> &b = *ops;
          for (size_t j = 0; j < b.size(); ++j)
            if (auto *k = std::get_if<KernelOp>(&b[j]); k && k->kind == KernelOp::Kind::Map)
              for (size_t i = 0; i < k->outputs.size();) {
                if (!tryFold(b, j, i)) {
                  ++i;
                  continue;
                }
                if (std::get<KernelOp>(b[j]).outputs.empty()) {
                  b.erase(b.begin() + j);
                  --j;
                  break;
                }
              }
        }
  }

private:
  /// Reads and writes of `t` over both schedules.
  void count(TensorId t, int &readers, int &writers) const {
    readers = writers = 0;
    for (const std::vector<ir::Block> *schedule : {&m.trainBlocks, &m.evalBlocks})
      for (const ir::Block &b : *schedule)
        for (const std::vector<ir::Op> *ops : {&b.prologue, &b.ops})
          for (const ir::Op &op : *ops) {
            forEachRead(op, [&](TensorId r) { readers += r == t; });
            writers += writes(op, t);
          }
  }

  bool tryFold(std::vector<ir::Op> &ops, size_t kernelIndex, size_t outputIndex) {
    KernelOp &k = std::get<KernelOp>(ops[kernelIndex]);
    ir::KernelOutput &out = k.outputs[outputIndex];
    TensorId x = out.tensor;
    if (!out.stored)
      return false;
    std::optional<Momentum> mom = matchMomentum(*out.value, x);
    if (!mom)
      return false;
    TensorId g = mom->gradient;
    if (m.readByRuntime(g))
      return false;
    int readers, writers;
    count(g, readers, writers);
    if (readers != 1 || writers != 1)
      return false;
    // The GEMM that writes G, earlier in this block, with nothing between
    // it and the kernel that touches X.
    std::optional<size_t> producer;
    for (size_t p = kernelIndex; p-- > 0;) {
      if (auto *gemm = std::get_if<GemmOp>(&ops[p]); gemm && gemm->c == g) {
        producer = p;
        break;
      }
      if (reads(ops[p], x) || writes(ops[p], x) || isBarrier(ops[p]))
        return false;
    }
    if (!producer)
      return false;
    GemmOp &gemm = std::get<GemmOp>(ops[*producer]);
    if (gemm.readsC() || gemm.a == x || gemm.b == x)
      return false;
    // Only the matched pattern may read X's old value in this kernel, and
    // only this output writes X.
    int xReads = 0, xWrites = 0;
    for (const ir::KernelOutput &o : k.outputs) {
      forEachLoad(*o.value, [&](const Expr &e) { xReads += e.index == x; });
      xWrites += o.tensor == x;
    }
    if (xReads != 1 || xWrites != 1)
      return false;

    gemm.c = x;
    gemm.alpha *= mom->scale;
    gemm.beta = mom->beta;
    gemm.betaSlot = mom->betaSlot;
    // Later outputs read the new X from memory instead of the local.
    ExprPtr updated = Expr::load(x, ir::Access::Full);
    k.outputs.erase(k.outputs.begin() + outputIndex);
    for (ir::KernelOutput &o : k.outputs)
      dropLocal(o.value, int32_t(outputIndex), *updated);
    return true;
  }

  ir::Module &m;
};

} // namespace

void foldMomentumIntoGemm(ir::Module &m) { Folder(m).run(); }

} // namespace bdl
