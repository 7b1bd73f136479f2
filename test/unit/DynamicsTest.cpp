//===- DynamicsTest.cpp - Context, state, step functions, rotate, replay --===//
//
// The ABI v4 executor on hand-built descriptors: what each kernel call sees
// in its BdlContext, state resets, prologues, drawn step counts, ROTATE and
// REPLAY; derived parameters and initialiser slots; bdl_draw_wald; and the
// trainer's example numbering.
//
//===----------------------------------------------------------------------===//

#include "DynModel.h"
#include "ErrorMatch.h"
#include "TestUtil.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/npy.h"
#include "bdl/trace.h"
#include "bdl/train.h"

#include <cmath>
#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <thread>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

/// Every call's context, in call order.
std::vector<BdlContext> seen;
std::vector<std::thread::id> seenThreads;
int stepsCalls = 0;

void recordCtx(int64_t, int64_t, int64_t, float *const *, const float *, const BdlContext *ctx) {
  seen.push_back(*ctx);
  seenThreads.push_back(std::this_thread::get_id());
}

int32_t fourSteps(const float *, const BdlContext *ctx) {
  ++stepsCalls;
  EXPECT_EQ(ctx->step, 0);
  EXPECT_EQ(ctx->steps, 0);
  return 4;
}

BdlOp op(BdlKernelFn fn, const char *name = "k") {
  return TinyModel::kernel(name, fn, {BDL_DIM_CONST, 1}, {BDL_DIM_CONST, 1});
}

struct ContextFixture : ::testing::Test {
  void SetUp() override {
    seen.clear();
    seenThreads.clear();
    stepsCalls = 0;
    cpu::setThreads(2);
  }
  void TearDown() override { cpu::setThreads(1); }
};

} // namespace

TEST_F(ContextFixture, KernelsSeeSeedExampleTimeStepAndBlock) {
  DynModel dm(4, 3);
  ModelInstance inst(dm.model);
  inst.allocate(2);
  inst.initialise(0x123456789abcull);
  inst.setExample0(40);
  BdlOp pro[] = {op(recordCtx, "pro")}, ops[] = {op(recordCtx, "a"), op(recordCtx, "b")};
  BdlBlock blocks[] = {{"one", 3, 2, ops, nullptr, 1, 0, pro},
                       {"two", 0, 1, ops, fourSteps, 0, 0, nullptr}};
  cpu::runBlocks(inst, blocks, 2);
  // Block one: prologue, then 3 steps of 2 ops; block two: 4 steps of 1 op.
  ASSERT_EQ(seen.size(), 1u + 6u + 4u);
  EXPECT_EQ(stepsCalls, 1);
  for (const BdlContext &c : seen) {
    EXPECT_EQ(c.seed, 0x123456789abcull);
    EXPECT_EQ(c.example0, 40);
  }
  EXPECT_EQ(seen[0].time, 0);
  EXPECT_EQ(seen[0].step, 0);
  EXPECT_EQ(seen[0].steps, 3);
  EXPECT_EQ(seen[0].block, 0);
  for (int s = 0; s < 3; ++s)
    for (int o = 0; o < 2; ++o) {
      const BdlContext &c = seen[size_t(1 + 2 * s + o)];
      EXPECT_EQ(c.step, s);
      EXPECT_EQ(c.time, s);
      EXPECT_EQ(c.steps, 3);
      EXPECT_EQ(c.block, 0);
    }
  for (int s = 0; s < 4; ++s) {
    const BdlContext &c = seen[size_t(7 + s)];
    EXPECT_EQ(c.step, s);
    EXPECT_EQ(c.time, 3 + s); // counts every step of every block
    EXPECT_EQ(c.steps, 4);
    EXPECT_EQ(c.block, 1);
  }
  EXPECT_EQ(inst.time(), 7);

  // Evaluation blocks are marked; the time goes on until a reset.
  seen.clear();
  cpu::runBlocks(inst, blocks + 1, 1, /*evaluation=*/true);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].block, BDL_EVAL_BLOCK);
  EXPECT_EQ(seen[0].time, 7);
  // Tiny kernels run on the calling thread, not handed to the pool.
  for (std::thread::id id : seenThreads)
    EXPECT_EQ(id, std::this_thread::get_id());
}

TEST_F(ContextFixture, ResetZeroesTheBatchRowsOfStateAndRestartsTime) {
  DynModel dm(4, 3);
  ModelInstance inst(dm.model);
  inst.allocate(4);
  inst.initialise(1);
  for (int t = 0; t < dm.model.numTensors; ++t)
    std::fill_n(inst.data(t), inst.capacity(t), 7.0f);
  inst.setTime(100);
  inst.setBatch(2);
  BdlOp ops[] = {op(recordCtx)};
  BdlBlock reset{"reset", 2, 1, ops, nullptr, 0, 1, nullptr};
  cpu::runBlocks(inst, &reset, 1);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].time, 0);
  EXPECT_EQ(seen[1].time, 1);
  EXPECT_EQ(inst.time(), 2);
  for (int t : {DU, DS0, DS1, DS2}) {
    // Rows 0 and 1 (this batch) are zeroed; rows 2 and 3 keep their state.
    for (int k = 0; k < 6; ++k)
      ASSERT_EQ(inst.data(t)[k], 0.0f) << dm.tensors[t].name;
    for (int k = 6; k < 12; ++k)
      ASSERT_EQ(inst.data(t)[k], 7.0f) << dm.tensors[t].name;
  }
  // Weights, fixed and temporaries are not state.
  for (int t : {DW, DGain, DDrive})
    EXPECT_EQ(inst.data(t)[0], 7.0f) << dm.tensors[t].name;
}

TEST(Rotate, MovesBuffersOneStepBackWithoutCopying) {
  DynModel dm(4, 3);
  ModelInstance inst(dm.model);
  inst.allocate(1);
  inst.initialise(1);
  float *p0 = inst.data(DS0), *p1 = inst.data(DS1), *p2 = inst.data(DS2);
  p0[0] = 10, p1[0] = 11, p2[0] = 12;
  BdlOp rot = dm.stepOps[0];
  ASSERT_EQ(rot.kind, BDL_OP_ROTATE);
  BdlBlock block{"rot", 1, 1, &rot, nullptr, 0, 0, nullptr};
  cpu::runBlocks(inst, &block, 1);
  // s1 holds what s0 held, s2 what s1 held; s0 has the oldest buffer.
  EXPECT_EQ(inst.data(DS0), p2);
  EXPECT_EQ(inst.data(DS1), p0);
  EXPECT_EQ(inst.data(DS2), p1);
  EXPECT_EQ(inst.data(DS1)[0], 10);
  EXPECT_EQ(inst.data(DS2)[0], 11);
  EXPECT_EQ(inst.tensorTable()[DS0], p2);
  for (int t : {DS0, DS1, DS2})
    EXPECT_EQ(inst.capacity(t), 3u);
  cpu::runBlocks(inst, &block, 1);
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(inst.data(DS0), p0); // three rotations of three buffers
}

TEST(Rotate, VerifierRefusesHistoriesOfDifferentShapes) {
  DynModel dm(4, 3);
  dm.stepOps[0].a = DPred; // pred, acc, gain: gain is [1, K]
  dm.trainBlocks[0].ops = dm.stepOps.data();
  EXPECT_THAT(errorOf([&] { ModelInstance inst(dm.model); }),
              HasSubstr("op 'rotate_spikes' rotates 'pred' and 'gain', which differ"));
  dm.stepOps[0].a = DGrad;
  EXPECT_THAT(errorOf([&] { ModelInstance inst(dm.model); }),
              HasSubstr("rotates tensors 13..15 of 14"));
}

TEST(Replay, OverwritesTheDrawnTensorRowByRow) {
  DynModel dm(4, 3);
  ModelInstance inst(dm.model);
  inst.allocate(2);
  inst.initialise(1);
  inst.setBatch(1);
  ModelInstance::Replay r;
  r.source = "spikes.npy";
  r.rows = 3;
  r.cols = 3;
  r.values = {1, 0, 0, 0, 2, 0, 0, 0, 3};
  inst.setReplay(DS0, r);
  BdlOp ops[] = {dm.stepOps[2], dm.stepOps[3]}; // spike, replay
  BdlBlock block{"b", 2, 2, ops, nullptr, 0, 0, nullptr};
  cpu::runBlocks(inst, &block, 1);
  EXPECT_EQ(std::vector<float>(inst.data(DS0), inst.data(DS0) + 3), (std::vector<float>{0, 2, 0}));
  // Evaluation draws: the recording is for training.
  cpu::runBlocks(inst, &block, 1, /*evaluation=*/true);
  EXPECT_EQ(inst.replay(DS0)->next, 2);
  block.steps = 2;
  EXPECT_THAT(errorOf([&] { cpu::runBlocks(inst, &block, 1); }),
              HasSubstr("spikes.npy: ran out of recorded steps: it has 3 rows, and block 'b' "
                        "needs row 4 for 'out.s0'"));
  inst.setBatch(2);
  EXPECT_THAT(errorOf([&] { cpu::runBlocks(inst, &block, 1); }), HasSubstr("needs batch 1"));
  r.cols = 4;
  r.values.resize(12);
  EXPECT_THAT(errorOf([&] { inst.setReplay(DS0, r); }),
              HasSubstr("spikes.npy: 4 values per step, but tensor 'out.s0' has 3 per example"));
}

TEST(Derived, RecomputedOnEveryChangeAndNeverSet) {
  DynModel dm(4, 3);
  ModelInstance inst(dm.model);
  EXPECT_TRUE(inst.isDerived(PGain));
  EXPECT_DOUBLE_EQ(inst.param(PGain), 1.0); // 2 * tau = 2 * 0.5
  inst.applyAssignment("tau=0.25");
  EXPECT_DOUBLE_EQ(inst.param(PGain), 0.5);
  EXPECT_FLOAT_EQ(inst.hp()[kGainSlot], 0.5f);
  std::string msg = errorOf([&] { inst.applyAssignment("gain=3"); });
  EXPECT_THAT(msg, HasSubstr("parameter 'gain' is derived from other parameters"));
  EXPECT_THROW(inst.applyAssignment("gain=3"), UsageError);
  // The initialiser reads its argument from the derived slot.
  inst.allocate(1);
  inst.initialise(1);
  EXPECT_EQ(std::vector<float>(inst.data(DGain), inst.data(DGain) + 3),
            (std::vector<float>(3, 0.5f)));
}

namespace {
void doubleFirst(float *hp) { hp[BDL_HP_FIRST_PARAM + 1] = 2 * hp[BDL_HP_FIRST_PARAM]; }
} // namespace

TEST(Derived, ADerivedParameterMaySizeATensor) {
  TinyModel tm(3, 2);
  tm.params = {{"n", 2, 0, 0, BDL_PARAM_INT, BDL_TUNE_NONE, 0},
               {"twice", 0, 0, 0, BDL_PARAM_INT, BDL_TUNE_NONE, 1}};
  tm.model.params = tm.params.data();
  tm.model.numParams = 2;
  tm.tensors.push_back(
      {"h", BDL_ROLE_STATE, BDL_INIT_ZERO, {BDL_DIM_BATCH, 1}, {BDL_DIM_PARAM, 1}, 0, 0, -1, -1});
  tm.model.tensors = tm.tensors.data();
  tm.model.numTensors = int32_t(tm.tensors.size());
  EXPECT_THAT(errorOf([&] { ModelInstance inst(tm.model); }),
              HasSubstr("derived parameters but no derive function"));
  tm.model.derive = doubleFirst;
  ModelInstance inst(tm.model);
  inst.applyAssignment("n=3");
  inst.allocate(2);
  EXPECT_EQ(inst.cols(NumTinyTensors), 6);
  EXPECT_THAT(errorOf([&] { inst.applyAssignment("n=4"); }),
              HasSubstr("parameter 'twice' (derived) sizes tensors"));
  EXPECT_DOUBLE_EQ(inst.param(0), 3); // the refused change is undone
  EXPECT_DOUBLE_EQ(inst.param(1), 6);
}

TEST(InitSlots, RuntimeSlotsAreRefused) {
  TinyModel tm(3, 2);
  tm.tensors[W].initASlot = 0; // a zero-initialised descriptor: the batch
  EXPECT_THAT(errorOf([&] { ModelInstance inst(tm.model); }),
              HasSubstr("tensor 'W' initASlot 0 is not a parameter's hp slot (-1 for none)"));
  tm.tensors[W].initASlot = -1;
  tm.tensors[W].initBSlot = BDL_HP_FIRST_PARAM + 1;
  EXPECT_THAT(errorOf([&] { ModelInstance inst(tm.model); }), HasSubstr("initBSlot 4"));
  tm.tensors[W].initBSlot = BDL_HP_FIRST_PARAM;
  tm.tensors[W].init = BDL_INIT_UNIFORM; // U(0, lr)
  ModelInstance inst(tm.model);
  inst.applyAssignment("lr=0.01");
  inst.allocate(1);
  inst.initialise(3);
  for (int k = 0; k < 6; ++k) {
    EXPECT_GE(inst.data(W)[k], 0.0f);
    EXPECT_LT(inst.data(W)[k], 0.01f);
  }
}

TEST(Wald, MeanAndVarianceMatchTheInverseGaussian) {
  // Wald(mean, scale): mean `mean`, variance mean^3 / scale.
  for (auto [mean, scale] : {std::pair{2.0f, 1.0f}, std::pair{0.5f, 4.0f}}) {
    const int n = 200000;
    double sum = 0, sq = 0;
    BdlContext ctx{};
    ctx.seed = 17;
    for (int i = 0; i < n; ++i) {
      ctx.example0 = i;
      double v = bdl_draw_wald(&ctx, 3, mean, scale);
      ASSERT_GT(v, 0);
      sum += v;
      sq += v * v;
    }
    double m = sum / n, var = sq / n - m * m;
    double wantVar = double(mean) * mean * mean / scale;
    SCOPED_TRACE(testing::Message() << "Wald(" << mean << ", " << scale << ")");
    // Standard errors: sqrt(var / n) for the mean; the variance's is larger
    // (heavy tail: fourth moment 15 mean^7 / scale^3 + ...), 3% is > 4 sigma.
    EXPECT_NEAR(m, mean, 5 * std::sqrt(wantVar / n));
    EXPECT_NEAR(var, wantVar, 0.03 * wantVar);
  }
}

TEST(Wald, KeyedByTheContextAndSite) {
  BdlContext a{};
  a.seed = 5;
  a.example0 = 9;
  a.block = 1;
  BdlContext b = a;
  b.time = 1000; // not part of the key
  b.step = 3;
  EXPECT_EQ(bdl_draw_wald(&a, 1, 2, 1), bdl_draw_wald(&b, 1, 2, 1));
  EXPECT_NE(bdl_draw_wald(&a, 1, 2, 1), bdl_draw_wald(&a, 2, 2, 1));
  b = a;
  b.block = 1 | BDL_EVAL_BLOCK;
  EXPECT_NE(bdl_draw_wald(&a, 1, 2, 1), bdl_draw_wald(&b, 1, 2, 1));
  b = a;
  b.example0 = 10;
  EXPECT_NE(bdl_draw_wald(&a, 1, 2, 1), bdl_draw_wald(&b, 1, 2, 1));
  b = a;
  b.seed = 6;
  EXPECT_NE(bdl_draw_wald(&a, 1, 2, 1), bdl_draw_wald(&b, 1, 2, 1));
  EXPECT_TRUE(std::isnan(bdl_draw_wald(&a, 1, 0, 1)));
  EXPECT_TRUE(std::isnan(bdl_draw_wald(&a, 1, 2, -1)));
}

namespace {
Dataset bandSet(int count, int features, int classes) {
  ImageSet s = bandImages(count, features, classes, 4);
  Dataset d;
  d.name = "bands";
  d.features = features;
  d.classes = classes;
  for (uint8_t p : s.pixels)
    d.images.push_back(float(p) / 255.0f);
  d.labels = s.labels;
  return d;
}
} // namespace

TEST(Trainer, ExampleSequenceDoesNotDependOnTheBatch) {
  DynModel dm(12, 3);
  Dataset d = bandSet(10, 12, 3);
  for (int64_t batch : {1, 3}) {
    ModelInstance inst(dm.model);
    inst.allocate(batch);
    inst.initialise(2);
    std::vector<int64_t> starts, indices;
    TrainCallbacks cb;
    cb.batchBegin = [&](const std::vector<int64_t> &ix, int64_t example0) {
      starts.push_back(example0);
      indices.insert(indices.end(), ix.begin(), ix.end());
      EXPECT_EQ(inst.example0(), example0);
    };
    TrainOptions o;
    o.epochs = 2;
    o.batch = batch;
    o.validation = 2; // 8 per epoch
    o.shuffle = false;
    train(inst, DataView(d), DataView(), o, cb);
    std::vector<int64_t> want;
    for (int64_t e = 0; e < 2; ++e)
      for (int64_t p = 0; p < 8; p += batch)
        want.push_back(e * 8 + p);
    EXPECT_EQ(starts, want) << "batch " << batch;
    // No shuffling: file order, every epoch.
    std::vector<int64_t> order;
    for (int e = 0; e < 2; ++e)
      for (int64_t i = 0; i < 8; ++i)
        order.push_back(i);
    EXPECT_EQ(indices, order);
  }
}

TEST(Trainer, StateCarriesAcrossTrainingExamplesAndEvaluationResetsIt) {
  DynModel dm(12, 3);
  Dataset d = bandSet(6, 12, 3);
  ModelInstance inst(dm.model);
  inst.allocate(1);
  inst.initialise(2);
  std::vector<float> somaAtStart;
  TrainCallbacks cb;
  cb.batchBegin = [&](const std::vector<int64_t> &, int64_t) {
    somaAtStart.push_back(inst.data(DU)[0]);
  };
  TrainOptions o;
  o.epochs = 1;
  o.batch = 1;
  train(inst, DataView(d), DataView(), o, cb);
  ASSERT_EQ(somaAtStart.size(), 6u);
  EXPECT_EQ(somaAtStart[0], 0.0f);
  for (size_t i = 1; i < somaAtStart.size(); ++i)
    EXPECT_NE(somaAtStart[i], 0.0f) << "example " << i << " started from a reset soma";
  // Evaluation: the test block resets first, so each example starts at 0
  // and the time counts its own 5 steps (then 1 of the loss block).
  evaluate(inst, DataView(d), 1);
  EXPECT_EQ(inst.time(), 6);
  EXPECT_EQ(inst.data(DCtx)[2], 4.0f);           // the time of the last soma call
  EXPECT_EQ(inst.data(DCtx)[1], 5.0f);           // example 5 of the evaluated set
  EXPECT_EQ(inst.data(DCtx)[5], BDL_EVAL_BLOCK); // block 0, evaluation
}

TEST(Trace, AtALargerBatchEveryRowIsRecorded) {
  TempDir dir;
  DynModel dm(12, 3);
  Dataset d = bandSet(7, 12, 3);
  ModelInstance inst(dm.model);
  inst.allocate(2);
  inst.initialise(2);
  // Three examples: two batches of two; the trace stops after the second.
  Tracer tracer(inst, {"out.u", "W", "gain"}, 3, dir / "trace");
  TrainCallbacks cb;
  cb.batchBegin = [&](const std::vector<int64_t> &ix, int64_t e0) { tracer.batchBegin(ix, e0); };
  cb.batchEnd = [&] { tracer.batchEnd(); };
  TrainOptions o;
  o.epochs = 1;
  o.batch = 2;
  o.shuffle = false;
  train(inst, DataView(d), DataView(), o, cb);
  ASSERT_TRUE(tracer.written());
  std::ifstream in(dir / "trace/trace.json");
  nlohmann::json t = nlohmann::json::parse(in);
  EXPECT_EQ(t["batch"], 2);
  EXPECT_EQ(t["examples"].size(), 4u);
  EXPECT_EQ(t["examples"][3]["batch"], 1);
  EXPECT_EQ(t["blocks"].size(), 4u);
  int64_t steps = t["steps"];
  EXPECT_EQ(t["tensors"][0]["rows"], "every row of the batch");
  EXPECT_EQ(readNpy(dir / "trace/out.u.npy").shape, (std::vector<int64_t>{steps, 2, 3}));
  EXPECT_EQ(readNpy(dir / "trace/W.npy").shape, (std::vector<int64_t>{steps, 3, 12}));
  EXPECT_EQ(readNpy(dir / "trace/gain.npy").shape, (std::vector<int64_t>{steps, 3}));
  EXPECT_THAT(errorOf([&] { Tracer bad(inst, {"u"}, 1, dir / "x"); }),
              HasSubstr("--trace: model 'dyn' has no tensor 'u'; valid names: x, y, W, out.u"));
}
