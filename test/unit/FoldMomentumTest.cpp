//===- FoldMomentumTest.cpp - When a momentum step joins its GEMM ---------===//
//
// The cases bdl source cannot write yet (a second reader of the raw
// gradient, as a monitor, clipping or Adam will be) are built as IR here;
// test/IR/fold-momentum.bdl covers what lowering produces.
//
//===----------------------------------------------------------------------===//
#include "ir/IR.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "transforms/Passes.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

namespace {

using namespace bdl::ir;

constexpr int kMomentumSlot = kFirstParamSlot;

struct Step {
  Module m;
  TensorId x, e, W, grad, velocity;
};

/// grad = hp[1] e^T x;  sgd: velocity = momentum * velocity + grad;
/// W = W - 0.1 * $0. `momentum` is hp[3] unless a constant is given.
Step momentumStep(ExprPtr momentum = nullptr) {
  Step s;
  Module &m = s.m;
  m.name = "step";
  m.params.push_back({"momentum", 0.9});
  Dim B = Dim::batch(), n = Dim::constant(4), k = Dim::constant(3);
  s.x = m.input = m.addTensor({"x", Role::Input, B, n});
  m.target = m.addTensor({"t", Role::Target, B, k});
  s.e = m.predict = m.addTensor({"e", Role::Temp, B, k});
  s.W = m.addTensor({"W", Role::Weight, k, n});
  s.grad = m.addTensor({"W.grad", Role::Temp, k, n});
  s.velocity = m.addTensor({"W.velocity", Role::Optimizer, k, n});
  KernelOp error;
  error.name = "e";
  error.rows = B, error.cols = k;
  error.outputs.push_back({s.e, Expr::load(m.target, Access::Full), true});
  GemmOp g;
  g.a = s.e, g.transA = true, g.b = s.x, g.c = s.grad, g.alphaSlot = kInvBatchSlot;
  KernelOp sgd;
  sgd.name = "sgd.W";
  sgd.rows = k, sgd.cols = n;
  if (!momentum)
    momentum = Expr::slot(kMomentumSlot);
  sgd.outputs.push_back({s.velocity,
                         Expr::binary(ExprOp::Add,
                                      Expr::binary(ExprOp::Mul, std::move(momentum),
                                                   Expr::load(s.velocity, Access::Full)),
                                      Expr::load(s.grad, Access::Full)),
                         true});
  sgd.outputs.push_back(
      {s.W,
       Expr::binary(ExprOp::Sub, Expr::load(s.W, Access::Full),
                    Expr::binary(ExprOp::Mul, Expr::constant(0.1f), Expr::local(0))),
       true});
  m.trainBlocks.push_back({"learn", 1, {}});
  m.trainBlocks[0].ops.push_back(std::move(error));
  m.trainBlocks[0].ops.push_back(g);
  m.trainBlocks[0].ops.push_back(std::move(sgd));
  return s;
}

std::string text(const Module &m) {
  std::string out;
  llvm::raw_string_ostream os(out);
  print(m, os);
  return os.str();
}

/// Runs the pass; expects a module that still verifies.
void fold(Module &m) {
  bdl::foldMomentumIntoGemm(m);
  std::string errors;
  llvm::raw_string_ostream os(errors);
  EXPECT_TRUE(verify(m, os)) << os.str() << text(m);
}

const GemmOp &gemmAt(const Module &m, size_t i) {
  return std::get<GemmOp>(m.trainBlocks[0].ops.at(i));
}

TEST(FoldMomentum, RuntimeMomentumBecomesTheGemmsBetaSlot) {
  Step s = momentumStep();
  fold(s.m);
  const GemmOp &g = gemmAt(s.m, 1);
  EXPECT_EQ(g.c, s.velocity);
  EXPECT_EQ(g.beta, 1.0f);
  EXPECT_EQ(g.betaSlot, kMomentumSlot);
  EXPECT_EQ(g.alphaSlot, kInvBatchSlot);
  EXPECT_EQ(g.alpha, 1.0f);
  const auto &sgd = std::get<KernelOp>(s.m.trainBlocks[0].ops.at(2));
  ASSERT_EQ(sgd.outputs.size(), 1u);
  EXPECT_EQ(sgd.outputs[0].tensor, s.W);
  EXPECT_NE(text(s.m).find("gemm %W.velocity = hp[1] * %e^T x %x + hp[3] * %W.velocity\n"),
            std::string::npos)
      << text(s.m);
  EXPECT_NE(text(s.m).find("$0 %W = sub(%W, mul(0.1, %W.velocity))"), std::string::npos)
      << text(s.m);
}

TEST(FoldMomentum, ConstantMomentumBecomesBeta) {
  Step s = momentumStep(Expr::constant(0.5f));
  fold(s.m);
  const GemmOp &g = gemmAt(s.m, 1);
  EXPECT_EQ(g.c, s.velocity);
  EXPECT_EQ(g.beta, 0.5f);
  EXPECT_EQ(g.betaSlot, -1);
}

TEST(FoldMomentum, ZeroMomentumIsLeftAlone) {
  // 0 * v is not 0 when v holds a NaN; a GEMM with beta 0 would not read v.
  Step s = momentumStep(Expr::constant(0.0f));
  std::string before = text(s.m);
  fold(s.m);
  EXPECT_EQ(text(s.m), before);
}

TEST(FoldMomentum, AGradientSomethingElseReadsKeepsItsBuffer) {
  // A monitor (say) that reads the raw gradient after the GEMM.
  Step s = momentumStep();
  TensorId norm = s.m.addTensor({"grad.sq", Role::Temp, Dim::constant(3), Dim::constant(1)});
  KernelOp monitor;
  monitor.kind = KernelOp::Kind::RowReduce;
  monitor.name = "grad.sq";
  monitor.rows = Dim::constant(3), monitor.cols = Dim::constant(4);
  monitor.outputs.push_back({norm,
                             Expr::binary(ExprOp::Mul, Expr::load(s.grad, Access::Full),
                                          Expr::load(s.grad, Access::Full)),
                             true});
  s.m.trainBlocks[0].ops.push_back(std::move(monitor));
  std::string before = text(s.m);
  fold(s.m);
  EXPECT_EQ(text(s.m), before);
}

TEST(FoldMomentum, AGradientReadInALaterBlockKeepsItsBuffer) {
  Step s = momentumStep();
  KernelOp probe;
  probe.name = "probe";
  probe.rows = Dim::constant(3), probe.cols = Dim::constant(4);
  TensorId copy = s.m.addTensor({"probe", Role::State, Dim::constant(3), Dim::constant(4)});
  probe.outputs.push_back({copy, Expr::load(s.grad, Access::Full), true});
  s.m.trainBlocks.push_back({"report", 1, {}});
  s.m.trainBlocks[1].ops.push_back(std::move(probe));
  fold(s.m);
  EXPECT_EQ(gemmAt(s.m, 1).c, s.grad);
}

TEST(FoldMomentum, AVelocityReadBetweenGemmAndStepIsLeftAlone) {
  // Moving the velocity's update up to the GEMM would change what this reads.
  Step s = momentumStep();
  TensorId seen = s.m.addTensor({"seen", Role::State, Dim::constant(3), Dim::constant(4)});
  KernelOp reader;
  reader.name = "seen";
  reader.rows = Dim::constant(3), reader.cols = Dim::constant(4);
  reader.outputs.push_back({seen, Expr::load(s.velocity, Access::Full), true});
  auto &ops = s.m.trainBlocks[0].ops;
  ops.insert(ops.begin() + 2, std::move(reader));
  std::string before = text(s.m);
  fold(s.m);
  EXPECT_EQ(text(s.m), before);
}

TEST(FoldMomentum, OldVelocityReadInTheSameKernelIsLeftAlone) {
  Step s = momentumStep();
  auto &sgd = std::get<KernelOp>(s.m.trainBlocks[0].ops[2]);
  // W = W - 0.1 * $0 - 0.01 * velocity (the old one).
  sgd.outputs[1].value = Expr::binary(
      ExprOp::Sub, std::move(sgd.outputs[1].value),
      Expr::binary(ExprOp::Mul, Expr::constant(0.01f), Expr::load(s.velocity, Access::Full)));
  std::string before = text(s.m);
  fold(s.m);
  EXPECT_EQ(text(s.m), before);
}

TEST(FoldMomentum, AGemmThatAlreadyAccumulatesIsLeftAlone) {
  Step s = momentumStep();
  std::get<GemmOp>(s.m.trainBlocks[0].ops[1]).beta = 1;
  // Something must write the gradient before a beta-1 GEMM reads it.
  KernelOp init;
  init.name = "grad.init";
  init.rows = Dim::constant(3), init.cols = Dim::constant(4);
  init.outputs.push_back({s.grad, Expr::constant(0), true});
  auto &ops = s.m.trainBlocks[0].ops;
  ops.insert(ops.begin() + 1, std::move(init));
  std::string before = text(s.m);
  fold(s.m);
  EXPECT_EQ(text(s.m), before);
}

TEST(FoldMomentum, AConstantFactorOnTheGradientJoinsAlpha) {
  Step s = momentumStep();
  auto &sgd = std::get<KernelOp>(s.m.trainBlocks[0].ops[2]);
  ExprPtr &gradient = sgd.outputs[0].value->operands[1];
  gradient = Expr::binary(ExprOp::Mul, std::move(gradient), Expr::constant(-2.0f));
  fold(s.m);
  EXPECT_EQ(gemmAt(s.m, 1).c, s.velocity);
  EXPECT_EQ(gemmAt(s.m, 1).alpha, -2.0f);
}

TEST(FoldMomentum, AStepOfOnlyTheVelocityDisappears) {
  Step s = momentumStep();
  auto &sgd = std::get<KernelOp>(s.m.trainBlocks[0].ops[2]);
  sgd.outputs.pop_back(); // no weight update in this kernel
  fold(s.m);
  EXPECT_EQ(s.m.trainBlocks[0].ops.size(), 2u) << text(s.m);
  EXPECT_EQ(gemmAt(s.m, 1).c, s.velocity);
}

} // namespace
