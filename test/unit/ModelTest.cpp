//===- ModelTest.cpp - Parameters, shapes, initialisation, the executor ---===//

#include "bdl/model.h"
#include "ErrorMatch.h"
#include "TinyModel.h"
#include "bdl/executor.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

/// Tensors sized by parameters, one of each initialiser.
struct ShapedModel {
  std::vector<BdlTensorDesc> tensors;
  std::vector<BdlParamDesc> params;
  BdlModel model{};

  explicit ShapedModel(bool extraTensorFirst = false) {
    BdlDim b{BDL_DIM_BATCH, 1}, hidden{BDL_DIM_PARAM, 1};
    auto c = [](int32_t v) { return BdlDim{BDL_DIM_CONST, v}; };
    tensors = {
        {"x", BDL_ROLE_INPUT, BDL_INIT_ZERO, b, c(20), 0, 0, -1, -1},
        {"y", BDL_ROLE_TARGET, BDL_INIT_ZERO, b, c(10), 0, 0, -1, -1},
        {"W1", BDL_ROLE_WEIGHT, BDL_INIT_XAVIER, hidden, c(20), 0, 0, -1, -1},
        {"W2", BDL_ROLE_WEIGHT, BDL_INIT_KAIMING, c(10), hidden, 0, 0, -1, -1},
        {"B", BDL_ROLE_FIXED, BDL_INIT_UNIFORM, c(30), c(40), -0.5f, 0.25f, -1, -1},
        {"N", BDL_ROLE_FIXED, BDL_INIT_NORMAL, c(30), c(40), 2.0f, 0.5f, -1, -1},
        {"k", BDL_ROLE_WEIGHT, BDL_INIT_CONST, c(1), c(5), 0.75f, 0, -1, -1},
        {"v", BDL_ROLE_STATE, BDL_INIT_CONST, b, hidden, 3.0f, 0, -1, -1},
        {"h", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, hidden, 0, 0, -1, -1},
    };
    if (extraTensorFirst) // appended: existing tensors keep their index
      tensors.push_back({"extra", BDL_ROLE_WEIGHT, BDL_INIT_NORMAL, c(3), c(3), 0, 1, -1, -1});
    params = {{"lr", 0.1, 0, 0, BDL_PARAM_REAL, BDL_TUNE_NONE},
              {"hidden", 8, 4, 64, BDL_PARAM_INT, BDL_TUNE_INT},
              {"momentum", 1, 0, 0, BDL_PARAM_BOOL, BDL_TUNE_BOOL}};
    model.name = "shaped";
    model.tensors = tensors.data();
    model.params = params.data();
    model.abiVersion = BDL_ABI_VERSION;
    model.numTensors = int32_t(tensors.size());
    model.numParams = int32_t(params.size());
    model.inputTensor = 0;
    model.targetTensor = 1;
    model.predictTensor = 1;
    model.lossTensor = -1;
  }
};

std::vector<float> contents(const ModelInstance &inst, int t) {
  const float *p = inst.data(t);
  return std::vector<float>(p, p + inst.rows(t) * inst.cols(t));
}

} // namespace

TEST(Params, DefaultsAndHp) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  EXPECT_EQ(inst.findParam("hidden"), 1);
  EXPECT_EQ(inst.findParam("nope"), -1);
  EXPECT_DOUBLE_EQ(inst.param(0), 0.1);
  EXPECT_FLOAT_EQ(inst.hp()[BDL_HP_FIRST_PARAM + 1], 8.0f);
  inst.allocate(32);
  inst.setBatch(5);
  EXPECT_FLOAT_EQ(inst.hp()[BDL_HP_BATCH], 5.0f);
  EXPECT_FLOAT_EQ(inst.hp()[BDL_HP_INV_BATCH], 0.2f);
}

TEST(Params, SetChecksNamesAndTypes) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  inst.applyAssignment("lr=0.05");
  inst.applyAssignment("hidden=16");
  inst.applyAssignment("momentum=false");
  inst.setParam("lr", "+2e-3");
  EXPECT_DOUBLE_EQ(inst.param(0), 2e-3);
  EXPECT_DOUBLE_EQ(inst.param(1), 16);
  EXPECT_DOUBLE_EQ(inst.param(2), 0);
  EXPECT_FLOAT_EQ(inst.hp()[BDL_HP_FIRST_PARAM], 2e-3f);
  inst.setParam("momentum", "1");
  EXPECT_DOUBLE_EQ(inst.param(2), 1);

  std::string msg = errorOf([&] { inst.applyAssignment("eta=1"); });
  EXPECT_THAT(msg, HasSubstr("unknown parameter 'eta'; known parameters: lr, hidden, momentum"));
  EXPECT_THROW(inst.applyAssignment("eta=1"), UsageError);
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("hidden=2.5"); }),
              HasSubstr("invalid value '2.5' for int parameter 'hidden': expected an integer"));
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("lr=fast"); }),
              HasSubstr("invalid value 'fast' for real parameter 'lr'"));
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("lr=nan"); }), HasSubstr("finite"));
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("lr="); }), HasSubstr("invalid value ''"));
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("momentum=yes"); }),
              HasSubstr("expected true, false, 1 or 0"));
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("lr"); }), HasSubstr("expects name=value"));
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("=3"); }), HasSubstr("expects name=value"));
}

TEST(Shapes, ParameterSizesTensors) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  inst.setParam("hidden", "7");
  inst.allocate(10);
  EXPECT_EQ(inst.rows(2), 7);
  EXPECT_EQ(inst.cols(3), 7);
  EXPECT_EQ(inst.rows(8), 10);
  inst.setBatch(3);
  EXPECT_EQ(inst.rows(8), 3);
  EXPECT_EQ(inst.describeDim(sm.tensors[2].rows), "7 (hidden)");
  for (int t = 0; t < sm.model.numTensors; ++t)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(inst.data(t)) % 64, 0u) << sm.tensors[t].name;
  // A parameter that sizes storage is fixed from now on; others are not.
  EXPECT_THROW(inst.setParam("hidden", "9"), Error);
  inst.setParam("lr", "0.5");
  EXPECT_THROW(inst.setBatch(11), Error);
}

TEST(Shapes, NonPositiveSizeIsAUsageError) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  inst.setParam("hidden", "0");
  EXPECT_THAT(errorOf([&] { inst.allocate(4); }),
              HasSubstr("parameter 'hidden' = 0.000000 sizes tensor 'W1'"));
  EXPECT_THROW(inst.allocate(4), UsageError);
}

TEST(Shapes, ImpossibleSizeIsRefusedBeforeAllocating) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  // v and h are [batch, hidden]: 1000 rows of 2^31 - 1 floats, 7.8 TiB each.
  inst.setParam("hidden", "2147483647");
  std::string message = errorOf([&] { inst.allocate(1000); });
  EXPECT_THAT(message, HasSubstr("model 'shaped' needs 15.9 TiB for its tensors at batch 1000 "
                                 "(the largest, 'v' [B, 2147483647 (hidden)], 7.8 TiB) but this "
                                 "machine has "));
  EXPECT_THAT(message, HasSubstr("use a smaller --batch or smaller sizes"));
  EXPECT_FALSE(inst.allocated());
  // Sums past 2^64 bytes do not wrap around into something that fits.
  ModelInstance wider(sm.model);
  wider.setParam("hidden", "2147483647");
  EXPECT_THAT(errorOf([&] { wider.allocate(int64_t(1) << 40); }),
              HasSubstr("needs more than 2^64 bytes for its tensors"));
}

TEST(Init, Initialisers) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  inst.setParam("hidden", "50");
  inst.allocate(4);
  inst.initialise(11);
  float s = std::sqrt(6.0f / (20 + 50));
  for (float v : contents(inst, 2))
    ASSERT_LE(std::fabs(v), s);
  auto moments = [](const std::vector<float> &v) {
    double sum = 0, sq = 0;
    for (float x : v)
      sum += x, sq += double(x) * x;
    double mean = sum / double(v.size());
    return std::pair{mean, std::sqrt(sq / double(v.size()) - mean * mean)};
  };
  auto [kmean, kstd] = moments(contents(inst, 3));
  EXPECT_NEAR(kmean, 0, 0.1);
  EXPECT_NEAR(kstd, std::sqrt(2.0 / 50), 0.05);
  for (float v : contents(inst, 4)) {
    ASSERT_GE(v, -0.5f);
    ASSERT_LT(v, 0.25f);
  }
  auto [nmean, nstd] = moments(contents(inst, 5));
  EXPECT_NEAR(nmean, 2.0, 0.05);
  EXPECT_NEAR(nstd, 0.5, 0.05);
  EXPECT_EQ(contents(inst, 6), std::vector<float>(5, 0.75f));
  // A state starts at its constant initialiser (`state V = 3`); temporaries
  // start at zero whatever their initialiser says.
  EXPECT_EQ(contents(inst, 7), std::vector<float>(4 * 50, 3.0f));
  EXPECT_EQ(contents(inst, 8), std::vector<float>(4 * 50, 0.0f));
}

TEST(Init, EyeIsOneOnTheDiagonalOfAnyShape) {
  ShapedModel sm;
  auto c = [](int32_t v) { return BdlDim{BDL_DIM_CONST, v}; };
  sm.tensors.push_back({"S", BDL_ROLE_FIXED, BDL_INIT_EYE, c(2), c(3), 0, 0, -1, -1});
  sm.tensors.push_back({"T", BDL_ROLE_FIXED, BDL_INIT_EYE, c(3), c(2), 0, 0, -1, -1});
  sm.model.tensors = sm.tensors.data();
  sm.model.numTensors = int32_t(sm.tensors.size());
  ModelInstance inst(sm.model);
  inst.allocate(4);
  inst.initialise(3);
  int s = sm.model.numTensors - 2;
  EXPECT_EQ(contents(inst, s), (std::vector<float>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(contents(inst, s + 1), (std::vector<float>{1, 0, 0, 1, 0, 0}));
}

TEST(Init, ResetStateRestoresTheInitialValue) {
  ShapedModel sm;
  ModelInstance inst(sm.model);
  inst.setParam("hidden", "50");
  inst.allocate(4);
  inst.initialise(11);
  std::fill_n(inst.data(7), 4 * 50, -1.0f);
  std::fill_n(inst.data(8), 4 * 50, -1.0f);
  inst.resetState();
  EXPECT_EQ(contents(inst, 7), std::vector<float>(4 * 50, 3.0f));
}

TEST(Init, SeedsAndStreams) {
  ShapedModel a, withExtra(true);
  ModelInstance i1(a.model), i2(a.model), i3(a.model), i4(withExtra.model);
  for (ModelInstance *i : {&i1, &i2, &i3, &i4})
    i->allocate(2);
  i1.initialise(5);
  i2.initialise(5);
  i3.initialise(6);
  i4.initialise(5);
  for (int t : {2, 3, 4, 5}) {
    EXPECT_EQ(contents(i1, t), contents(i2, t));
    EXPECT_NE(contents(i1, t), contents(i3, t));
    EXPECT_EQ(contents(i1, t), contents(i4, t)) << "adding a tensor changed " << a.tensors[t].name;
  }
  EXPECT_NE(contents(i1, 4), contents(i1, 5)); // own stream each
}

TEST(Verify, RejectsBadDescriptors) {
  ShapedModel sm;
  sm.model.abiVersion = BDL_ABI_VERSION + 1;
  EXPECT_THAT(errorOf([&] { ModelInstance inst(sm.model); }), HasSubstr("ABI version"));
  sm.model.abiVersion = BDL_ABI_VERSION;
  sm.model.predictTensor = 99;
  EXPECT_THAT(errorOf([&] { ModelInstance inst(sm.model); }), HasSubstr("prediction is tensor 99"));
  sm.model.predictTensor = 1;
  sm.tensors[3].cols = BdlDim{BDL_DIM_PARAM, 5};
  EXPECT_THAT(errorOf([&] { ModelInstance inst(sm.model); }),
              HasSubstr("tensor 'W2' cols refers to parameter 5"));
}

TEST(Verify, RejectsGemmScaledByAMissingSlot) {
  TinyModel tm(3, 2);
  tm.learnOps[1].betaSlot = BDL_HP_FIRST_PARAM + 1; // one parameter only
  EXPECT_THAT(errorOf([&] { ModelInstance inst(tm.model); }),
              HasSubstr("op 'update_W' scales by hp slot 4"));
}

TEST(Guard, HoldsWhenOneTermDoes) {
  // (hp[3] and not hp[4]) or hp[5]
  BdlGuardLiteral literals[] = {
      {3, BDL_GUARD_NONZERO}, {4, BDL_GUARD_LAST}, {5, BDL_GUARD_NONZERO | BDL_GUARD_LAST}};
  BdlOp op{};
  op.kind = BDL_OP_GEMM;
  EXPECT_TRUE(guardHolds(op, nullptr)) << "no guard: always";
  op.numGuardLiterals = 3, op.guard = literals;
  auto holds = [&](float a, float b, float c) {
    float hp[] = {1, 1, 0, a, b, c};
    return guardHolds(op, hp);
  };
  EXPECT_TRUE(holds(1, 0, 0));
  EXPECT_FALSE(holds(1, 1, 0));
  EXPECT_FALSE(holds(0, 0, 0));
  EXPECT_TRUE(holds(0, 1, 2));
  // As a select reads its condition: NaN is non-zero, -0 is zero.
  EXPECT_TRUE(holds(std::nanf(""), -0.0f, 0));
  EXPECT_FALSE(holds(std::nanf(""), std::nanf(""), 0));
}

TEST(Guard, VerifierRejectsNonParamSlotsAndMalformedLists) {
  TinyModel tm(3, 2);
  BdlGuardLiteral epoch[] = {{BDL_HP_EPOCH, BDL_GUARD_NONZERO | BDL_GUARD_LAST}};
  tm.learnOps[1].numGuardLiterals = 1, tm.learnOps[1].guard = epoch;
  EXPECT_THAT(errorOf([&] { ModelInstance inst(tm.model); }),
              HasSubstr("op 'update_W''s guard reads hp slot 2, not a parameter's"));
  BdlGuardLiteral open[] = {{BDL_HP_FIRST_PARAM, BDL_GUARD_NONZERO}}; // no last literal
  tm.learnOps[1].guard = open;
  EXPECT_THAT(errorOf([&] { ModelInstance inst(tm.model); }),
              HasSubstr("op 'update_W' has a malformed guard"));
}

TEST(Guard, ExecutorSkipsAnOpWhoseGuardDoesNotHold) {
  TinyModel tm(3, 2);
  ModelInstance inst(tm.model);
  inst.allocate(2);
  inst.setBatch(2);
  float x[] = {1, 2, 3, 4, 5, 6}, w[] = {1, 0, 1, 0, 1, 0}, old[] = {8, 4, 2, 6};
  std::memcpy(inst.data(X), x, sizeof x);
  std::memcpy(inst.data(W), w, sizeof w);
  BdlGuardLiteral whenLr[] = {{BDL_HP_FIRST_PARAM, BDL_GUARD_NONZERO | BDL_GUARD_LAST}};
  BdlOp op = TinyModel::gemm("guarded", X, W, Logits, false, true, -1, 1.0f, 0.0f);
  op.numGuardLiterals = 1, op.guard = whenLr;
  BdlBlock block{"forward", 1, 1, &op};
  std::memcpy(inst.data(Logits), old, sizeof old);
  inst.setParamValue(0, 0);
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(contents(inst, Logits), (std::vector<float>(old, old + 4))) << "skipped";
  inst.setParamValue(0, 0.5);
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(contents(inst, Logits), (std::vector<float>{4, 2, 10, 5})) << "ran";
}

TEST(Executor, GemmWithTransposesAndScaledAlpha) {
  TinyModel tm(3, 2);
  ModelInstance inst(tm.model);
  inst.setParam("lr", "0.5");
  inst.allocate(4);
  inst.setBatch(2);
  // x = [[1,2,3],[4,5,6]], W = [[1,0,1],[0,1,0]]: logits = x W^T.
  float x[] = {1, 2, 3, 4, 5, 6}, w[] = {1, 0, 1, 0, 1, 0};
  std::memcpy(inst.data(X), x, sizeof x);
  std::memcpy(inst.data(W), w, sizeof w);
  BdlOp ops[] = {
      TinyModel::gemm("logits", X, W, Logits, false, true, -1, 1.0f, 0.0f),
      TinyModel::gemm("update", Logits, X, W, true, false, BDL_HP_FIRST_PARAM, -1.0f, 1.0f)};
  BdlBlock forward{"forward", 1, 1, ops}, update{"update", 1, 1, ops + 1};
  cpu::runBlocks(inst, &forward, 1);
  EXPECT_EQ(contents(inst, Logits), (std::vector<float>{4, 2, 10, 5}));
  // W += -0.5 * logits^T x.
  cpu::runBlocks(inst, &update, 1);
  EXPECT_EQ(contents(inst, W), (std::vector<float>{1 - 0.5f * 44, -0.5f * 58, 1 - 0.5f * 72,
                                                   -0.5f * 22, 1 - 0.5f * 29, -0.5f * 36}));
}

TEST(Executor, GemmBetaReadsItsRuntimeSlot) {
  // A momentum folded into a GEMM: logits = x W^T + lr * logits.
  TinyModel tm(3, 2);
  ModelInstance inst(tm.model);
  inst.allocate(2);
  inst.setBatch(2);
  float x[] = {1, 2, 3, 4, 5, 6}, w[] = {1, 0, 1, 0, 1, 0}, old[] = {8, 4, 2, 6};
  std::memcpy(inst.data(X), x, sizeof x);
  std::memcpy(inst.data(W), w, sizeof w);
  BdlOp op = TinyModel::gemm("folded", X, W, Logits, false, true, -1, 1.0f, 1.0f);
  op.betaSlot = BDL_HP_FIRST_PARAM;
  BdlBlock block{"learn", 1, 1, &op};
  for (float lr : {0.5f, 0.25f}) {
    inst.setParamValue(0, lr);
    std::memcpy(inst.data(Logits), old, sizeof old);
    cpu::runBlocks(inst, &block, 1);
    EXPECT_EQ(contents(inst, Logits),
              (std::vector<float>{4 + lr * 8, 2 + lr * 4, 10 + lr * 2, 5 + lr * 6}));
  }
}

TEST(Executor, LargeGemmsAgreeOnOneAndTwoThreads) {
  // Above kParallelGemmFlops, two threads compute bands of C: C taller than
  // wide (split by rows) and wider than tall (by columns), both transposes.
  // OpenBLAS may sum a band in another order than the whole: equal to float
  // rounding, not bit for bit.
  for (auto [batch, classes] : {std::pair{300, 40}, std::pair{40, 300}}) {
    TinyModel tm(200, classes);
    ASSERT_GE(2 * int64_t(batch) * classes * 200, cpu::kParallelGemmFlops);
    auto run = [&](int threads) {
      cpu::setThreads(threads);
      ModelInstance inst(tm.model);
      inst.allocate(batch);
      inst.initialise(3);
      inst.setBatch(batch);
      float *x = inst.data(X), *g = inst.data(Grad);
      for (int64_t i = 0; i < batch * 200; ++i)
        x[i] = float(i % 13) * 0.1f;
      for (int64_t i = 0; i < batch * classes; ++i)
        g[i] = float(i % 5) - 2;
      BdlOp ops[] = {tm.forwardOps[0], tm.learnOps[1]}; // x W^T; W += -lr grad^T x
      BdlBlock block{"b", 1, 2, ops};
      cpu::runBlocks(inst, &block, 1);
      return std::pair{contents(inst, Logits), contents(inst, W)};
    };
    auto one = run(1), two = run(2);
    SCOPED_TRACE(testing::Message() << batch << " x " << classes);
    for (auto [a, b] : {std::pair{&one.first, &two.first}, std::pair{&one.second, &two.second}}) {
      ASSERT_EQ(a->size(), b->size());
      for (size_t i = 0; i < a->size(); ++i)
        ASSERT_NEAR((*a)[i], (*b)[i], 1e-5f * (1 + std::fabs((*a)[i]))) << "element " << i;
    }
  }
  cpu::setThreads(1);
}

TEST(Executor, GemmShapeMismatchNamesTheOp) {
  TinyModel tm(3, 2);
  ModelInstance inst(tm.model);
  inst.allocate(4);
  BdlOp op = TinyModel::gemm("bad", X, W, Logits, false, false, -1, 1.0f, 0.0f);
  BdlBlock block{"forward", 1, 1, &op};
  std::string msg = errorOf([&] { cpu::runBlocks(inst, &block, 1); });
  EXPECT_THAT(msg, HasSubstr("GEMM 'bad' in block 'forward': shapes do not agree"));
  EXPECT_THAT(msg, HasSubstr("logits[4, 2] = x[4, 3] * W[2, 3]"));
}

namespace {
std::atomic<int> kernelCalls;
void rowIdKernel(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                 const BdlContext *) {
  ++kernelCalls;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[Grad][r * cols + c] += float(r);
}
} // namespace

TEST(Executor, ParallelKernelsCoverEveryRowOnce) {
  // 1000 x 20 elements: above the splitting threshold.
  TinyModel tm(3, 20);
  ModelInstance inst(tm.model);
  inst.allocate(1000);
  BdlOp op = TinyModel::kernel("rows", rowIdKernel, {BDL_DIM_BATCH, 1}, {BDL_DIM_CONST, 20});
  BdlBlock block{"b", 3, 1, &op};
  cpu::setThreads(2);
  kernelCalls = 0;
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(cpu::threads(), 2);
  EXPECT_EQ(kernelCalls, 3 * 2);
  const float *g = inst.data(Grad);
  for (int64_t r = 0; r < 1000; ++r)
    for (int c = 0; c < 20; ++c)
      ASSERT_EQ(g[r * 20 + c], 3.0f * float(r));

  // Small or sequential kernels run as one call.
  inst.setBatch(10);
  kernelCalls = 0;
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(kernelCalls, 3);
  op.parallel = 0;
  inst.setBatch(1000);
  kernelCalls = 0;
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(kernelCalls, 3);
}
