//===- Monitors.cpp - Batch statistics and the monitors that log them -----===//
//
// angle(a, b), norm(a) and mean(a) summarise a value over the whole batch
// (every element of every example) into one number; update(W) is the
// learning rule's delta for W, batch-averaged, as the optimiser receives it.
// A monitor stores its value in a [1, 1] tensor the runtime reads after
// every batch (ir::Module::monitors).
//
//===----------------------------------------------------------------------===//
#include "lower/Lowerer.h"

#include <limits>
#include <numbers>

namespace bdl::lowering {

std::optional<Value> Lowerer::lowerStatistic(const ast::CallExpr *call) {
  const std::string &f = call->callee;
  auto arg = [&](size_t i) { return lowerExpr(call->args[i].value.get()); };
  auto scalar = [](ExprPtr e) { return Value{std::move(e), Dim::constant(1), Dim::constant(1)}; };
  if (f == "update") {
    ir::TensorId w = tensorOf(model.symbolOf(cast<ast::NameExpr>(call->args[0].value.get())));
    return load(updateDeltas.at(w));
  }
  if (f == "norm") {
    ir::TensorId a = materialize(arg(0), "norm.in");
    return unary(ExprOp::Sqrt, total("norm", binary(ExprOp::Mul, load(a), load(a))));
  }
  if (f == "mean" && call->args.size() == 1) {
    Value v = arg(0);
    Value count = binary(ExprOp::Mul, dimValue(v.rows), dimValue(v.cols));
    return binary(ExprOp::Div, total("mean", std::move(v)), std::move(count));
  }
  if (f != "angle")
    return std::nullopt;
  // acos(a·b / (|a| |b|)) in degrees, clamped to acos's domain against
  // rounding; NaN when either is zero (no direction to compare).
  ir::TensorId a = materialize(arg(0), "angle.a"), b = materialize(arg(1), "angle.b");
  auto sum = [&](const char *name, ir::TensorId x, ir::TensorId y) {
    return materialize(total(name, binary(ExprOp::Mul, load(x), load(y))), name);
  };
  ir::TensorId ab = sum("angle.ab", a, b), aa = sum("angle.aa", a, a), bb = sum("angle.bb", b, b);
  ExprPtr product =
      Expr::binary(ExprOp::Mul, Expr::load(aa, ir::Access::Full), Expr::load(bb, ir::Access::Full));
  ExprPtr cosine = Expr::binary(ExprOp::Div, Expr::load(ab, ir::Access::Full),
                                Expr::unary(ExprOp::Sqrt, product->clone()));
  cosine =
      Expr::binary(ExprOp::Min, Expr::binary(ExprOp::Max, std::move(cosine), Expr::constant(-1)),
                   Expr::constant(1));
  ExprPtr degrees = Expr::binary(ExprOp::Mul, Expr::unary(ExprOp::Acos, std::move(cosine)),
                                 Expr::constant(float(180 / std::numbers::pi)));
  auto select = std::make_unique<Expr>();
  select->op = ExprOp::Select;
  select->operands.push_back(Expr::binary(ExprOp::Gt, std::move(product), Expr::constant(0)));
  select->operands.push_back(std::move(degrees));
  select->operands.push_back(Expr::constant(std::numeric_limits<float>::quiet_NaN()));
  return scalar(std::move(select));
}

void Lowerer::lowerMonitor(const ast::LearnStmt &monitor) {
  Value v = lowerExpr(monitor.value.get());
  v.rows = v.cols = Dim::constant(1);
  ir::TensorId t = materialize(std::move(v), "monitor." + monitor.name.name);
  m.monitors.push_back({monitor.name.name, t});
}

} // namespace bdl::lowering
