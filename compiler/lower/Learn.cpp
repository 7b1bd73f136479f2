//===- Learn.cpp - The learning rule: values and updates ------------------===//
#include "lower/Lowerer.h"

namespace bdl::lowering {

ExprPtr Lowerer::scaled(ExprPtr scale, ExprPtr factor) {
  return scale ? Expr::binary(ExprOp::Mul, std::move(scale), std::move(factor)) : std::move(factor);
}

bool Lowerer::isPlainScalar(const ast::Expr *e) {
  const sema::Shape &s = model.shapeOf(e);
  return s.isScalar() && !s.batched;
}

void Lowerer::collectTerms(const ast::Expr *e, ExprPtr scale, std::vector<Term> &terms) {
  const sema::Shape &shape = model.shapeOf(e);
  if (!(shape.isMatrix() && shape.batched)) {
    // No outer product inside: one elementwise term (one batch mean at most).
    terms.push_back({e, std::move(scale)});
    return;
  }
  if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
    switch (b->op) {
    case ast::BinaryOp::Add:
      collectTerms(b->lhs.get(), scale ? scale->clone() : nullptr, terms);
      return collectTerms(b->rhs.get(), std::move(scale), terms);
    case ast::BinaryOp::Sub:
      collectTerms(b->lhs.get(), scale ? scale->clone() : nullptr, terms);
      return collectTerms(b->rhs.get(), scaled(std::move(scale), Expr::constant(-1)), terms);
    case ast::BinaryOp::Mul:
      if (isPlainScalar(b->lhs.get()))
        return collectTerms(b->rhs.get(), scaled(std::move(scale), lowerExpr(b->lhs.get()).expr),
                            terms);
      if (isPlainScalar(b->rhs.get()))
        return collectTerms(b->lhs.get(), scaled(std::move(scale), lowerExpr(b->rhs.get()).expr),
                            terms);
      break;
    case ast::BinaryOp::Div:
      if (isPlainScalar(b->rhs.get()))
        return collectTerms(b->lhs.get(),
                            scaled(std::move(scale), Expr::binary(ExprOp::Div, Expr::constant(1),
                                                                  lowerExpr(b->rhs.get()).expr)),
                            terms);
      break;
    default:
      break;
    }
  }
  if (auto *n = dyn_cast<ast::NegExpr>(e))
    return collectTerms(n->operand.get(), scaled(std::move(scale), Expr::constant(-1)), terms);
  terms.push_back({e, std::move(scale)});
}

void Lowerer::lowerLearnBlocks() {
  auto named = [](const sema::CheckedLearn &l, const std::string &kind) {
    return l.decl->name ? kind + "." + l.decl->name->name : kind;
  };
  // The monitors' blocks compute the rules' values again, so that the learn
  // blocks stay the same, as fast, whether a batch is monitored or not.
  for (const sema::CheckedLearn &l : model.learns) {
    if (l.monitors.empty())
      continue;
    ir::Block monitor{named(l, "monitor"), 1, {}};
    monitor.monitorsOnly = true;
    monitor.afterWarmup = l.afterWarmup;
    lowerLearn(l, monitor, nullptr);
    m.trainBlocks.push_back(std::move(monitor));
  }
  if (model.learns.size() == 1) {
    ir::Block step{model.learns[0].blockName, 1, {}};
    step.afterWarmup = model.learns[0].afterWarmup;
    lowerLearn(model.learns[0], step, &step);
    m.trainBlocks.push_back(std::move(step));
    return;
  }
  // Several rules learn from the same batch "in parallel": every rule's
  // values (its deltas, its optimiser's scalars) come before any rule's
  // steps, so each sees the weights from before the batch whatever the
  // order of the blocks. A rule skipped in the warm-up skips both halves.
  std::vector<ir::Block> values, steps;
  values.reserve(model.learns.size());
  steps.reserve(model.learns.size());
  for (const sema::CheckedLearn &l : model.learns) {
    values.push_back({l.blockName + ".values", 1, {}});
    steps.push_back({l.blockName, 1, {}});
    values.back().afterWarmup = steps.back().afterWarmup = l.afterWarmup;
    lowerLearn(l, values.back(), &steps.back());
  }
  for (std::vector<ir::Block> *half : {&values, &steps})
    for (ir::Block &b : *half)
      m.trainBlocks.push_back(std::move(b));
}

void Lowerer::lowerLearn(const sema::CheckedLearn &learn, ir::Block &values, ir::Block *steps) {
  // Let values first, then every gradient, then the optimiser's scalars,
  // then its steps: everything but the steps sees the weights from before
  // this block, whatever the order of the updates.
  bool monitors = steps == nullptr;
  block = &values;
  gradients.clear();
  updateDeltas.clear();
  const std::vector<ast::LearnStmt> &stmts = learn.decl->stmts;
  letIds.assign(stmts.size(), -1);
  for (size_t i = 0; i < stmts.size(); ++i) {
    const ast::LearnStmt &s = stmts[i];
    if (s.kind == ast::LearnStmt::Kind::Let) // the user's name in the learn block
      letIds[i] = materialize(lowerExpr(s.value.get()), s.name.name, !monitors);
  }
  std::vector<PendingUpdate> updates;
  for (const sema::CheckedUpdate &u : learn.updates) {
    updates.push_back(lowerUpdate(*u.stmt, tensorIds[u.tensor]));
    updateDeltas[updates.back().weight] = updates.back().delta.expr->index;
  }
  if (monitors) {
    for (const ast::LearnStmt *monitor : learn.monitors)
      lowerMonitor(*monitor);
  } else {
    lowerOptimizer(learn, updates, *steps);
  }
  block = nullptr; // the caller's blocks move into the module
}

Lowerer::PendingUpdate Lowerer::lowerUpdate(const ast::LearnStmt &s, ir::TensorId w) {
  const ir::Tensor W = m.tensors[w];
  std::vector<Term> terms;
  collectTerms(s.value.get(), nullptr, terms);
  Value delta = constant(0);
  bool first = true;
  for (Term &term : terms) {
    Value v = termValue(term.expr, W, s.name.name, term.scale);
    if (term.scale)
      v = binary(ExprOp::Mul, {std::move(term.scale), Dim::constant(1), Dim::constant(1)},
                 std::move(v));
    delta = first ? std::move(v) : binary(ExprOp::Add, std::move(delta), std::move(v));
    first = false;
  }
  // Keep the update's iteration space the weight's, even for a scalar delta.
  delta.rows = W.rows, delta.cols = W.cols;
  // Optimiser steps run after every gradient, one weight after another: a
  // delta that reads anything but a gradient computed here (another weight,
  // say) is computed now, before any weight changes. Fusion moves it back
  // into the step where that is still sound.
  bool isGradient =
      delta.expr->op == ExprOp::Load && m.tensors[delta.expr->index].role == ir::Role::Temp &&
      m.tensors[delta.expr->index].rows == W.rows && m.tensors[delta.expr->index].cols == W.cols;
  if (!isGradient) {
    ir::TensorId d = temp(W.name + ".delta", W.rows, W.cols);
    map(m.tensors[d].name, d, std::move(delta));
    delta = load(d);
  }
  return {w, s.subtract, std::move(delta)};
}

Value Lowerer::termValue(const ast::Expr *e, const ir::Tensor &W, const std::string &weight,
                         ExprPtr &scale) {
  const sema::Shape &s = model.shapeOf(e);
  if (auto *call = dyn_cast<ast::CallExpr>(e); call && call->callee == "outer") {
    // A scale goes into the first vector (n multiplies, not n x m), which
    // leaves the product alone in the update: then the optimiser step
    // can fold into the GEMM (transforms/FoldMomentumIntoGemm.cpp).
    Value a = lowerExpr(call->args[0].value.get());
    if (scale && !scale->isConst()) // a constant joins the GEMM's alpha for free
      a = binary(ExprOp::Mul, {std::move(scale), Dim::constant(1), Dim::constant(1)}, std::move(a));
    return load(outerProduct(std::move(a), lowerExpr(call->args[1].value.get()), weight + ".grad"));
  }
  Value v = lowerExpr(e);
  if (s.batched)
    return load(batchMean(weight + ".grad", std::move(v)));
  return v;
}

} // namespace bdl::lowering
