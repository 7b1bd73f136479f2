//===- FoldConstants.cpp --------------------------------------------------===//
#include "transforms/Passes.h"

#include "ir/ExprInfo.h"

#include <cmath>

namespace bdl {
namespace {

using ir::Expr;
using ir::ExprOp;
using ir::ExprPtr;

bool isConst(const ExprPtr &e, float v) { return e->op == ExprOp::Const && e->value == v; }

/// The value of `op` applied to constants, computed as the generated code
/// would in float.
float evaluate(ExprOp op, float a, float b) {
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
    return 1.f / (1.f + std::exp(-a));
  case ExprOp::Relu: // as the generated code: NaN stays NaN
    return a < 0 ? 0.f : a;
  case ExprOp::Step:
    return a > 0 ? 1.f : 0.f;
  case ExprOp::Abs:
    return std::fabs(a);
  case ExprOp::Sqrt:
    return std::sqrt(a);
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
    return a < b ? 1.f : 0.f;
  case ExprOp::Le:
    return a <= b ? 1.f : 0.f;
  case ExprOp::Gt:
    return a > b ? 1.f : 0.f;
  case ExprOp::Ge:
    return a >= b ? 1.f : 0.f;
  case ExprOp::Eq:
    return a == b ? 1.f : 0.f;
  case ExprOp::Ne:
    return a != b ? 1.f : 0.f;
  default:
    return 0;
  }
}

void fold(ExprPtr &e) {
  for (ExprPtr &o : e->operands)
    fold(o);
  // Leaves (Context included) have nothing to fold; a draw has a new value
  // at every element and step, whatever its operands.
  if (ir::arity(e->op) == 0 || ir::isDraw(e->op))
    return;
  // A constant condition picks its branch (the other one's draws, if any,
  // would not have been evaluated anyway).
  if (e->op == ExprOp::Select) {
    if (e->operands[0]->op == ExprOp::Const) {
      int pick = e->operands[0]->value != 0 ? 1 : 2; // NaN != 0, as in C
      ExprPtr chosen = std::move(e->operands[pick]);
      e = std::move(chosen);
    }
    return;
  }
  bool allConst = true;
  for (const ExprPtr &o : e->operands)
    allConst &= o->op == ExprOp::Const;
  if (allConst) {
    float a = e->operands[0]->value, b = e->operands.size() > 1 ? e->operands[1]->value : 0;
    e = Expr::constant(evaluate(e->op, a, b));
    return;
  }
  // Identities that hold in IEEE arithmetic for every operand, -0 and NaN
  // included. Not x*0 (NaN*0 is NaN) and not x+0 (-0+0 is +0).
  auto keep = [&](int i) { e = std::move(e->operands[i]); };
  switch (e->op) {
  case ExprOp::Sub:
    if (isConst(e->operands[1], 0))
      return keep(0);
    break;
  case ExprOp::Mul:
    if (isConst(e->operands[0], 1))
      return keep(1);
    if (isConst(e->operands[1], 1))
      return keep(0);
    break;
  case ExprOp::Div:
  case ExprOp::Pow:
    if (isConst(e->operands[1], 1))
      return keep(0);
    break;
  case ExprOp::Neg:
    if (e->operands[0]->op == ExprOp::Neg) {
      ExprPtr inner = std::move(e->operands[0]->operands[0]);
      e = std::move(inner);
    }
    break;
  default:
    break;
  }
}

} // namespace

void foldConstants(ir::Module &m) {
  for (auto *blocks : {&m.trainBlocks, &m.evalBlocks})
    for (ir::Block &b : *blocks) {
      // A step count may be folded (Wald draws stay); it stays an
      // expression, so that the block keeps a step function.
      if (b.stepsExpr)
        fold(b.stepsExpr);
      for (std::vector<ir::Op> *ops : {&b.prologue, &b.ops})
        for (ir::Op &op : *ops)
          if (auto *k = std::get_if<ir::KernelOp>(&op))
            for (ir::KernelOutput &o : k->outputs)
              fold(o.value);
    }
}

} // namespace bdl
