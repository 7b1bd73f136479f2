//===- IR.cpp - Expression helpers of the bdl IR -------------------------===//
#include "ir/IR.h"
#include <utility>

namespace bdl::ir {

ExprPtr Expr::constant(float v) {
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Const;
  e->value = v;
  return e;
}

ExprPtr Expr::slot(int32_t slot) {
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Slot;
  e->index = slot;
  return e;
}

ExprPtr Expr::load(TensorId t, Access a) {
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Load;
  e->index = t;
  e->access = a;
  return e;
}

ExprPtr Expr::local(int32_t output) {
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Local;
  e->index = output;
  return e;
}

ExprPtr Expr::unary(ExprOp op, ExprPtr x) {
  auto e = std::make_unique<Expr>();
  e->op = op;
  e->operands.push_back(std::move(x));
  return e;
}

ExprPtr Expr::binary(ExprOp op, ExprPtr l, ExprPtr r) {
  auto e = std::make_unique<Expr>();
  e->op = op;
  e->operands.push_back(std::move(l));
  e->operands.push_back(std::move(r));
  return e;
}

ExprPtr Expr::clone() const {
  auto e = std::make_unique<Expr>();
  e->op = op;
  e->value = value;
  e->index = index;
  e->access = access;
  for (const ExprPtr &o : operands)
    e->operands.push_back(o->clone());
  return e;
}

int arity(ExprOp op) {
  switch (op) {
  case ExprOp::Const:
  case ExprOp::Slot:
  case ExprOp::Load:
  case ExprOp::Local:
  case ExprOp::Context:
  case ExprOp::Normal:
    return 0;
  case ExprOp::Neg:
  case ExprOp::Exp:
  case ExprOp::Log:
  case ExprOp::Tanh:
  case ExprOp::Sigmoid:
  case ExprOp::Relu:
  case ExprOp::Step:
  case ExprOp::Abs:
  case ExprOp::Sqrt:
  case ExprOp::Acos:
    return 1;
  case ExprOp::Add:
  case ExprOp::Sub:
  case ExprOp::Mul:
  case ExprOp::Div:
  case ExprOp::Pow:
  case ExprOp::Max:
  case ExprOp::Min:
  case ExprOp::Lt:
  case ExprOp::Le:
  case ExprOp::Gt:
  case ExprOp::Ge:
  case ExprOp::Eq:
  case ExprOp::Ne:
  case ExprOp::Wald:
    return 2;
  case ExprOp::Select:
    return 3;
  case ExprOp::Poisson:
  case ExprOp::Bernoulli:
    return 1;
  }
  return 0;
}

const char *spelling(ExprOp op) {
  switch (op) {
  case ExprOp::Const:
    return "const";
  case ExprOp::Slot:
    return "hp";
  case ExprOp::Load:
    return "load";
  case ExprOp::Local:
    return "local";
  case ExprOp::Context:
    return "ctx";
  case ExprOp::Neg:
    return "neg";
  case ExprOp::Exp:
    return "exp";
  case ExprOp::Log:
    return "log";
  case ExprOp::Tanh:
    return "tanh";
  case ExprOp::Sigmoid:
    return "sigmoid";
  case ExprOp::Relu:
    return "relu";
  case ExprOp::Step:
    return "step";
  case ExprOp::Abs:
    return "abs";
  case ExprOp::Sqrt:
    return "sqrt";
  case ExprOp::Acos:
    return "acos";
  case ExprOp::Add:
    return "add";
  case ExprOp::Sub:
    return "sub";
  case ExprOp::Mul:
    return "mul";
  case ExprOp::Div:
    return "div";
  case ExprOp::Pow:
    return "pow";
  case ExprOp::Max:
    return "max";
  case ExprOp::Min:
    return "min";
  case ExprOp::Lt:
    return "lt";
  case ExprOp::Le:
    return "le";
  case ExprOp::Gt:
    return "gt";
  case ExprOp::Ge:
    return "ge";
  case ExprOp::Eq:
    return "eq";
  case ExprOp::Ne:
    return "ne";
  case ExprOp::Select:
    return "select";
  case ExprOp::Poisson:
    return "poisson";
  case ExprOp::Bernoulli:
    return "bernoulli";
  case ExprOp::Wald:
    return "wald";
  case ExprOp::Normal:
    return "normal";
  }
  return "?";
}

const char *spelling(ImageOp::Kind kind) {
  switch (kind) {
  case ImageOp::Kind::Im2col:
    return "im2col";
  case ImageOp::Kind::Col2im:
    return "col2im";
  case ImageOp::Kind::MaxPool:
    return "maxpool";
  case ImageOp::Kind::MaxPoolAdjoint:
    return "maxpool.adjoint";
  case ImageOp::Kind::Reshape:
    return "reshape";
  }
  return "?";
}

const Guard *guardOf(const Op &op) {
  if (auto *g = std::get_if<GemmOp>(&op))
    return &g->guard;
  if (auto *r = std::get_if<RotateOp>(&op))
    return &r->guard;
  return nullptr;
}

Guard *guardOf(Op &op) { return const_cast<Guard *>(guardOf(std::as_const(op))); }

bool accessFits(const Tensor &t, Access a, Dim rows, Dim cols) {
  switch (a) {
  case Access::Full:
    return t.rows == rows && t.cols == cols;
  case Access::Row:
    return t.rows == rows && t.cols.isOne();
  case Access::Col:
    return t.rows.isOne() && t.cols == cols;
  case Access::Scalar:
    // Only a [1, 1] tensor: reading element [0, 0] of a larger one would
    // silently drop the rest of it.
    return t.rows.isOne() && t.cols.isOne();
  }
  return false;
}

bool accessFor(const Tensor &t, Dim rows, Dim cols, Access &out) {
  for (Access a : {Access::Full, Access::Row, Access::Col, Access::Scalar})
    if (accessFits(t, a, rows, cols)) {
      out = a;
      return true;
    }
  return false;
}

} // namespace bdl::ir
