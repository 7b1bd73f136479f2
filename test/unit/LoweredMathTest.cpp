//===- LoweredMathTest.cpp - Builtins as bdlc lowers them, JIT-compiled ---===//
//
// Compiles a .bdl source through parse, sema and lowering, then runs the
// generated kernels: what is checked is the arithmetic the compiler chose.
//
//===----------------------------------------------------------------------===//
#include "CodeGenTestUtil.h"

#include "lower/Lowering.h"
#include "parse/Parser.h"
#include "sema/Sema.h"

#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace bdl;
using namespace bdl::codegen;
using namespace bdl::codegen::test;

namespace {

/// The module bdlc lowers `source` to (before the passes); fails the test on
/// a diagnostic.
std::optional<ir::Module> lowerSource(const std::string &source) {
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "test.bdl"), llvm::SMLoc());
  std::string errors;
  llvm::raw_string_ostream os(errors);
  DiagnosticEngine diags(sm, os);
  auto file = parseModel(diags);
  auto checked = file ? sema::check(*file, diags) : nullptr;
  if (!checked) {
    ADD_FAILURE() << errors;
    return std::nullopt;
  }
  return lower(*checked);
}

/// Distance in units in the last place between two finite floats of one sign.
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(int64_t(ia) - int64_t(ib));
}

// σ'(x) = σ(x)(1 - σ(x)) and tanh'(x) = 1 - tanh²(x) cancel to 0 in float
// once σ(x) or tanh(x) round to 1; the lowered forms stay exact to a few
// ulps. The references, 1/(4 cosh²(x/2)) and 1/cosh²(x) in double, share no
// arithmetic with them.
TEST(LoweredMath, SaturatedDerivatives) {
  auto m = lowerSource("model m\n"
                       "input x[8]\n"
                       "target t[8]\n"
                       "layer ds = dsigmoid(x)\n"
                       "layer dt = dtanh(x)\n");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->trainBlocks.size(), 1u);
  ASSERT_EQ(m->trainBlocks[0].ops.size(), 2u);
  ASSERT_EQ(m->tensors.size(), 4u); // x, t, ds, dt
  auto j = jit(*m);
  ASSERT_TRUE(j);
  BdlKernelFn dsigmoid = j->kernel(kernelSymbol(0, "ds"));
  BdlKernelFn dtanh = j->kernel(kernelSymbol(1, "dt"));
  ASSERT_TRUE(dsigmoid && dtanh);

  std::vector<float> x{0.0f, 0.5f, -3.0f, 9.0f, 10.0f, 20.0f, -20.0f, 40.0f};
  const int64_t cols = x.size();
  std::vector<float> t(cols), ds(cols, -1), dt(cols, -1);
  float *tensors[] = {x.data(), t.data(), ds.data(), dt.data()};
  float hp[ir::kFirstParamSlot] = {1.0f, 1.0f, 0.0f};
  const BdlContext ctx{};
  dsigmoid(0, 1, cols, tensors, hp, &ctx);
  dtanh(0, 1, cols, tensors, hp, &ctx);
  for (int64_t i = 0; i < cols; ++i) {
    double c = std::cosh(double(x[i]));
    double half = std::cosh(double(x[i]) / 2);
    float wantSigmoid = float(1 / (4 * half * half)), wantTanh = float(1 / (c * c));
    EXPECT_LE(ulps(ds[i], wantSigmoid), 4)
        << "dsigmoid(" << x[i] << ") = " << ds[i] << ", want " << wantSigmoid;
    EXPECT_LE(ulps(dt[i], wantTanh), 4)
        << "dtanh(" << x[i] << ") = " << dt[i] << ", want " << wantTanh;
  }
  // The values the review quoted.
  EXPECT_NEAR(ds[5], 2.0611536e-9f, 2.0611536e-9f * 1e-6f);
  EXPECT_NEAR(dt[4], 8.2446144e-9f, 8.2446144e-9f * 1e-6f);
}

} // namespace
