//===- Optimizers.cpp - The optimiser's steps: sgd and adam ---------------===//
//
// After every delta of a learn block is computed, the optimiser's scalars
// (its arguments, the clipping factor, Adam's bias corrections) are computed
// once, then one step kernel per weight reads them. The equations are in
// docs/language.md#optimisers.
//
//===----------------------------------------------------------------------===//
#include "lower/Lowerer.h"

namespace bdl::lowering {

void Lowerer::lowerOptimizer(const sema::CheckedLearn &learn, std::vector<PendingUpdate> &updates,
                             ir::Block &steps) {
  const sema::Optimizer &opt = learn.optimizer;
  bool adam = opt.kind == sema::Optimizer::Kind::Adam;
  std::string prefix = (learn.decl->name ? learn.decl->name->name + "." : "") + opt.name();
  auto argument = [&](const ast::Expr *e, const char *name, float fallback) -> ExprPtr {
    if (e)
      return stepScalar(e, prefix + "." + name);
    return fallback == 0 ? nullptr : Expr::constant(fallback);
  };
  StepScalars s;
  s.lr = argument(opt.lr, "lr", 0);
  s.momentum = argument(opt.momentum, "momentum", 0);
  s.weightDecay = argument(opt.weightDecay, "weight_decay", 0);
  if (adam) {
    s.beta1 = argument(opt.beta1, "beta1", 0.9f);
    s.beta2 = argument(opt.beta2, "beta2", 0.999f);
    s.eps = argument(opt.eps, "eps", 1e-8f);
  }
  if (opt.clip && !updates.empty())
    s.clipScale = clipScale(updates, argument(opt.clip, "clip", 0));
  if (adam) {
    // t counts this step too, so the first step divides by 1 - beta^1.
    ir::TensorId t = stepCounter(prefix + ".t");
    auto power = [&](const ExprPtr &beta) {
      return binary(
          ExprOp::Sub, constant(1),
          binary(ExprOp::Pow, {beta->clone(), Dim::constant(1), Dim::constant(1)}, load(t)));
    };
    s.adamStep = stepScalar(
        binary(ExprOp::Div, {s.lr->clone(), Dim::constant(1), Dim::constant(1)}, power(s.beta1)),
        prefix + ".step");
    s.adamBias2 = stepScalar(unary(ExprOp::Sqrt, power(s.beta2)), prefix + ".bias2");
  }
  block = &steps;
  for (PendingUpdate &u : updates)
    adam ? adamStep(u, s) : sgdStep(u, s);
}

ExprPtr Lowerer::stepScalar(const ast::Expr *e, const std::string &name) {
  return stepScalar(lowerExpr(e), name);
}

ExprPtr Lowerer::stepScalar(Value v, const std::string &name) {
  if (readsTensor(*v.expr))
    v = load(materialize(std::move(v), name));
  return std::move(v.expr);
}

bool Lowerer::readsTensor(const Expr &e) {
  if (e.op == ExprOp::Load)
    return true;
  for (const ExprPtr &o : e.operands)
    if (readsTensor(*o))
      return true;
  return false;
}

ExprPtr Lowerer::clipScale(const std::vector<PendingUpdate> &updates, ExprPtr clip) {
  // One norm over every delta of the block, as torch's clip_grad_norm_ over
  // all parameters: clipping each weight alone would change the direction
  // of the whole update.
  std::optional<Value> sum;
  for (const PendingUpdate &u : updates) {
    const Value &d = u.delta;
    Value square =
        binary(ExprOp::Mul, {d.expr->clone(), d.rows, d.cols}, {d.expr->clone(), d.rows, d.cols});
    Value part = total(m.tensors[u.weight].name + ".sq", std::move(square));
    sum = sum ? binary(ExprOp::Add, std::move(*sum), std::move(part)) : std::move(part);
  }
  // A zero norm gives clip / 0 = inf, so min() keeps the deltas as they are.
  Value scale = binary(ExprOp::Min, constant(1),
                       binary(ExprOp::Div, {std::move(clip), Dim::constant(1), Dim::constant(1)},
                              unary(ExprOp::Sqrt, std::move(*sum))));
  return load(materialize(std::move(scale), "clip.scale")).expr;
}

ir::TensorId Lowerer::stepCounter(const std::string &name) {
  ir::TensorId t = temp(name, Dim::constant(1), Dim::constant(1), ir::Role::Optimizer);
  map(m.tensors[t].name, t, binary(ExprOp::Add, load(t), constant(1)));
  return t;
}

ir::KernelOp Lowerer::stepKernel(const char *optimizer, const ir::Tensor &W) {
  ir::KernelOp k;
  k.kind = ir::KernelOp::Kind::Map;
  k.name = std::string(optimizer) + "." + W.name;
  k.rows = W.rows, k.cols = W.cols;
  return k;
}

void Lowerer::sgdStep(PendingUpdate &u, const StepScalars &s) {
  const ir::Tensor W = m.tensors[u.weight];
  ir::KernelOp k = stepKernel("sgd", W);
  ExprPtr step = std::move(u.delta.expr);
  if (s.clipScale)
    step = Expr::binary(ExprOp::Mul, s.clipScale->clone(), std::move(step));
  if (s.weightDecay) {
    // L2: the decay joins the gradient (and so the velocity), with the sign
    // that shrinks W whichever way the update goes.
    ExprPtr decay =
        Expr::binary(ExprOp::Mul, s.weightDecay->clone(), Expr::load(u.weight, ir::Access::Full));
    step = Expr::binary(u.subtract ? ExprOp::Add : ExprOp::Sub, std::move(step), std::move(decay));
  }
  if (s.momentum) {
    // v ← μ v + g;  W ← W ∓ lr v
    ir::TensorId vel = temp(W.name + ".velocity", W.rows, W.cols, ir::Role::Optimizer);
    ExprPtr v = Expr::binary(
        ExprOp::Add,
        Expr::binary(ExprOp::Mul, s.momentum->clone(), Expr::load(vel, ir::Access::Full)),
        std::move(step));
    finish(*v, k.rows, k.cols);
    k.outputs.push_back({vel, std::move(v), true});
    step = Expr::local(0);
  }
  ExprPtr newW =
      Expr::binary(u.subtract ? ExprOp::Sub : ExprOp::Add, Expr::load(u.weight, ir::Access::Full),
                   Expr::binary(ExprOp::Mul, s.lr->clone(), std::move(step)));
  finish(*newW, k.rows, k.cols);
  k.outputs.push_back({u.weight, std::move(newW), true});
  block->ops.push_back(std::move(k));
}

void Lowerer::adamStep(PendingUpdate &u, const StepScalars &s) {
  const ir::Tensor W = m.tensors[u.weight];
  ir::KernelOp k = stepKernel("adam", W);
  auto g = [&] {
    ExprPtr d = u.delta.expr->clone();
    return s.clipScale ? Expr::binary(ExprOp::Mul, s.clipScale->clone(), std::move(d))
                       : std::move(d);
  };
  auto full = [](ir::TensorId t) { return Expr::load(t, ir::Access::Full); };
  auto oneMinus = [](const ExprPtr &beta) {
    return Expr::binary(ExprOp::Sub, Expr::constant(1), beta->clone());
  };
  auto moment = [&](const char *name, const ExprPtr &beta, ExprPtr value) {
    // moment ← β moment + (1 - β) value
    ir::TensorId t = temp(W.name + "." + name, W.rows, W.cols, ir::Role::Optimizer);
    ExprPtr e = Expr::binary(ExprOp::Add, Expr::binary(ExprOp::Mul, beta->clone(), full(t)),
                             Expr::binary(ExprOp::Mul, oneMinus(beta), std::move(value)));
    finish(*e, k.rows, k.cols);
    k.outputs.push_back({t, std::move(e), true});
  };
  moment("moment1", s.beta1, g());
  moment("moment2", s.beta2, Expr::binary(ExprOp::Mul, g(), g()));
  // W ← W ∓ lr/(1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + ε): m̂ / (sqrt(v̂) + ε)
  // with the first correction folded into one scalar, as torch.optim.Adam does.
  ExprPtr denominator = Expr::binary(
      ExprOp::Add,
      Expr::binary(ExprOp::Div, Expr::unary(ExprOp::Sqrt, Expr::local(1)), s.adamBias2->clone()),
      s.eps->clone());
  ExprPtr newW =
      Expr::binary(u.subtract ? ExprOp::Sub : ExprOp::Add, full(u.weight),
                   Expr::binary(ExprOp::Mul, s.adamStep->clone(),
                                Expr::binary(ExprOp::Div, Expr::local(0), std::move(denominator))));
  if (s.weightDecay) // decoupled (AdamW): W shrinks by lr·wd·W, outside the moments
    newW = Expr::binary(
        ExprOp::Sub, std::move(newW),
        Expr::binary(ExprOp::Mul, Expr::binary(ExprOp::Mul, s.lr->clone(), s.weightDecay->clone()),
                     full(u.weight)));
  finish(*newW, k.rows, k.cols);
  k.outputs.push_back({u.weight, std::move(newW), true});
  block->ops.push_back(std::move(k));
}

} // namespace bdl::lowering
