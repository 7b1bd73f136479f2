//===- transforms/DifferentiateKernels.cpp - Adjoints through kernels -----===//
//
// The chain rule through a kernel's expression trees, one term per load
// (broadcast loads summed back with a reduction), and the fused adjoint of
// cross_entropy(softmax(z), t) (transforms/Differentiate.cpp describes
// both).
//
//===----------------------------------------------------------------------===//
#include "transforms/Sweep.h"

namespace bdl::sweep {

ExprPtr Sweep::inlined(const Expr &e) const {
  if (e.op == ExprOp::Local)
    return inlined(*current->outputs[e.index].value);
  ExprPtr copy = std::make_unique<Expr>();
  copy->op = e.op, copy->value = e.value, copy->index = e.index, copy->access = e.access;
  for (const ExprPtr &o : e.operands)
    copy->operands.push_back(inlined(*o));
  return copy;
}

void Sweep::kernel(const KernelOp &k) {
  if (softmaxCrossEntropy(k))
    return;
  current = &k;
  Terms terms;
  terms.locals.resize(k.outputs.size());
  for (size_t j = k.outputs.size(); j-- > 0;) {
    const KernelOutput &o = k.outputs[j];
    std::vector<ExprPtr> adj = std::move(terms.locals[j]);
    const Adjoint &stored = adjoints[o.tensor];
    if (o.stored && stored.known()) {
      auto [rows, cols] = outputShape(k, j);
      Access access = rows == k.rows && cols == k.cols ? Access::Full
                      : rows == k.rows                 ? Access::Row
                                                       : Access::Col;
      if (!accessFits(m.tensors[o.tensor], access, k.rows, k.cols))
        access = Access::Scalar;
      adj.push_back(load(stored, access));
    }
    if (adj.empty())
      continue;
    ExprPtr a = sumOf(std::move(adj));
    if (isReducedOutput(k, j)) {
      if (k.reduce == KernelOp::Reduce::Max) {
        // To the elements equal to the maximum (all of them, on a tie).
        Access access = k.kind == KernelOp::Kind::RowReduce ? Access::Row : Access::Col;
        ExprPtr isMax = Expr::binary(ExprOp::Eq, inlined(*o.value), Expr::load(o.tensor, access));
        a = mul(std::move(a), std::move(isMax));
      }
      propagate(*o.value, std::move(a), nullptr, terms);
    } else {
      propagate(*o.value, std::move(a), o.stored ? &o : nullptr, terms);
    }
  }
  for (auto &[key, list] : terms.loads)
    broadcastBack(key.first, key.second, k.rows, k.cols, sumOf(std::move(list)));
}

void Sweep::broadcastBack(TensorId t, Access access, Dim rows, Dim cols, ExprPtr term) {
  Contribution c;
  c.expr = std::move(term);
  c.rows = rows, c.cols = cols;
  switch (access) {
  case Access::Full:
    c.kind = Contribution::Kind::Elementwise;
    break;
  case Access::Row:
    c.kind = Contribution::Kind::Reduce, c.reduce = KernelOp::Kind::RowReduce;
    break;
  case Access::Col:
    c.kind = Contribution::Kind::Reduce, c.reduce = KernelOp::Kind::ColReduce;
    break;
  case Access::Scalar:
    c.kind = Contribution::Kind::Reduce;
    if (cols.isOne()) {
      c.reduce = KernelOp::Kind::ColReduce;
    } else if (rows.isOne()) {
      c.reduce = KernelOp::Kind::RowReduce;
    } else { // rows first, then the column of row sums
      TensorId rowSums = newTemp("d." + m.tensors[t].name + ".rows", rows, Dim::constant(1));
      emitReduce(rowSums, KernelOp::Kind::RowReduce, rows, cols, std::move(c.expr));
      c.expr = Expr::load(rowSums, Access::Full);
      c.reduce = KernelOp::Kind::ColReduce;
      c.cols = Dim::constant(1);
    }
    break;
  }
  contribute(t, std::move(c));
}

ExprPtr Sweep::valueOf(const Expr &node, const KernelOutput *root) const {
  if (root && root->value.get() == &node)
    return Expr::load(root->tensor, Access::Full);
  return inlined(node);
}

void Sweep::propagate(const Expr &node, ExprPtr adj, const KernelOutput *root, Terms &terms) {
  if (node.op == ExprOp::Load) {
    if (active.count(node.index))
      terms.loads[{node.index, node.access}].push_back(std::move(adj));
    return;
  }
  if (node.op == ExprOp::Local) {
    terms.locals[node.index].push_back(std::move(adj));
    return;
  }
  auto x = [&]() { return inlined(*node.operands[0]); };
  auto y = [&]() { return inlined(*node.operands[1]); };
  auto v = [&]() { return valueOf(node, root); };
  auto c = [](float f) { return Expr::constant(f); };
  auto bin = [](ExprOp op, ExprPtr l, ExprPtr r) {
    return Expr::binary(op, std::move(l), std::move(r));
  };
  auto into = [&](int operand, ExprPtr partialAdj) {
    if (isActive(*node.operands[operand]))
      propagate(*node.operands[operand], std::move(partialAdj), nullptr, terms);
  };
  auto adjTimes = [&](ExprPtr d) { return mul(adj->clone(), std::move(d)); };
  switch (node.op) {
  case ExprOp::Neg:
    return into(0, Expr::unary(ExprOp::Neg, adj->clone()));
  case ExprOp::Exp:
    return into(0, adjTimes(v()));
  case ExprOp::Log:
    return into(0, bin(ExprOp::Div, adj->clone(), x()));
  case ExprOp::Tanh: // 1 - tanh²
    return into(0, adjTimes(bin(ExprOp::Sub, c(1), bin(ExprOp::Mul, v(), v()))));
  case ExprOp::Sigmoid: // σ (1 - σ)
    return into(0, adjTimes(bin(ExprOp::Mul, v(), bin(ExprOp::Sub, c(1), v()))));
  case ExprOp::Relu:
    return into(0, adjTimes(bin(ExprOp::Gt, x(), c(0))));
  case ExprOp::Abs: // sign(x)
    return into(0,
                adjTimes(bin(ExprOp::Sub, bin(ExprOp::Gt, x(), c(0)), bin(ExprOp::Lt, x(), c(0)))));
  case ExprOp::Acos: // -1 / sqrt(1 - x²)
    return into(0, Expr::unary(ExprOp::Neg,
                               bin(ExprOp::Div, adj->clone(),
                                   Expr::unary(ExprOp::Sqrt, bin(ExprOp::Sub, c(1),
                                                                 bin(ExprOp::Mul, x(), x()))))));
  case ExprOp::Sqrt:
    return into(0, bin(ExprOp::Div, adjTimes(c(0.5f)), v()));
  case ExprOp::Add:
    into(0, adj->clone());
    return into(1, adj->clone());
  case ExprOp::Sub:
    into(0, adj->clone());
    return into(1, Expr::unary(ExprOp::Neg, adj->clone()));
  case ExprOp::Mul:
    into(0, adjTimes(y()));
    return into(1, mul(x(), adj->clone()));
  case ExprOp::Div: // x/y: adj/y and -adj x/y²
    into(0, bin(ExprOp::Div, adj->clone(), y()));
    return into(1, Expr::unary(ExprOp::Neg, bin(ExprOp::Div, adjTimes(v()), y())));
  case ExprOp::Pow: // x^y: y x^(y-1) and x^y log x
    into(0, adjTimes(bin(ExprOp::Mul, y(), bin(ExprOp::Pow, x(), bin(ExprOp::Sub, y(), c(1))))));
    return into(1, adjTimes(bin(ExprOp::Mul, v(), Expr::unary(ExprOp::Log, x()))));
  case ExprOp::Max:
    into(0, adjTimes(bin(ExprOp::Ge, x(), y())));
    return into(1, adjTimes(bin(ExprOp::Lt, x(), y())));
  case ExprOp::Min:
    into(0, adjTimes(bin(ExprOp::Le, x(), y())));
    return into(1, adjTimes(bin(ExprOp::Gt, x(), y())));
  case ExprOp::Select: {
    auto arm = [&](bool first) {
      auto s = std::make_unique<Expr>();
      s->op = ExprOp::Select;
      s->operands.push_back(inlined(*node.operands[0]));
      s->operands.push_back(first ? adj->clone() : c(0));
      s->operands.push_back(first ? c(0) : adj->clone());
      return s;
    };
    into(1, arm(true));
    return into(2, arm(false));
  }
  default:
    // Constants, slots, context fields, comparisons, steps and random
    // draws have no derivative to pass on.
    return;
  }
}

const KernelOp *Sweep::producerKernel(TensorId t) const {
  auto it = producer.find(t);
  return it == producer.end() ? nullptr : std::get_if<KernelOp>(it->second);
}

std::optional<TensorId> Sweep::softmaxCrossEntropy(const KernelOp &k) {
  if (k.kind != KernelOp::Kind::RowReduce || k.reduce != KernelOp::Reduce::Sum ||
      k.outputs.size() != 1)
    return std::nullopt;
  const Expr &body = *k.outputs[0].value;
  if (body.op != ExprOp::Neg || body.operands[0]->op != ExprOp::Mul)
    return std::nullopt;
  const Expr &t = *body.operands[0]->operands[0], &logy = *body.operands[0]->operands[1];
  if (!isLoad(t, Access::Full) || active.count(t.index) || logy.op != ExprOp::Log ||
      logy.operands[0]->op != ExprOp::Max)
    return std::nullopt;
  const Expr &y = *logy.operands[0]->operands[0], &floor = *logy.operands[0]->operands[1];
  if (!isLoad(y, Access::Full) || !floor.isConst() || !(floor.value >= 0 && floor.value < 1e-20f))
    return std::nullopt;
  // y = exp(z - max) / sum, max = rowmax z, sum = Σ exp(z - max).
  const KernelOp *softmax = producerKernel(y.index);
  if (!softmax || softmax->kind != KernelOp::Kind::Map || softmax->outputs.size() != 1)
    return std::nullopt;
  const Expr &div = *softmax->outputs[0].value;
  if (div.op != ExprOp::Div || !isLoad(*div.operands[1], Access::Row))
    return std::nullopt;
  auto shiftedExp = [&](const Expr &e, TensorId &z, TensorId &max) {
    if (e.op != ExprOp::Exp || e.operands[0]->op != ExprOp::Sub)
      return false;
    const Expr &zl = *e.operands[0]->operands[0], &ml = *e.operands[0]->operands[1];
    if (!isLoad(zl, Access::Full) || !isLoad(ml, Access::Row))
      return false;
    z = zl.index, max = ml.index;
    return true;
  };
  TensorId z = -1, max = -1;
  if (!shiftedExp(*div.operands[0], z, max))
    return std::nullopt;
  const KernelOp *maxK = producerKernel(max), *sumK = producerKernel(div.operands[1]->index);
  TensorId z2 = -1, max2 = -1;
  if (!maxK || maxK->kind != KernelOp::Kind::RowReduce || maxK->reduce != KernelOp::Reduce::Max ||
      maxK->outputs.size() != 1 || !isLoad(*maxK->outputs[0].value, Access::Full) ||
      maxK->outputs[0].value->index != z || !sumK || sumK->kind != KernelOp::Kind::RowReduce ||
      sumK->reduce != KernelOp::Reduce::Sum || sumK->outputs.size() != 1 ||
      !shiftedExp(*sumK->outputs[0].value, z2, max2) || z2 != z || max2 != max)
    return std::nullopt;
  if (!active.count(z))
    return z; // nothing to pass on
  // Σt: 1 for one-hot targets, so y Σt - t is then y - t exactly.
  auto [it, added] = targetSums.try_emplace(t.index, -1);
  if (added) {
    it->second = newTemp(m.tensors[t.index].name + ".sum", k.rows, Dim::constant(1));
    emitReduce(it->second, KernelOp::Kind::RowReduce, k.rows, k.cols,
               Expr::load(t.index, Access::Full));
  }
  ExprPtr dz = Expr::binary(ExprOp::Sub,
                            Expr::binary(ExprOp::Mul, Expr::load(y.index, Access::Full),
                                         Expr::load(it->second, Access::Row)),
                            Expr::load(t.index, Access::Full));
  const Adjoint &dl = adjoints[k.outputs[0].tensor];
  Contribution c;
  c.kind = Contribution::Kind::Elementwise;
  c.expr = mul(load(dl, Access::Row), std::move(dz));
  contribute(z, std::move(c));
  return z;
}

} // namespace bdl::sweep
