//===- HoistInvariants.cpp - Loop invariants of a phase into its prologue -===//
//
// A phase repeats its ops every step; an op whose inputs no op of the step
// writes (weights, fixed tensors, params, the batch's input) computes the
// same values every step. Such an op moves to the block's prologue, which
// runs once before the steps:
//
//   block forward steps 50 {            block forward steps 50 {
//     map @Yeff = mul(%Y, %mask)          prologue { map @Yeff = mul(%Y, %mask) }
//     gemm %A = %psp x %Yeff^T            gemm %A = %psp x %Yeff^T
//
// It applies to an op of a block with more than one step (or a drawn step
// count) when
//  - it is a kernel or a GEMM (rotations and replays are about time);
//  - it draws nothing and reads no step counter (a draw or `step` differs
//    from step to step);
//  - every tensor it reads is written by no op of the step, or only by ops
//    already hoisted;
//  - every tensor it writes is a temporary or a state that nothing else in
//    the step writes (a state keeps the hoisted value through the phase), and that no op before it
//    in the step reads (such a read would see the previous step's value, which the prologue has
//    already replaced);
//  - a GEMM does not accumulate into its output (beta = 0).
// Ops are visited in order, so a chain of invariants moves together.
//
//===----------------------------------------------------------------------===//
#include "transforms/OpEffects.h"
#include "transforms/Passes.h"

#include "ir/ExprInfo.h"

#include <set>

namespace bdl {
namespace {

bool readsContext(const ir::Expr &e) {
  if (e.op == ir::ExprOp::Context)
    return true;
  for (const ir::ExprPtr &o : e.operands)
    if (o && readsContext(*o))
      return true;
  return false;
}

bool movable(const ir::Op &op) {
  if (auto *g = std::get_if<ir::GemmOp>(&op))
    return !g->readsC();
  auto *k = std::get_if<ir::KernelOp>(&op);
  if (!k)
    return false;
  for (const ir::KernelOutput &o : k->outputs)
    if (ir::containsDraw(*o.value) || readsContext(*o.value))
      return false;
  return true;
}

void hoist(ir::Module &m, ir::Block &b) {
  if (b.steps <= 1 && !b.stepsExpr)
    return;
  std::multiset<ir::TensorId> written; // by the ops still in the step
  for (const ir::Op &op : b.ops)
    forEachWrite(op, /*unstored=*/true, [&](ir::TensorId t) { written.insert(t); });
  std::set<ir::TensorId> readBefore; // by the ops of the step seen so far
  std::vector<ir::Op> kept;
  for (ir::Op &op : b.ops) {
    bool invariant = movable(op);
    if (invariant)
      forEachRead(op, [&](ir::TensorId t) { invariant &= written.count(t) == 0; });
    if (invariant)
      forEachWrite(op, true, [&](ir::TensorId t) {
        invariant &=
            (m.tensors[t].role == ir::Role::Temp || m.tensors[t].role == ir::Role::State) &&
            written.count(t) == 1 && readBefore.count(t) == 0;
      });
    if (invariant) {
      forEachWrite(op, true, [&](ir::TensorId t) { written.erase(written.find(t)); });
      b.prologue.push_back(std::move(op));
      continue;
    }
    forEachRead(op, [&](ir::TensorId t) { readBefore.insert(t); });
    kept.push_back(std::move(op));
  }
  b.ops = std::move(kept);
}

} // namespace

void hoistInvariants(ir::Module &m) {
  for (std::vector<ir::Block> *schedule : {&m.trainBlocks, &m.evalBlocks})
    for (ir::Block &b : *schedule)
      hoist(m, b);
}

} // namespace bdl
