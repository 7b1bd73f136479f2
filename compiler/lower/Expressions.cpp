//===- Expressions.cpp - Names, operators, products and builtin calls -------===//
//
// The expressions of layers and learn blocks, lowered to elementwise Values
// (fused into kernels when materialised), GEMMs and reductions. Calls that
// belong to one construct go to its file: statistics to Monitors.cpp,
// dynamics to Dynamics.cpp, images to Images.cpp.
//
//===----------------------------------------------------------------------===//
#include "lower/Lowerer.h"

namespace bdl::lowering {

Value Lowerer::lowerExpr(const ast::Expr *e) {
  switch (e->getKind()) {
  case ast::Expr::Kind::Number:
    return constant((float)cast<ast::NumberExpr>(e)->value);
  case ast::Expr::Kind::Bool:
    return constant(cast<ast::BoolExpr>(e)->value ? 1.f : 0.f);
  case ast::Expr::Kind::Name:
    return lowerName(cast<ast::NameExpr>(e));
  case ast::Expr::Kind::Member:
    return lowerMemberRead(e);
  case ast::Expr::Kind::Neg:
    return unary(ExprOp::Neg, lowerExpr(cast<ast::NegExpr>(e)->operand.get()));
  case ast::Expr::Kind::Transpose: // sema allows W' only as an operand of '@'
    break;
  case ast::Expr::Kind::Binary:
    return lowerBinary(cast<ast::BinaryExpr>(e));
  case ast::Expr::Kind::Call:
    return lowerCall(cast<ast::CallExpr>(e));
  }
  return constant(0);
}

Value Lowerer::lowerName(const ast::NameExpr *n) {
  const sema::Symbol &s = model.symbolOf(n);
  switch (s.kind) {
  case sema::Symbol::Kind::Param:
    return slot(ir::kFirstParamSlot + s.index);
  case sema::Symbol::Kind::Const:
    return constant((float)s.constValue);
  case sema::Symbol::Kind::Runtime:
    if (s.index < 0) { // a step counter of the integer context
      auto e = std::make_unique<Expr>();
      e->op = ExprOp::Context;
      e->index = -1 - s.index;
      return {std::move(e), Dim::constant(1), Dim::constant(1)};
    }
    return slot(s.index);
  case sema::Symbol::Kind::Tensor:
  case sema::Symbol::Kind::Layer:
  case sema::Symbol::Kind::Let:
    return load(tensorOf(s));
  case sema::Symbol::Kind::Member:
    return lowerMemberRead(n);
  case sema::Symbol::Kind::Record:
    return load(recordIds[s.index]);
  case sema::Symbol::Kind::Population:
    break; // sema rejects it
  }
  return constant(0);
}

ir::TensorId Lowerer::tensorOf(const sema::Symbol &s) {
  if (s.kind == sema::Symbol::Kind::Tensor)
    return tensorIds[s.index];
  return s.kind == sema::Symbol::Kind::Layer ? layerIds[s.index] : letIds[s.index];
}

Value Lowerer::lowerBinary(const ast::BinaryExpr *b) {
  if (b->op == ast::BinaryOp::MatMul)
    return lowerMatMul(b);
  Value l = lowerExpr(b->lhs.get()), r = lowerExpr(b->rhs.get());
  switch (b->op) {
  case ast::BinaryOp::Add:
    return binary(ExprOp::Add, std::move(l), std::move(r));
  case ast::BinaryOp::Sub:
    return binary(ExprOp::Sub, std::move(l), std::move(r));
  case ast::BinaryOp::Mul:
    return binary(ExprOp::Mul, std::move(l), std::move(r));
  case ast::BinaryOp::Div:
    return binary(ExprOp::Div, std::move(l), std::move(r));
  case ast::BinaryOp::Pow:
    return binary(ExprOp::Pow, std::move(l), std::move(r));
  case ast::BinaryOp::Lt:
    return binary(ExprOp::Lt, std::move(l), std::move(r));
  case ast::BinaryOp::Le:
    return binary(ExprOp::Le, std::move(l), std::move(r));
  case ast::BinaryOp::Gt:
    return binary(ExprOp::Gt, std::move(l), std::move(r));
  case ast::BinaryOp::Ge:
    return binary(ExprOp::Ge, std::move(l), std::move(r));
  case ast::BinaryOp::Eq:
    return binary(ExprOp::Eq, std::move(l), std::move(r));
  case ast::BinaryOp::Ne:
    return binary(ExprOp::Ne, std::move(l), std::move(r));
  case ast::BinaryOp::MatMul:
    break;
  }
  return constant(0);
}

std::pair<ir::TensorId, bool> Lowerer::matrixOperand(const ast::Expr *e, const std::string &name) {
  if (auto *t = dyn_cast<ast::TransposeExpr>(e))
    return {tensorOf(model.symbolOf(cast<ast::NameExpr>(t->operand.get()))), true};
  return {materialize(lowerExpr(e), name + ".lhs"), false};
}

Value Lowerer::lowerMatMul(const ast::BinaryExpr *b) {
  if (std::optional<Value> v = lowerSpikeProduct(b))
    return std::move(*v);
  const sema::Shape &rhsShape = model.shapeOf(b->rhs.get());
  std::string name = "mm";
  auto [a, aTransposed] = matrixOperand(b->lhs.get(), name);
  const ir::Tensor &A = m.tensors[a];
  Dim aRows = aTransposed ? A.cols : A.rows;
  if (rhsShape.isVector()) {
    // Per-example vectors are rows of [R, n], so out = v · Aᵀ.
    ir::TensorId v = materialize(lowerExpr(b->rhs.get()), name + ".rhs");
    ir::TensorId out = temp(name, m.tensors[v].rows, aRows);
    anonymous.insert(out);
    ir::GemmOp g;
    g.a = v, g.b = a, g.c = out;
    g.transB = !aTransposed;
    block->ops.push_back(g);
    return load(out);
  }
  auto [bt, bTransposed] = matrixOperand(b->rhs.get(), name);
  const ir::Tensor &B = m.tensors[bt];
  ir::TensorId out = temp(name, aRows, bTransposed ? B.rows : B.cols);
  anonymous.insert(out);
  ir::GemmOp g;
  g.a = a, g.transA = aTransposed, g.b = bt, g.transB = bTransposed, g.c = out;
  block->ops.push_back(g);
  return load(out);
}

Value Lowerer::lowerCall(const ast::CallExpr *call) {
  const std::string &f = call->callee;
  auto arg = [&](size_t i) { return lowerExpr(call->args[i].value.get()); };
  if (std::optional<Value> v = lowerStatistic(call))
    return std::move(*v);
  if (std::optional<Value> v = lowerDynamicsCall(call))
    return std::move(*v);
  if (std::optional<Value> v = lowerImageCall(call))
    return std::move(*v);
  static const std::pair<const char *, ExprOp> unaries[] = {
      {"sigmoid", ExprOp::Sigmoid}, {"tanh", ExprOp::Tanh}, {"relu", ExprOp::Relu},
      {"exp", ExprOp::Exp},         {"log", ExprOp::Log},   {"abs", ExprOp::Abs},
      {"sqrt", ExprOp::Sqrt},       {"drelu", ExprOp::Step}};
  for (auto [name, op] : unaries)
    if (f == name)
      return unary(op, arg(0));
  if (f == "max" || f == "min")
    return binary(f == "max" ? ExprOp::Max : ExprOp::Min, arg(0), arg(1));
  if (f == "dsigmoid" || f == "dtanh") {
    // σ'(a) = e / (1 + e)² with e = exp(-|a|), and tanh'(a) = 4e / (1 + e)²
    // with e = exp(-2|a|): the textbook σ(1 - σ) and 1 - tanh² cancel to 0
    // in float once |a| passes about 17 (σ) or 9 (tanh).
    bool isTanh = f == "dtanh";
    Value a = arg(0);
    auto e = [&] {
      Value absA = unary(ExprOp::Abs, {a.expr->clone(), a.rows, a.cols});
      return unary(ExprOp::Exp, isTanh ? binary(ExprOp::Mul, constant(-2), std::move(absA))
                                       : unary(ExprOp::Neg, std::move(absA)));
    };
    Value onePlusE = binary(ExprOp::Add, constant(1), e());
    Value onePlusE2{onePlusE.expr->clone(), onePlusE.rows, onePlusE.cols};
    Value square = binary(ExprOp::Mul, std::move(onePlusE), std::move(onePlusE2));
    Value numerator = isTanh ? binary(ExprOp::Mul, constant(4), e()) : e();
    return binary(ExprOp::Div, std::move(numerator), std::move(square));
  }
  // A reduction or product that is exactly a layer or let takes its name.
  auto named = [&](ir::TensorId t) {
    anonymous.insert(t);
    return load(t);
  };
  if (f == "softmax")
    return softmax(arg(0));
  if (f == "sum")
    return named(rowReduce("sum", ir::KernelOp::Reduce::Sum, arg(0)));
  if (f == "cross_entropy") {
    // -Σ t log y, with y floored so that a confident mistake stays finite.
    Value y = arg(0), t = arg(1);
    Value logy = unary(ExprOp::Log, binary(ExprOp::Max, std::move(y), constant(kLogFloor)));
    Value term = unary(ExprOp::Neg, binary(ExprOp::Mul, std::move(t), std::move(logy)));
    return named(rowReduce("cross_entropy", ir::KernelOp::Reduce::Sum, std::move(term)));
  }
  if (f == "mse") {
    Value d = binary(ExprOp::Sub, arg(0), arg(1));
    Value d2{d.expr->clone(), d.rows, d.cols};
    Dim n = d.cols;
    Value sq = binary(ExprOp::Div, binary(ExprOp::Mul, std::move(d), std::move(d2)), dimValue(n));
    return named(rowReduce("mse", ir::KernelOp::Reduce::Sum, std::move(sq)));
  }
  if (f == "outer")
    return named(outerProduct(arg(0), arg(1), "outer"));
  if (f == "grad")
    return load(gradient(call));
  if (f == "normal") {
    // mean + std * z with z ~ N(0, 1) drawn per element and example: grad()
    // then sees the mean and the std, and the draw is a constant to it.
    Value mean = arg(0), sd = arg(1);
    Dim rows = join(mean.rows, sd.rows), cols = join(mean.cols, sd.cols);
    auto z = std::make_unique<Expr>();
    z->op = ExprOp::Normal;
    z->index = drawSite(call);
    return binary(ExprOp::Add, std::move(mean),
                  binary(ExprOp::Mul, std::move(sd), {std::move(z), rows, cols}));
  }
  return constant(0); // unreachable: sema knows every builtin
}

ir::TensorId Lowerer::outerProduct(Value a, Value b, const std::string &name) {
  bool aBatched = a.rows.kind == Dim::Kind::Batch, bBatched = b.rows.kind == Dim::Kind::Batch;
  ir::TensorId ta = materialize(std::move(a), name + ".a");
  ir::TensorId tb = materialize(std::move(b), name + ".b");
  if (aBatched != bBatched) {
    ir::TensorId &perExample = aBatched ? ta : tb;
    perExample = batchMean(name + ".mean", load(perExample));
  }
  ir::GemmOp gemm;
  gemm.a = ta, gemm.transA = true, gemm.b = tb;
  gemm.c = temp(name, m.tensors[ta].cols, m.tensors[tb].cols);
  if (aBatched && bBatched)
    gemm.alphaSlot = ir::kInvBatchSlot;
  block->ops.push_back(gemm);
  return gemm.c;
}

ir::TensorId Lowerer::gradient(const ast::CallExpr *call) {
  auto nameOf = [&](size_t i) { return cast<ast::NameExpr>(call->args[i].value.get()); };
  ir::TensorId loss = tensorOf(model.symbolOf(nameOf(0)));
  ir::TensorId weight = tensorOf(model.symbolOf(nameOf(1)));
  auto [it, added] = gradients.try_emplace({loss, weight}, -1);
  if (added) {
    const ir::Tensor W = m.tensors[weight];
    it->second = temp(W.name + ".grad", W.rows, W.cols);
    block->ops.push_back(ir::GradOp{loss, weight, it->second});
  }
  return it->second;
}

Value Lowerer::softmax(Value z) {
  // exp(z - max z) / Σ exp(z - max z): the shift keeps exp finite.
  ir::TensorId zt = materialize(std::move(z), "softmax.in");
  ir::TensorId zmax = rowReduce("softmax.max", ir::KernelOp::Reduce::Max, load(zt));
  auto shifted = [&] { return unary(ExprOp::Exp, binary(ExprOp::Sub, load(zt), load(zmax))); };
  ir::TensorId total = rowReduce("softmax.sum", ir::KernelOp::Reduce::Sum, shifted());
  return binary(ExprOp::Div, shifted(), load(total));
}

} // namespace bdl::lowering
