//===- Differentiate.cpp - Reverse-mode gradients of the schedule ---------===//
//
// Replaces each `grad %g = %L wrt %W` by a reverse sweep through the ops
// before it: every op on a path from a requested weight to the loss gets its
// adjoint ops, emitted in reverse order, reading the forward pass's values
// where they are stored (a product's adjoint multiplies by the forward
// operand, tanh's derivative is 1 - h*h of the stored h) instead of
// recomputing them. The grads of one loss that follow each other share one
// sweep.
//
// The seed is 1 per example, and the batch mean is taken where a gradient
// reaches a weight (hp[1] = 1/batch as the GEMM's alpha, or inside the
// reduction over the batch): the same place and the same rounding as the
// written-out rules (`outer(e, x)`, a bias's batch mean), so that
// `W -= grad(L, W)` gives a hand-derived rule's weights bit for bit.
//
// Adjoints by construct:
//  - gemm C = α op(A) op(B): dA and dB are gemms of dC with the other operand.
//  - map: the chain rule through the expression tree, one term per load;
//    loads of a row, column or scalar broadcast sum their terms with a
//    rowreduce or colreduce (both for a scalar).
//  - rowreduce/colreduce sum: the adjoint broadcast back; max: to the
//    elements equal to the maximum.
//  - im2col: col2im of the patches' adjoint (and col2im: im2col); max-pool:
//    the pooled adjoint routed to each window's first maximum; reshape: a
//    reshape back.
//  - cross_entropy(softmax(z), t) as the lowering writes it: dz = y Σt - t,
//    the textbook fused form (without it, dz = y (dy - Σ y dy) cancels
//    catastrophically where y is near 1). It ignores the loss's floor
//    max(y, 1e-30), which only matters once training has diverged.
//
// The verifier guarantees what this needs: one step per block up to the
// grad (no time to go back through) and one write per tensor.
//
//===----------------------------------------------------------------------===//
#include "transforms/Passes.h"
#include "transforms/Sweep.h"

#include "llvm/Support/ErrorHandling.h"

namespace bdl {

namespace sweep {

void Sweep::findActive(const std::vector<TensorId> &weights) {
  std::set<TensorId> fromWeights(weights.begin(), weights.end());
  for (const Op *op : forward) {
    bool reads = false;
    forEachRead(*op, [&](TensorId t) { reads |= fromWeights.count(t) > 0; });
    if (reads)
      forEachWrite(*op, true, [&](TensorId t) { fromWeights.insert(t); });
  }
  std::set<TensorId> toLoss{loss};
  for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
    bool writes = false;
    forEachWrite(**it, true, [&](TensorId t) { writes |= toLoss.count(t) > 0; });
    if (writes)
      forEachRead(**it, [&](TensorId t) { toLoss.insert(t); });
  }
  for (TensorId t : fromWeights)
    if (toLoss.count(t))
      active.insert(t);
}

bool Sweep::isActive(const Expr &e) const {
  if (e.op == ExprOp::Load)
    return active.count(e.index) > 0;
  if (e.op == ExprOp::Local)
    return true;
  for (const ExprPtr &o : e.operands)
    if (isActive(*o))
      return true;
  return false;
}

ExprPtr Sweep::load(const Adjoint &a, Access access) const {
  return a.one ? Expr::constant(1) : Expr::load(a.tensor, access);
}

std::string Sweep::uniqueName(const std::string &base) {
  std::string name = base;
  for (int n = 1; !names.insert(name).second; ++n)
    name = base + "." + std::to_string(n);
  return name;
}

TensorId Sweep::newTemp(const std::string &base, Dim rows, Dim cols) {
  Tensor t;
  t.name = uniqueName(base);
  t.role = Role::Temp;
  t.rows = rows, t.cols = cols;
  return m.addTensor(t);
}

void Sweep::emitMap(TensorId out, ExprPtr value) {
  KernelOp k;
  k.kind = KernelOp::Kind::Map;
  k.name = m.tensors[out].name;
  k.rows = m.tensors[out].rows, k.cols = m.tensors[out].cols;
  k.outputs.push_back({out, std::move(value), true});
  ops.push_back(std::move(k));
}

void Sweep::emitReduce(TensorId out, KernelOp::Kind kind, Dim rows, Dim cols, ExprPtr body) {
  KernelOp k;
  k.kind = kind;
  k.name = m.tensors[out].name;
  k.rows = rows, k.cols = cols;
  k.outputs.push_back({out, std::move(body), true});
  ops.push_back(std::move(k));
}

void Sweep::emit(Contribution &c, TensorId out, bool mean) {
  auto scaled = [&](ExprPtr e) {
    return mean ? Expr::binary(ExprOp::Mul, std::move(e), Expr::slot(kInvBatchSlot)) : std::move(e);
  };
  switch (c.kind) {
  case Contribution::Kind::Elementwise:
    return emitMap(out, scaled(std::move(c.expr)));
  case Contribution::Kind::Reduce:
    return emitReduce(out, c.reduce, c.rows, c.cols, scaled(std::move(c.expr)));
  case Contribution::Kind::Image:
    return emitScaled(c.image, c.image.out, out, mean);
  case Contribution::Kind::Gemm:
    if (mean && c.gemm.alphaSlot < 0) { // the 1/batch joins the product's alpha
      c.gemm.alphaSlot = kInvBatchSlot;
      mean = false;
    }
    return emitScaled(c.gemm, c.gemm.c, out, mean);
  }
}

void Sweep::materialize(TensorId t, TensorId into, bool mean) {
  auto found = pending.find(t);
  if (found == pending.end())
    return;
  std::vector<Contribution> terms = std::move(found->second);
  pending.erase(found);
  const Tensor T = m.tensors[t]; // a copy: new temporaries grow m.tensors
  // A lone elementwise term that is another adjoint, unscaled: share it.
  if (terms.size() == 1 && into < 0 && !mean && terms[0].kind == Contribution::Kind::Elementwise &&
      terms[0].expr->op == ExprOp::Load && terms[0].expr->access == Access::Full) {
    adjoints[t].tensor = terms[0].expr->index;
    return;
  }
  TensorId out = into >= 0 ? into : newTemp("d." + T.name, T.rows, T.cols);
  adjoints[t].tensor = out;
  if (terms.size() == 1)
    return emit(terms[0], out, mean);
  std::vector<ExprPtr> sum;
  for (Contribution &c : terms) {
    if (c.kind == Contribution::Kind::Elementwise) {
      sum.push_back(std::move(c.expr));
      continue;
    }
    TensorId part = newTemp(m.tensors[out].name + ".part", T.rows, T.cols);
    emit(c, part, false);
    sum.push_back(Expr::load(part, Access::Full));
  }
  ExprPtr total = sumOf(std::move(sum));
  if (mean)
    total = Expr::binary(ExprOp::Mul, std::move(total), Expr::slot(kInvBatchSlot));
  emitMap(out, std::move(total));
}

void Sweep::gemm(const GemmOp &g) {
  // C = α op(A) op(B): d op(A) = dC op(B)ᵀ and d op(B) = op(A)ᵀ dC.
  TensorId dC = adjoints[g.c].tensor;
  if (dC < 0) { // the seed itself: C is the loss, which no product makes
    dC = newTemp("d." + m.tensors[g.c].name, m.tensors[g.c].rows, m.tensors[g.c].cols);
    emitMap(dC, Expr::constant(1));
  }
  auto product = [&](TensorId a, bool ta, TensorId b, bool tb) {
    Contribution c;
    c.kind = Contribution::Kind::Gemm;
    c.gemm.a = a, c.gemm.transA = ta, c.gemm.b = b, c.gemm.transB = tb;
    c.gemm.alpha = g.alpha, c.gemm.alphaSlot = g.alphaSlot;
    return c;
  };
  if (active.count(g.a))
    contribute(g.a,
               g.transA ? product(g.b, g.transB, dC, true) : product(dC, false, g.b, !g.transB));
  if (active.count(g.b))
    contribute(g.b,
               g.transB ? product(dC, true, g.a, g.transA) : product(g.a, !g.transA, dC, false));
}

void Sweep::image(const ImageOp &i) {
  if (i.kind == ImageOp::Kind::MaxPoolAdjoint && (active.count(i.in) || active.count(i.aux)))
    // Only a reverse sweep makes one, and no grad() reaches through another
    // grad's sweep to an image (a loss is a value of the forward pass or of
    // the learn block, and the learn block's image ops come from grads).
    llvm::report_fatal_error("bdl: grad() through the adjoint of a max-pool is not supported");
  if (!active.count(i.in))
    return;
  TensorId dOut = adjoints[i.out].tensor;
  if (dOut < 0) // the seed: an image op never makes a loss (it is [batch, 1] at most)
    return;
  Contribution c;
  c.kind = Contribution::Kind::Image;
  c.image.window = i.window;
  switch (i.kind) {
  case ImageOp::Kind::Im2col:
    c.image.kind = ImageOp::Kind::Col2im, c.image.in = dOut;
    break;
  case ImageOp::Kind::Col2im:
    c.image.kind = ImageOp::Kind::Im2col, c.image.in = dOut;
    break;
  case ImageOp::Kind::MaxPool:
    c.image.kind = ImageOp::Kind::MaxPoolAdjoint, c.image.in = i.in, c.image.aux = dOut;
    break;
  case ImageOp::Kind::Reshape:
    c.image.kind = ImageOp::Kind::Reshape, c.image.in = dOut;
    break;
  case ImageOp::Kind::MaxPoolAdjoint:
    return;
  }
  contribute(i.in, std::move(c));
}

} // namespace sweep

using namespace ir;

namespace {

/// Replaces the grad ops of one schedule, block by block.
void differentiateSchedule(Module &m, std::vector<Block> &blocks) {
  for (size_t b = 0; b < blocks.size(); ++b) {
    std::vector<Op> &ops = blocks[b].ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      auto *first = std::get_if<GradOp>(&ops[i]);
      if (!first)
        continue;
      TensorId loss = first->loss;
      std::vector<const Op *> forward;
      for (size_t e = 0; e < b; ++e)
        for (const auto *list : {&blocks[e].prologue, &blocks[e].ops})
          for (const Op &op : *list)
            forward.push_back(&op);
      for (const Op &op : blocks[b].prologue)
        forward.push_back(&op);
      for (size_t e = 0; e < i; ++e)
        forward.push_back(&ops[e]);
      // The later grads of the same loss share the sweep unless an op
      // between writes a tensor the forward ops touch (in a lowered learn
      // block none does: the optimiser steps come after every grad).
      std::set<TensorId> touched;
      for (const Op *op : forward) {
        forEachRead(*op, [&](TensorId t) { touched.insert(t); });
        forEachWrite(*op, true, [&](TensorId t) { touched.insert(t); });
      }
      std::vector<size_t> group{i};
      for (size_t j = i + 1; j < ops.size(); ++j) {
        bool stale = false;
        if (auto *d = std::get_if<GradOp>(&ops[j]); d && d->loss == loss) {
          group.push_back(j);
          continue;
        }
        forEachWrite(ops[j], true, [&](TensorId t) { stale |= touched.count(t) > 0; });
        if (stale)
          break;
      }
      std::vector<TensorId> weights, outs;
      for (size_t j : group) {
        const GradOp &d = std::get<GradOp>(ops[j]);
        weights.push_back(d.weight), outs.push_back(d.out);
      }
      std::vector<Op> sweep = sweep::Sweep(m, std::move(forward), loss).run(weights, outs);
      for (size_t j = group.size(); j-- > 1;)
        ops.erase(ops.begin() + group[j]);
      ops.erase(ops.begin() + i);
      ops.insert(ops.begin() + i, std::make_move_iterator(sweep.begin()),
                 std::make_move_iterator(sweep.end()));
      i += sweep.size();
      --i; // the loop's ++i then moves past the sweep
    }
  }
}

} // namespace

void differentiate(Module &m) {
  differentiateSchedule(m, m.trainBlocks);
  differentiateSchedule(m, m.evalBlocks);
}

} // namespace bdl
