//===- AST.cpp ------------------------------------------------------------===//
#include "ast/AST.h"

namespace bdl::ast {

const char *spelling(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::MatMul:
    return "@";
  case BinaryOp::Pow:
    return "^";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  }
  return "?";
}

const char *spelling(TensorKind kind) {
  switch (kind) {
  case TensorKind::Input:
    return "input";
  case TensorKind::Target:
    return "target";
  case TensorKind::Weight:
    return "weight";
  case TensorKind::Fixed:
    return "fixed";
  }
  return "?";
}

ExprPtr clone(const Expr &e) {
  using llvm::cast;
  switch (e.getKind()) {
  case Expr::Kind::Number: {
    auto &n = cast<NumberExpr>(e);
    return std::make_unique<NumberExpr>(n.getRange(), n.value, n.isInteger);
  }
  case Expr::Kind::Bool:
    return std::make_unique<BoolExpr>(e.getRange(), cast<BoolExpr>(e).value);
  case Expr::Kind::Name:
    return std::make_unique<NameExpr>(e.getRange(), cast<NameExpr>(e).name);
  case Expr::Kind::Member: {
    auto &m = cast<MemberExpr>(e);
    return std::make_unique<MemberExpr>(m.getRange(), m.population, m.populationRange, m.name,
                                        m.nameRange);
  }
  case Expr::Kind::Neg:
    return std::make_unique<NegExpr>(e.getRange(), clone(*cast<NegExpr>(e).operand));
  case Expr::Kind::Transpose:
    return std::make_unique<TransposeExpr>(e.getRange(), clone(*cast<TransposeExpr>(e).operand));
  case Expr::Kind::Binary: {
    auto &b = cast<BinaryExpr>(e);
    return std::make_unique<BinaryExpr>(b.getRange(), b.op, b.opRange, clone(*b.lhs),
                                        clone(*b.rhs));
  }
  case Expr::Kind::Call: {
    auto &c = cast<CallExpr>(e);
    std::vector<Arg> args;
    for (const Arg &a : c.args)
      args.push_back({a.key, a.keyRange, clone(*a.value), a.window, a.windowRange});
    return std::make_unique<CallExpr>(c.getRange(), c.callee, c.calleeRange, std::move(args));
  }
  }
  return nullptr;
}

} // namespace bdl::ast
