//===- IRParserTest.cpp - print -> parse keeps everything a Module holds ---===//
//
// The lit round-trip tests compare text with text, which cannot notice a
// field that the printer leaves out (both texts lack it). These compare the
// parsed Module with the original, field by field, bit for bit.
//
//===----------------------------------------------------------------------===//
#include "ir/IR.h"
#include "ir/Parser.h"
#include "ir/Printer.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <bit>
#include <limits>

namespace {

using namespace bdl::ir;

std::string printed(const Module &m) {
  std::string text;
  llvm::raw_string_ostream os(text);
  print(m, os);
  return os.str();
}

/// Parses `text`; on failure returns nullopt and puts the message in `errors`.
std::optional<Module> parsed(const std::string &text, std::string &errors) {
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "test.bdlir"), llvm::SMLoc());
  llvm::raw_string_ostream os(errors);
  return parseModule(sm, os);
}

template <typename F> void expectSameBits(F a, F b, const std::string &what) {
  using Bits = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
  EXPECT_EQ(std::bit_cast<Bits>(a), std::bit_cast<Bits>(b)) << what << ": " << a << " vs " << b;
}

void expectSameExpr(const Expr &a, const Expr &b, const std::string &what) {
  ASSERT_EQ(a.op, b.op) << what;
  ASSERT_EQ(a.operands.size(), b.operands.size()) << what;
  switch (a.op) {
  case ExprOp::Const:
    expectSameBits(a.value, b.value, what);
    break;
  case ExprOp::Load:
    EXPECT_EQ(a.access, b.access) << what;
    [[fallthrough]];
  case ExprOp::Slot:
  case ExprOp::Local:
  case ExprOp::Context:
  case ExprOp::Poisson:
  case ExprOp::Bernoulli:
  case ExprOp::Wald:
    EXPECT_EQ(a.index, b.index) << what;
    break;
  default:
    break;
  }
  for (size_t i = 0; i < a.operands.size(); ++i)
    expectSameExpr(*a.operands[i], *b.operands[i], what);
}

void expectSameOps(const std::vector<Op> &a, const std::vector<Op> &b, const std::string &where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (size_t o = 0; o < a.size(); ++o) {
    {
      std::string what = where + " op " + std::to_string(o);
      ASSERT_EQ(a[o].index(), b[o].index()) << what;
      if (auto *r = std::get_if<RotateOp>(&a[o])) {
        const RotateOp &q = std::get<RotateOp>(b[o]);
        EXPECT_EQ(std::tie(r->first, r->count), std::tie(q.first, q.count)) << what;
        continue;
      }
      if (auto *r = std::get_if<ReplayOp>(&a[o])) {
        EXPECT_EQ(r->tensor, std::get<ReplayOp>(b[o]).tensor) << what;
        continue;
      }
      if (auto *g = std::get_if<GemmOp>(&a[o])) {
        const GemmOp &h = std::get<GemmOp>(b[o]);
        EXPECT_EQ(std::tie(g->a, g->b, g->c, g->transA, g->transB, g->alphaSlot, g->betaSlot),
                  std::tie(h.a, h.b, h.c, h.transA, h.transB, h.alphaSlot, h.betaSlot))
            << what;
        expectSameBits(g->alpha, h.alpha, what + " alpha");
        expectSameBits(g->beta, h.beta, what + " beta");
        continue;
      }
      const KernelOp &k = std::get<KernelOp>(a[o]), &l = std::get<KernelOp>(b[o]);
      EXPECT_EQ(k.kind, l.kind) << what;
      if (k.kind != KernelOp::Kind::Map) {
        EXPECT_EQ(k.reduce, l.reduce) << what;
      }
      EXPECT_EQ(k.name, l.name) << what;
      EXPECT_EQ(k.rows, l.rows) << what;
      EXPECT_EQ(k.cols, l.cols) << what;
      ASSERT_EQ(k.outputs.size(), l.outputs.size()) << what;
      for (size_t n = 0; n < k.outputs.size(); ++n) {
        EXPECT_EQ(k.outputs[n].tensor, l.outputs[n].tensor) << what;
        EXPECT_EQ(k.outputs[n].stored, l.outputs[n].stored) << what;
        expectSameExpr(*k.outputs[n].value, *l.outputs[n].value, what);
      }
    }
  }
}

void expectSameBlocks(const std::vector<Block> &a, const std::vector<Block> &b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].steps, b[i].steps);
    EXPECT_EQ(a[i].resetState, b[i].resetState) << a[i].name;
    ASSERT_EQ(a[i].stepsExpr != nullptr, b[i].stepsExpr != nullptr) << a[i].name;
    if (a[i].stepsExpr)
      expectSameExpr(*a[i].stepsExpr, *b[i].stepsExpr, "block " + a[i].name + " steps");
    expectSameOps(a[i].prologue, b[i].prologue, "block " + a[i].name + " prologue");
    expectSameOps(a[i].ops, b[i].ops, "block " + a[i].name);
  }
}

void expectSameModule(const Module &a, const Module &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.sourceFile, b.sourceFile);
  EXPECT_EQ(a.dataset, b.dataset);
  EXPECT_EQ(std::tie(a.epochs, a.batch, a.validation), std::tie(b.epochs, b.batch, b.validation));
  EXPECT_EQ(std::tie(a.input, a.target, a.predict, a.loss),
            std::tie(b.input, b.target, b.predict, b.loss));
  ASSERT_EQ(a.params.size(), b.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    const Param &p = a.params[i], &q = b.params[i];
    EXPECT_EQ(p.name, q.name);
    EXPECT_EQ(p.type, q.type) << p.name;
    EXPECT_EQ(p.tune, q.tune) << p.name;
    expectSameBits(p.value, q.value, p.name);
    if (p.tune != TuneKind::None) {
      expectSameBits(p.lo, q.lo, p.name + " lo");
      expectSameBits(p.hi, q.hi, p.name + " hi");
    }
    ASSERT_EQ(p.derivation != nullptr, q.derivation != nullptr) << p.name;
    if (p.derivation)
      expectSameExpr(*p.derivation, *q.derivation, p.name + " derivation");
  }
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &t = a.tensors[i], &u = b.tensors[i];
    EXPECT_EQ(std::tie(t.name, t.role, t.rows, t.cols, t.init, t.initASlot, t.initBSlot),
              std::tie(u.name, u.role, u.rows, u.cols, u.init, u.initASlot, u.initBSlot));
    // An argument read from a slot has no value of its own.
    if (t.init != InitKind::Zero && t.init != InitKind::Xavier && t.init != InitKind::Kaiming &&
        t.initASlot < 0)
      expectSameBits(t.initA, u.initA, t.name + " initA");
    if ((t.init == InitKind::Uniform || t.init == InitKind::Normal) && t.initBSlot < 0)
      expectSameBits(t.initB, u.initB, t.name + " initB");
  }
  expectSameBlocks(a.trainBlocks, b.trainBlocks);
  expectSameBlocks(a.evalBlocks, b.evalBlocks);
}

/// A module that uses every field, with values that are easy to lose: a
/// param called `batch`, names that need quotes, NaN payloads, -0, floats
/// that are not short decimals, every access, init, role and kernel kind.
Module everything() {
  Module m;
  m.name = "every thing";
  m.sourceFile = "dir with \"quotes\"/model.bdl";
  m.dataset = "cifar10";
  m.epochs = 7, m.batch = 3, m.validation = 1000;
  m.params.push_back({"lr", 0.1 + 0.2, ParamType::Real, TuneKind::Log, 1e-5, 0.5});
  m.params.push_back({"batch", 16, ParamType::Int, TuneKind::Int, 4, 64});
  m.params.push_back({"flag", 1, ParamType::Bool, TuneKind::Bool, 0, 1});
  m.params.push_back({"hidden", 12, ParamType::Int});
  Dim B = Dim::batch(), H = Dim::param(3), P = Dim::param(1), one = Dim::constant(1);
  TensorId x = m.addTensor({"x", Role::Input, B, H});
  TensorId t = m.addTensor({"t", Role::Target, B, one});
  TensorId w = m.addTensor({"W", Role::Weight, P, H, InitKind::Uniform, -0.f, 1.f / 3});
  TensorId f = m.addTensor({"F", Role::Fixed, H, P, InitKind::Normal, 0, 0.05f});
  TensorId s = m.addTensor({"v.state", Role::State, one, one, InitKind::Const, -2.5e-7f});
  TensorId o = m.addTensor({"W.vel", Role::Optimizer, P, H, InitKind::Xavier});
  TensorId k2 = m.addTensor({"k", Role::Weight, P, H, InitKind::Kaiming});
  TensorId y = m.addTensor({"y", Role::Temp, B, P});
  TensorId r = m.addTensor({"odd name\t", Role::Temp, B, one});
  TensorId c = m.addTensor({"col", Role::Temp, one, P});
  (void)f, (void)o, (void)k2;
  m.input = x, m.target = t, m.predict = y, m.loss = -1;

  Block fwd{"forward", 3, {}};
  fwd.ops.push_back(GemmOp{x, w, y, false, true, 0.7f, kInvBatchSlot, 0.25f});
  fwd.ops.push_back(GemmOp{y, w, x, false, false, 1, -1, 0});
  // A momentum folded into a product: beta 1 times a runtime scalar, and a
  // constant times one.
  fwd.ops.push_back(GemmOp{x, w, y, false, true, 1, kInvBatchSlot, 1, kFirstParamSlot});
  fwd.ops.push_back(GemmOp{x, w, y, false, true, 1, -1, 0.5f, kFirstParamSlot});
  KernelOp map;
  map.name = "s+y";
  map.rows = B, map.cols = P;
  float nan = std::bit_cast<float>(0x7fc00001u);
  map.outputs.push_back(
      {y, Expr::binary(ExprOp::Add, Expr::load(y, Access::Full), Expr::load(c, Access::Col)),
       false});
  map.outputs.push_back(
      {y,
       Expr::binary(ExprOp::Min, Expr::local(0),
                    Expr::binary(ExprOp::Mul, Expr::constant(nan), Expr::load(s, Access::Scalar))),
       true});
  map.outputs.push_back(
      {y,
       Expr::binary(ExprOp::Pow, Expr::load(r, Access::Row),
                    Expr::binary(ExprOp::Sub, Expr::constant(-0.f), Expr::constant(0.1f))),
       true});
  fwd.ops.push_back(std::move(map));
  KernelOp rmax;
  rmax.kind = KernelOp::Kind::RowReduce;
  rmax.reduce = KernelOp::Reduce::Max;
  rmax.name = "rmax";
  rmax.rows = B, rmax.cols = P;
  rmax.outputs.push_back({r, Expr::unary(ExprOp::Neg, Expr::load(y, Access::Full)), true});
  fwd.ops.push_back(std::move(rmax));
  m.trainBlocks.push_back(std::move(fwd));

  Block learn{"learn", 1, {}};
  KernelOp csum;
  csum.kind = KernelOp::Kind::ColReduce;
  csum.name = "csum";
  csum.rows = B, csum.cols = P;
  csum.outputs.push_back({c,
                          Expr::binary(ExprOp::Mul, Expr::slot(kFirstParamSlot + 2),
                                       Expr::constant(std::numeric_limits<float>::infinity())),
                          true});
  learn.ops.push_back(std::move(csum));
  m.trainBlocks.push_back(std::move(learn));

  // Dynamics: a derived param, initialiser slots, a drawn step count, a
  // reset, a prologue, a rotation, a replay, the context, comparisons,
  // selects and draws.
  m.params.push_back({"tau", 20, ParamType::Real});
  m.params.push_back({"decay", 0.5, ParamType::Real});
  m.params.back().derivation = Expr::unary(
      ExprOp::Exp, Expr::binary(ExprOp::Div, Expr::constant(-1), Expr::slot(kFirstParamSlot + 4)));
  m.tensors[w].initBSlot = kFirstParamSlot + 5;
  m.tensors[s].initASlot = kFirstParamSlot + 4;
  TensorId h0 = m.addTensor({"h", Role::State, B, P});
  m.addTensor({"h.1", Role::State, B, P});
  Block dyn{"dynamics", 0, {}};
  dyn.stepsExpr = Expr::binary(ExprOp::Wald, Expr::slot(kFirstParamSlot + 4), Expr::constant(2));
  dyn.stepsExpr->index = 12;
  dyn.resetState = true;
  dyn.prologue.push_back(GemmOp{x, w, y, false, true, 1, -1, 0});
  dyn.ops.push_back(RotateOp{h0, 2});
  KernelOp draws;
  draws.name = "draws";
  draws.rows = B, draws.cols = P;
  auto ctxStep = std::make_unique<Expr>();
  ctxStep->op = ExprOp::Context;
  ctxStep->index = (int32_t)ContextField::Steps;
  auto sel = std::make_unique<Expr>();
  sel->op = ExprOp::Select;
  sel->operands.push_back(Expr::binary(ExprOp::Ne, std::move(ctxStep), Expr::constant(3)));
  sel->operands.push_back(Expr::unary(ExprOp::Poisson, Expr::load(y, Access::Full)));
  sel->operands.back()->index = 0;
  sel->operands.push_back(Expr::unary(ExprOp::Bernoulli, Expr::load(h0 + 1, Access::Full)));
  sel->operands.back()->index = 2097151;
  draws.outputs.push_back({h0, std::move(sel), true});
  dyn.ops.push_back(std::move(draws));
  dyn.ops.push_back(ReplayOp{h0});
  m.trainBlocks.push_back(std::move(dyn));

  Block eval{"eval forward", 1, {}};
  eval.ops.push_back(GemmOp{x, w, y, false, true, -0.f, -1, 0});
  m.evalBlocks.push_back(std::move(eval));
  return m;
}

TEST(IRParser, KeepsEveryField) {
  Module m = everything();
  std::string text = printed(m), errors;
  std::optional<Module> back = parsed(text, errors);
  ASSERT_TRUE(back) << errors << "\n" << text;
  expectSameModule(m, *back);
  EXPECT_EQ(printed(*back), text);
}

TEST(IRParser, KeepsNaNSignsAndPayloads) {
  for (uint32_t bits : {0x7fc00000u, 0xffc00000u, 0x7fc00001u, 0xff800001u, 0x7fbfffffu}) {
    Module m = everything();
    auto &k = std::get<KernelOp>(m.trainBlocks[0].ops[4]);
    k.outputs[1].value->operands[1]->operands[0]->value = std::bit_cast<float>(bits);
    std::string errors;
    std::optional<Module> back = parsed(printed(m), errors);
    ASSERT_TRUE(back) << errors;
    auto &l = std::get<KernelOp>(back->trainBlocks[0].ops[4]);
    EXPECT_EQ(std::bit_cast<uint32_t>(l.outputs[1].value->operands[1]->operands[0]->value), bits);
  }
}

TEST(IRParser, ReportsTheFirstErrorWithItsLocation) {
  std::string text = printed(everything());
  text.replace(text.find("%x x %W^T"), 2, "%nope");
  std::string errors;
  EXPECT_FALSE(parsed(text, errors));
  EXPECT_NE(errors.find("test.bdlir:"), std::string::npos) << errors;
  EXPECT_NE(errors.find(": error: use of undeclared tensor %nope"), std::string::npos) << errors;
  EXPECT_NE(errors.find("^~~~~"), std::string::npos) << errors;
}

} // namespace
