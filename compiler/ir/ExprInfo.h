//===- ExprInfo.h - Classes of expression ops -----------------*- C++ -*-===//
//
// Which ExprOps draw random numbers, compare, or may appear where: one place
// for the verifier, the passes and code generation to ask.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_EXPRINFO_H
#define BDL_IR_EXPRINFO_H

#include "ir/IR.h"

#include <cmath>

namespace bdl::ir {

/// Draw sites are below this: the Philox counter's last word is
/// BDL_DRAW_STREAM | site << 8 | block (bdl/abi.h, bdl/sampler.h).
constexpr int32_t kMaxDrawSites = 1 << 21;

/// A random draw: its value depends on its site and the call's context, so
/// it must be neither folded nor computed twice per element.
inline bool isDraw(ExprOp op) {
  return op == ExprOp::Poisson || op == ExprOp::Bernoulli || op == ExprOp::Wald ||
         op == ExprOp::Normal;
}

inline bool isComparison(ExprOp op) { return op >= ExprOp::Lt && op <= ExprOp::Ne; }

/// Neg .. Min: the unary and binary arithmetic and transcendental ops.
inline bool isArithmetic(ExprOp op) { return op >= ExprOp::Neg && op <= ExprOp::Min; }

/// Whether `e` or any of its operands is a random draw.
inline bool containsDraw(const Expr &e) {
  if (isDraw(e.op))
    return true;
  for (const ExprPtr &o : e.operands)
    if (o && containsDraw(*o))
      return true;
  return false;
}

/// Whether `e` reads nothing but constants and hp slots: the same value at
/// every element of a kernel call (a model flag such as `hp[spiking]`).
inline bool readsOnlyParams(const Expr &e) {
  if (e.op == ExprOp::Load || e.op == ExprOp::Local || e.op == ExprOp::Context || isDraw(e.op))
    return false;
  for (const ExprPtr &o : e.operands)
    if (o && !readsOnlyParams(*o))
      return false;
  return true;
}

/// Structural equality (same ops, values, indices and accesses).
inline bool sameExpr(const Expr &a, const Expr &b) {
  if (a.op != b.op || a.index != b.index || a.access != b.access ||
      a.operands.size() != b.operands.size() ||
      (a.op == ExprOp::Const &&
       !(a.value == b.value || (a.value != a.value && b.value != b.value))))
    return false;
  for (size_t i = 0; i < a.operands.size(); ++i)
    if (!sameExpr(*a.operands[i], *b.operands[i]))
      return false;
  return true;
}

/// An arithmetic op or comparison applied to values (b unused by unary ops),
/// with the generated code's semantics: in float, the value constant folding
/// must reproduce; in double, the IR interpreter's.
template <typename T> T apply(ExprOp op, T a, T b) {
  switch (op) {
  case ExprOp::Neg:
    return -a;
  case ExprOp::Exp:
    return std::exp(a);
  case ExprOp::Log:
    return std::log(a);
  case ExprOp::Tanh:
    return std::tanh(a);
  case ExprOp::Sigmoid:
    return T(1) / (T(1) + std::exp(-a));
  case ExprOp::Relu: // as the generated code: NaN stays NaN
    return a < 0 ? T(0) : a;
  case ExprOp::Step:
    return a > 0 ? T(1) : T(0);
  case ExprOp::Abs:
    return std::fabs(a);
  case ExprOp::Sqrt:
    return std::sqrt(a);
  case ExprOp::Acos:
    return std::acos(a);
  case ExprOp::Add:
    return a + b;
  case ExprOp::Sub:
    return a - b;
  case ExprOp::Mul:
    return a * b;
  case ExprOp::Div:
    return a / b;
  case ExprOp::Pow:
    return std::pow(a, b);
  case ExprOp::Max:
    return std::fmax(a, b);
  case ExprOp::Min:
    return std::fmin(a, b);
  // As the generated code: ordered, but != is true on NaN.
  case ExprOp::Lt:
    return a < b ? T(1) : T(0);
  case ExprOp::Le:
    return a <= b ? T(1) : T(0);
  case ExprOp::Gt:
    return a > b ? T(1) : T(0);
  case ExprOp::Ge:
    return a >= b ? T(1) : T(0);
  case ExprOp::Eq:
    return a == b ? T(1) : T(0);
  case ExprOp::Ne:
    return a != b ? T(1) : T(0);
  default:
    return 0;
  }
}

} // namespace bdl::ir

#endif // BDL_IR_EXPRINFO_H
