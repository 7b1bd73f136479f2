//===- IRVerifierTest.cpp - The IR verifier rejects malformed modules -----===//
//
// And the one access rule and kernel verifier: lowering (ir::accessFor), the
// module verifier and code generation used to hold three copies of them,
// which disagreed; the cases where they did are pinned down at the end.
//
//===----------------------------------------------------------------------===//
#include "codegen/CodeGen.h"
#include "ir/Format.h"
#include "ir/IR.h"
#include "ir/Verifier.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

namespace {

using namespace bdl::ir;

/// x[batch, 4] -> y = x * 2, a well-formed module to break in each test.
Module smallModule() {
  Module m;
  m.name = "small";
  m.input = m.addTensor({"x", Role::Input, Dim::batch(), Dim::constant(4)});
  m.target = m.addTensor({"t", Role::Target, Dim::batch(), Dim::constant(4)});
  TensorId y = m.addTensor({"y", Role::Temp, Dim::batch(), Dim::constant(4)});
  m.predict = y;
  KernelOp k;
  k.name = "y";
  k.rows = Dim::batch(), k.cols = Dim::constant(4);
  k.outputs.push_back(
      {y, Expr::binary(ExprOp::Mul, Expr::load(m.input, Access::Full), Expr::constant(2)), true});
  m.trainBlocks.push_back({"forward", 1, {}});
  m.trainBlocks[0].ops.push_back(std::move(k));
  return m;
}

KernelOp &firstKernel(Module &m) { return std::get<KernelOp>(m.trainBlocks[0].ops[0]); }

std::string verifyErrors(const Module &m) {
  std::string text;
  llvm::raw_string_ostream os(text);
  EXPECT_FALSE(verify(m, os));
  return os.str();
}

TEST(IRVerifier, AcceptsWellFormedModule) {
  std::string text;
  llvm::raw_string_ostream os(text);
  EXPECT_TRUE(verify(smallModule(), os)) << os.str();
}

TEST(IRVerifier, RejectsGemmWithMismatchedShapes) {
  Module m = smallModule();
  TensorId w = m.addTensor({"W", Role::Weight, Dim::constant(3), Dim::constant(5)});
  TensorId out = m.addTensor({"o", Role::Temp, Dim::batch(), Dim::constant(3)});
  GemmOp g;
  g.a = m.input, g.b = w, g.c = out, g.transB = true; // [batch,4] x [5,3]: inner 4 != 5
  m.trainBlocks[0].ops.push_back(g);
  EXPECT_NE(
      verifyErrors(m).find("gemm %o has mismatched shapes: [batch, 4] x [5, 3] into [batch, 3]"),
      std::string::npos);
}

TEST(IRVerifier, RejectsLoadWhoseAccessDoesNotFit) {
  Module m = smallModule();
  firstKernel(m).outputs[0].value->operands[0]->access = Access::Col; // x is [batch, 4]
  EXPECT_NE(verifyErrors(m).find(
                "output $0: %x [batch, 4] cannot be read [col] in a kernel over [batch, 4]"),
            std::string::npos);
}

TEST(IRVerifier, RejectsLocalOfLaterOutput) {
  Module m = smallModule();
  firstKernel(m).outputs[0].value = Expr::local(0);
  EXPECT_NE(verifyErrors(m).find("local $0 is not an earlier output"), std::string::npos);
}

TEST(IRVerifier, RejectsWriteToInput) {
  Module m = smallModule();
  firstKernel(m).outputs[0].tensor = m.input;
  EXPECT_NE(verifyErrors(m).find("writes read-only %x"), std::string::npos);
}

TEST(IRVerifier, RejectsTemporaryReadBeforeWritten) {
  Module m = smallModule();
  TensorId z = m.addTensor({"z", Role::Temp, Dim::batch(), Dim::constant(4)});
  firstKernel(m).outputs[0].value = Expr::load(z, Access::Full);
  EXPECT_NE(verifyErrors(m).find("reads %z before anything writes it"), std::string::npos);
}

TEST(IRVerifier, RejectsMissingRuntimeScalar) {
  Module m = smallModule();
  firstKernel(m).outputs[0].value = Expr::slot(kFirstParamSlot); // the module has no params
  EXPECT_NE(verifyErrors(m).find("hp[3] does not exist (the module has 3 runtime scalars)"),
            std::string::npos);
}

TEST(IRVerifier, RejectsWrongOperandCount) {
  Module m = smallModule();
  firstKernel(m).outputs[0].value->operands.pop_back();
  EXPECT_NE(verifyErrors(m).find("output $0: mul has 1 operands, expected 2"), std::string::npos);
}

//===-- Dynamics -----------------------------------------------------===//

TEST(IRVerifier, RejectsAContextFieldThatDoesNotExist) {
  Module m = smallModule();
  auto e = std::make_unique<Expr>();
  e->op = ExprOp::Context;
  e->index = 7;
  firstKernel(m).outputs[0].value = std::move(e);
  EXPECT_NE(verifyErrors(m).find("ctx field 7 does not exist"), std::string::npos);
}

TEST(IRVerifier, RejectsRotationsOutOfRangeOrTooShort) {
  Module m = smallModule();
  m.trainBlocks[0].ops.push_back(RotateOp{2, 5});
  m.trainBlocks[0].ops.push_back(RotateOp{0, 1});
  std::string errors = verifyErrors(m);
  EXPECT_NE(errors.find("rotate of tensor ids 2..6, which do not all exist"), std::string::npos);
  EXPECT_NE(errors.find("rotate needs at least 2 tensors, not 1"), std::string::npos);
}

TEST(IRVerifier, RejectsReplayOfNoTensor) {
  Module m = smallModule();
  m.trainBlocks[0].ops.push_back(ReplayOp{42});
  EXPECT_NE(verifyErrors(m).find("replay of tensor id 42, which does not exist"),
            std::string::npos);
}

TEST(IRVerifier, RejectsInitialiserSlotsWithoutArguments) {
  Module m = smallModule();
  TensorId w =
      m.addTensor({"W", Role::Weight, Dim::constant(4), Dim::constant(4), InitKind::Xavier});
  m.tensors[w].initASlot = 0;
  TensorId c =
      m.addTensor({"c", Role::Weight, Dim::constant(1), Dim::constant(4), InitKind::Const});
  m.tensors[c].initBSlot = 1;
  std::string errors = verifyErrors(m);
  EXPECT_NE(errors.find("a xavier initialiser has no first argument to read from hp[0]"),
            std::string::npos);
  EXPECT_NE(errors.find("a const initialiser has no second argument"), std::string::npos);
}

TEST(IRVerifier, DerivationsReadOnlyEarlierSlots) {
  Module m = smallModule();
  m.params.push_back({"a", 1});
  m.params.push_back({"b", 1});
  m.params[1].derivation = Expr::binary(ExprOp::Add, Expr::slot(kFirstParamSlot),
                                        Expr::slot(kEpochSlot)); // fine
  m.params[0].derivation = Expr::slot(kFirstParamSlot + 1);      // a later one
  std::string errors = verifyErrors(m);
  EXPECT_NE(errors.find("param a: hp[4] is not an earlier slot than the param's own hp[3]"),
            std::string::npos);
  EXPECT_EQ(errors.find("param b"), std::string::npos);
}

TEST(IRVerifier, StepCountsMayDrawWaldOnly) {
  Module m = smallModule();
  m.trainBlocks[0].steps = 0; // ignored when an expression gives the count
  auto wald = Expr::binary(ExprOp::Wald, Expr::constant(5), Expr::constant(1));
  m.trainBlocks[0].stepsExpr = Expr::binary(ExprOp::Max, std::move(wald), Expr::constant(1));
  std::string text;
  llvm::raw_string_ostream os(text);
  EXPECT_TRUE(verify(m, os)) << os.str();
  m.trainBlocks[0].stepsExpr = Expr::unary(ExprOp::Bernoulli, Expr::constant(0.5f));
  EXPECT_NE(verifyErrors(m).find("step count: bernoulli draws cannot appear in a step count"),
            std::string::npos);
}

//===-- The consumers of the one rule agree -----------------------------===//

/// What code generation says about `m`: "" if it emits, else its error.
std::string codegenError(const Module &m) {
  llvm::LLVMContext ctx;
  auto mod = bdl::codegen::emitModule(m, ctx);
  return mod ? "" : llvm::toString(mod.takeError());
}

/// The problems the module verifier finds, one per line.
std::string verifierErrors(const Module &m) {
  std::string text;
  llvm::raw_string_ostream os(text);
  verify(m, os);
  return os.str();
}

/// smallModule() plus %v of shape [vRows, vCols] (a weight, so reading it
/// is always in order), and %y = v under `a` instead of x * 2.
Module moduleReading(Dim vRows, Dim vCols, Access a) {
  Module m = smallModule();
  m.params.push_back({"hidden", 6, ParamType::Int});
  TensorId v = m.addTensor({"v", Role::Weight, vRows, vCols});
  firstKernel(m).outputs[0].value = Expr::load(v, a);
  return m;
}

// Codegen read t[0, 0] of any tensor under Scalar; the verifier and lowering
// only allow it of a [1, 1] tensor. Now all three refuse a larger one.
TEST(OneAccessRule, ScalarReadOfALargerTensorIsRejectedEverywhere) {
  Module m = moduleReading(Dim::batch(), Dim::constant(4), Access::Scalar);
  EXPECT_FALSE(accessFits(m.tensors[3], Access::Scalar, Dim::batch(), Dim::constant(4)));
  std::string want = "output $0: %v [batch, 4] cannot be read [0] in a kernel over [batch, 4]";
  EXPECT_NE(verifierErrors(m).find(want), std::string::npos) << verifierErrors(m);
  EXPECT_NE(codegenError(m).find(want), std::string::npos) << codegenError(m);
}

// For every pair of shapes, the access lowering picks is the one the
// verifier and code generation accept, and where lowering finds none,
// neither accepts any.
TEST(OneAccessRule, LoweringVerifierAndCodegenAgreeOnEveryShape) {
  const Dim dims[] = {Dim::constant(1), Dim::constant(4), Dim::batch(), Dim::param(0)};
  const Access accesses[] = {Access::Full, Access::Row, Access::Col, Access::Scalar};
  int accepted = 0;
  for (Dim rows : dims)
    for (Dim cols : dims)
      for (Access a : accesses) {
        Module m = moduleReading(rows, cols, a);
        // The kernel is over [batch, 4] (smallModule's %y).
        Access chosen = Access::Full;
        bool lowerable = accessFor(m.tensors[3], Dim::batch(), Dim::constant(4), chosen);
        bool fits = accessFits(m.tensors[3], a, Dim::batch(), Dim::constant(4));
        std::string what = formatShape(rows, cols, m.params) + " read [" + spelling(a) + "]";
        EXPECT_EQ(verifierErrors(m).empty(), fits) << what << ": " << verifierErrors(m);
        EXPECT_EQ(codegenError(m).empty(), fits) << what << ": " << codegenError(m);
        if (!lowerable) {
          EXPECT_FALSE(fits) << what;
        } else if (a == chosen) {
          EXPECT_TRUE(fits) << what;
        }
        accepted += fits;
      }
  // [batch, 4] whole, [batch, 1] by row, [1, 4] by column, [1, 1] as a scalar.
  EXPECT_EQ(accepted, 4);
}

/// A rowreduce over [batch, 4]: $0 %e = exp(x) element-wise (stored when
/// `storeMapped`), then $1 %s = sum over the row of $0.
Module rowReduceWithElementwiseOutput(bool storeMapped) {
  Module m = smallModule();
  TensorId e = m.addTensor({"e", Role::Temp, Dim::batch(), Dim::constant(4)});
  TensorId sum = m.addTensor({"s", Role::Temp, Dim::batch(), Dim::constant(1)});
  KernelOp k;
  k.kind = KernelOp::Kind::RowReduce;
  k.name = "s";
  k.rows = Dim::batch(), k.cols = Dim::constant(4);
  k.outputs.push_back(
      {e, Expr::unary(ExprOp::Exp, Expr::load(m.input, Access::Full)), storeMapped});
  k.outputs.push_back({sum, Expr::local(0), true});
  m.trainBlocks[0].ops.push_back(std::move(k));
  return m;
}

// Codegen computes the outputs before a reduction's last one element-wise;
// the verifier used to reject any reduction with more than one output.
TEST(OneAccessRule, ReductionWithElementwiseOutputsIsAcceptedEverywhere) {
  for (bool stored : {true, false}) {
    Module m = rowReduceWithElementwiseOutput(stored);
    EXPECT_EQ(verifierErrors(m), "") << stored;
    EXPECT_EQ(codegenError(m), "") << stored;
  }
}

// Codegen refused an unstored reduced output; the verifier let it through.
TEST(OneAccessRule, UnstoredReducedOutputIsRejectedEverywhere) {
  Module m = rowReduceWithElementwiseOutput(true);
  std::get<KernelOp>(m.trainBlocks[0].ops[1]).outputs[1].stored = false;
  std::string want = "the reduced output $1 must be stored";
  EXPECT_NE(verifierErrors(m).find(want), std::string::npos) << verifierErrors(m);
  EXPECT_NE(codegenError(m).find(want), std::string::npos) << codegenError(m);
}

// The verifier checked the shape of every output; codegen only of stored
// ones, so an unstored output could name a tensor of any shape.
TEST(OneAccessRule, UnstoredOutputOfTheWrongShapeIsRejectedEverywhere) {
  Module m = smallModule();
  TensorId wrong = m.addTensor({"wrong", Role::Temp, Dim::constant(1), Dim::constant(4)});
  KernelOp &k = firstKernel(m);
  k.outputs.insert(k.outputs.begin(), {wrong, Expr::constant(1), false});
  k.outputs[1].value = Expr::local(0);
  std::string want = "output $0 %wrong is [1, 4], but a map over [batch, 4] writes [batch, 4]";
  EXPECT_NE(verifierErrors(m).find(want), std::string::npos) << verifierErrors(m);
  EXPECT_NE(codegenError(m).find(want), std::string::npos) << codegenError(m);
}

// A colreduce always sums in the generated code: neither copy noticed one
// that asked for max, which silently summed.
TEST(OneAccessRule, ColReduceMaxIsRejectedEverywhere) {
  Module m = smallModule();
  TensorId out = m.addTensor({"m", Role::Temp, Dim::constant(1), Dim::constant(4)});
  KernelOp k;
  k.kind = KernelOp::Kind::ColReduce;
  k.reduce = KernelOp::Reduce::Max;
  k.name = "m";
  k.rows = Dim::batch(), k.cols = Dim::constant(4);
  k.outputs.push_back({out, Expr::load(m.input, Access::Full), true});
  m.trainBlocks[0].ops.push_back(std::move(k));
  EXPECT_NE(verifierErrors(m).find("a colreduce can only sum"), std::string::npos);
  EXPECT_NE(codegenError(m).find("a colreduce can only sum"), std::string::npos);
}

// One shape printer: a param named `batch` is not the batch dimension.
TEST(OneShapePrinter, ParamsAndTheBatchStayDistinct) {
  std::vector<Param> params = {{"hidden", 6, ParamType::Int}, {"batch", 8, ParamType::Int}};
  EXPECT_EQ(formatShape(Dim::batch(), Dim::param(0), params), "[batch, hidden]");
  EXPECT_EQ(formatShape(Dim::param(1), Dim::constant(3), params), "[\"batch\", 3]");
  EXPECT_EQ(formatShape(Dim::param(7), Dim::constant(3), params), "[param#7, 3]");
}

} // namespace
