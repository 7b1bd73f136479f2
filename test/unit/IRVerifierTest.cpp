//===- IRVerifierTest.cpp - The IR verifier rejects malformed modules -----===//
#include "ir/IR.h"
#include "ir/Verifier.h"

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
  EXPECT_NE(verifyErrors(m).find("gemm %o has mismatched shapes"), std::string::npos);
}

TEST(IRVerifier, RejectsLoadWhoseAccessDoesNotFit) {
  Module m = smallModule();
  firstKernel(m).outputs[0].value->operands[0]->access = Access::Col; // x is [batch, 4]
  EXPECT_NE(verifyErrors(m).find("load of %x does not fit its access"), std::string::npos);
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
  EXPECT_NE(verifyErrors(m).find("does not exist"), std::string::npos);
}

TEST(IRVerifier, RejectsWrongOperandCount) {
  Module m = smallModule();
  firstKernel(m).outputs[0].value->operands.pop_back();
  EXPECT_NE(verifyErrors(m).find("mul has the wrong number of operands"), std::string::npos);
}

} // namespace
