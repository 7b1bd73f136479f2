//===- FoldConstants.cpp --------------------------------------------------===//
#include "transforms/Passes.h"

#include "ir/ExprInfo.h"

namespace bdl {
namespace {

using ir::Expr;
using ir::ExprOp;
using ir::ExprPtr;

bool isConst(const ExprPtr &e, float v) { return e->op == ExprOp::Const && e->value == v; }

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
    e = Expr::constant(ir::apply(e->op, a, b));
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
