//===- TrainTest.cpp - The training loop end to end on an in-memory set ---===//

#include "bdl/train.h"
#include "ErrorMatch.h"
#include "TestUtil.h"
#include "TinyModel.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/report.h"

#include <cmath>
#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

/// Two Gaussian blobs in the plane, at (-1.5, -1) and (1.5, 1), sd 0.5.
Dataset blobs(int count, uint64_t seed) {
  Dataset d;
  d.name = "blobs";
  d.features = 2;
  d.classes = 2;
  Philox rng(seed, 1);
  for (int i = 0; i < count; ++i) {
    int label = i % 2;
    float sign = label ? 1.0f : -1.0f;
    d.labels.push_back(uint8_t(label));
    d.images.push_back(sign * 1.5f + 0.5f * rng.normal());
    d.images.push_back(sign * 1.0f + 0.5f * rng.normal());
  }
  return d;
}

struct TinyRun {
  TrainResult result;
  std::vector<float> weights; // W then b
};

TinyRun trainTiny(uint64_t seed, int threads = 1, int64_t validation = 0, bool evalLoss = true) {
  TinyModel tm(2, 2, evalLoss);
  ModelInstance inst(tm.model);
  cpu::setThreads(threads);
  Dataset train = blobs(200, 10), test = blobs(100, 20);
  TrainOptions opts;
  opts.epochs = 8;
  opts.batch = 16; // 200 = 12 * 16 + 8: the last batch is partial
  opts.seed = seed;
  opts.validation = validation;
  inst.allocate(opts.batch);
  inst.initialise(seed);
  TinyRun run;
  run.result = bdl::train(inst, DataView(train), DataView(test), opts);
  run.weights.assign(inst.data(W), inst.data(W) + 4);
  run.weights.insert(run.weights.end(), inst.data(Bias), inst.data(Bias) + 2);
  return run;
}

bool sameBytes(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST(Train, LearnsSeparableBlobs) {
  TinyRun run = trainTiny(1);
  const auto &epochs = run.result.epochs;
  ASSERT_EQ(epochs.size(), 8u);
  ASSERT_TRUE(epochs.front().trainLoss && epochs.back().trainLoss);
  EXPECT_LT(*epochs.back().trainLoss, *epochs.front().trainLoss);
  EXPECT_LT(*epochs.back().trainLoss, 0.2);
  EXPECT_GT(epochs.back().trainAccuracy, 0.95);
  ASSERT_TRUE(epochs.back().testAccuracy);
  EXPECT_GT(*epochs.back().testAccuracy, 0.95);
  ASSERT_TRUE(epochs.back().testLoss);
  EXPECT_LT(*epochs.back().testLoss, 0.2);
  EXPECT_FALSE(epochs.back().valAccuracy);
  EXPECT_EQ(run.result.trainExamples, 200);
  EXPECT_EQ(epochs.back().epoch, 8);
  EXPECT_GT(run.result.trainSeconds, 0);
}

TEST(Train, SameSeedSameWeightsDifferentSeedDifferent) {
  TinyRun a = trainTiny(7), b = trainTiny(7), c = trainTiny(8);
  EXPECT_TRUE(sameBytes(a.weights, b.weights));
  EXPECT_FALSE(sameBytes(a.weights, c.weights));
  TinyRun d = trainTiny(7, 2), e = trainTiny(7, 2);
  EXPECT_TRUE(sameBytes(d.weights, e.weights));
}

TEST(Train, ValidationIsHeldOut) {
  TinyRun run = trainTiny(1, 1, 40);
  EXPECT_EQ(run.result.trainExamples, 160);
  ASSERT_TRUE(run.result.epochs.back().valAccuracy);
  EXPECT_GT(*run.result.epochs.back().valAccuracy, 0.95);
}

TEST(Train, LossAbsentWhenEvalBlocksDoNotComputeIt) {
  TinyRun run = trainTiny(1, 1, 0, /*evalLoss=*/false);
  EXPECT_TRUE(run.result.epochs.back().trainLoss);
  EXPECT_FALSE(run.result.epochs.back().testLoss);
  EXPECT_GT(*run.result.epochs.back().testAccuracy, 0.95);
}

TEST(Train, DivergenceIsReported) {
  TinyModel tm(2, 2, true, INFINITY);
  ModelInstance inst(tm.model);
  Dataset train = blobs(200, 10);
  TrainOptions opts;
  opts.epochs = 3;
  opts.batch = 16;
  inst.allocate(16);
  inst.initialise(0);
  int epochsSeen = 0;
  TrainCallbacks cb;
  cb.epochEnd = [&](const EpochMetrics &) { ++epochsSeen; };
  try {
    bdl::train(inst, DataView(train), DataView(), opts, cb);
    FAIL() << "no divergence";
  } catch (const DivergedError &e) {
    EXPECT_THAT(e.what(), HasSubstr("diverged at epoch 1 batch "));
    EXPECT_EQ(e.exitCode(), 3);
    EXPECT_EQ(e.epoch, 1);
    EXPECT_GE(e.batch, 2);
  }
  EXPECT_EQ(epochsSeen, 0);
}

namespace {

/// cross_entropy as bdlc emits it: the floor max(p, 1e-30) is llvm.maxnum,
/// which turns a NaN probability into 1e-30, so the loss stays finite
/// (69.08) while the weights are NaN.
void flooredLossKernel(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                       const BdlContext *) {
  for (int64_t r = r0; r < r1; ++r) {
    float l = 0;
    for (int64_t c = 0; c < cols; ++c)
      l -= t[Y][r * cols + c] * std::log(std::fmax(t[Prob][r * cols + c], 1e-30f));
    t[Loss][r] = l;
  }
}

/// Calls of poisonKernel so far; it writes a NaN into the optimiser tensor
/// on call number `poisonAt`.
int poisonCalls = 0, poisonAt = 0;
constexpr int kVelocity = NumTinyTensors;
void poisonKernel(int64_t, int64_t, int64_t, float *const *t, const float *, const BdlContext *) {
  if (++poisonCalls == poisonAt)
    t[kVelocity][0] = NAN;
}

/// The tiny model with an optimiser tensor that nothing reads, poisoned on
/// the given learning step: the loss and the predictions stay finite.
struct PoisonedModel : TinyModel {
  explicit PoisonedModel(int at) : TinyModel(2, 2) {
    BdlDim one{BDL_DIM_CONST, 1};
    tensors.push_back({"v", BDL_ROLE_OPTIMIZER, BDL_INIT_ZERO, one, one, 0, 0, -1, -1});
    learnOps.push_back(kernel("poison", poisonKernel, one, one, false));
    trainBlocks[2] = block("learn", learnOps);
    model.tensors = tensors.data();
    model.numTensors = int32_t(tensors.size());
    poisonCalls = 0;
    poisonAt = at;
  }
};

DivergedError divergence(ModelInstance &inst, const Dataset &train, TrainOptions opts,
                         int &epochsSeen) {
  TrainCallbacks cb;
  cb.epochEnd = [&](const EpochMetrics &) { ++epochsSeen; };
  try {
    bdl::train(inst, DataView(train), DataView(), opts, cb);
  } catch (const DivergedError &e) {
    return e;
  }
  ADD_FAILURE() << "no divergence";
  return DivergedError("", 0, 0, "");
}

} // namespace

TEST(Train, DivergenceIsFoundWhateverTheLossSays) {
  TinyModel tm(2, 2, true, INFINITY);
  tm.lossOps[0].fn = flooredLossKernel;
  ModelInstance inst(tm.model);
  inst.allocate(16);
  inst.initialise(0);
  TrainOptions opts;
  opts.batch = 16;
  int epochsSeen = 0;
  DivergedError e = divergence(inst, blobs(200, 10), opts, epochsSeen);
  // Batch 1's step makes W infinite; batch 2's softmax of it is NaN.
  EXPECT_THAT(e.what(), HasSubstr("diverged at epoch 1 batch 2: weight 'W' is not finite (NaN or "
                                  "infinite), nor are b, prob; the learned tensors were last "
                                  "verified finite at the start of the epoch"));
  EXPECT_EQ(e.epoch, 1);
  EXPECT_EQ(e.batch, 2);
  EXPECT_EQ(e.tensor, "W");
  EXPECT_EQ(epochsSeen, 0);
}

TEST(Train, LearnedTensorsAreCheckedAtTheEndOfEachEpoch) {
  PoisonedModel pm(13 + 5); // epoch 2 (13 batches each), batch 5
  ModelInstance inst(pm.model);
  inst.allocate(16);
  inst.initialise(0);
  TrainOptions opts;
  opts.epochs = 3;
  opts.batch = 16;
  int epochsSeen = 0;
  DivergedError e = divergence(inst, blobs(200, 10), opts, epochsSeen);
  EXPECT_THAT(e.what(), HasSubstr("diverged at epoch 2 batch 13: optimizer 'v' is not finite (NaN "
                                  "or infinite); the learned tensors were last verified finite "
                                  "at the start of the epoch"));
  EXPECT_EQ(e.tensor, "v");
  EXPECT_EQ(epochsSeen, 1); // the epoch reported ended finite
}

TEST(Train, LearnedTensorsAreCheckedEveryFewBatches) {
  PoisonedModel pm(600);
  ModelInstance inst(pm.model);
  inst.allocate(1);
  inst.initialise(0);
  TrainOptions opts;
  opts.batch = 1; // 1200 batches an epoch
  int epochsSeen = 0;
  DivergedError e = divergence(inst, blobs(1200, 10), opts, epochsSeen);
  EXPECT_THAT(e.what(), HasSubstr("diverged at epoch 1 batch 1024: optimizer 'v' is not finite "
                                  "(NaN or infinite); the learned tensors were last verified "
                                  "finite after batch 512"));
  EXPECT_EQ(e.batch, 1024);
}

TEST(Train, AllFinite) {
  std::vector<float> v(10000, 1.0f);
  EXPECT_TRUE(allFinite(v.data(), v.size()));
  EXPECT_TRUE(allFinite(v.data(), 0));
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    v[9000] = bad;
    EXPECT_FALSE(allFinite(v.data(), v.size()));
    EXPECT_TRUE(allFinite(v.data(), 9000));
    v[9000] = 1.0f;
  }
  v[5] = std::numeric_limits<float>::max();
  v[6] = std::numeric_limits<float>::denorm_min();
  EXPECT_TRUE(allFinite(v.data(), v.size()));
}

TEST(Train, DatasetMustFitTheModel) {
  TinyModel tm(2, 2);
  ModelInstance inst(tm.model);
  inst.allocate(8);
  Dataset wide = blobs(10, 1);
  wide.features = 3;
  EXPECT_THAT(errorOf([&] { checkDatasetFits(inst, wide); }),
              HasSubstr("input tensor 'x' has 2 columns but dataset 'blobs' has 3 features"));
  Dataset tenClasses = blobs(10, 1);
  tenClasses.classes = 10;
  EXPECT_THAT(errorOf([&] { checkDatasetFits(inst, tenClasses); }),
              HasSubstr("target tensor 'y' has 2 columns but dataset 'blobs' has 10 classes"));
}

TEST(Train, WeightsSaveAndLoad) {
  TempDir dir;
  TinyModel tm(2, 2);
  ModelInstance a(tm.model), b(tm.model);
  a.allocate(16);
  b.allocate(16);
  a.initialise(1);
  b.initialise(2);
  Dataset test = blobs(100, 20);
  saveWeights(a, dir / "w");
  EXPECT_NE(std::memcmp(a.data(W), b.data(W), 4 * sizeof(float)), 0);
  EXPECT_EQ(loadWeights(b, dir.str() + "/w"), dir / "w");
  EXPECT_EQ(std::memcmp(a.data(W), b.data(W), 4 * sizeof(float)), 0);
  EXPECT_EQ(evaluate(a, DataView(test), 16).accuracy, evaluate(b, DataView(test), 16).accuracy);
  EXPECT_EQ(npyShape(a, Bias), (std::vector<int64_t>{2}));
  EXPECT_EQ(npyShape(a, W), (std::vector<int64_t>{2, 2}));

  // A training --out directory works too: its weights are in weights/.
  saveWeights(a, dir / "out/weights");
  EXPECT_EQ(loadWeights(b, dir / "out"), dir / "out/weights");

  TinyModel wider(3, 2);
  ModelInstance c(wider.model);
  c.allocate(4);
  EXPECT_THAT(
      errorOf([&] { loadWeights(c, dir / "w"); }),
      HasSubstr(dir / "w/W.npy" + ": shape (2, 2) does not match tensor 'W' of shape (2, 3)"));
  std::filesystem::remove(dir / "w/b.npy");
  EXPECT_THAT(errorOf([&] { loadWeights(b, dir / "w"); }),
              HasSubstr(dir / "w/b.npy" + ": missing"));
}

TEST(Train, Argmax) {
  float v[] = {0.1f, 0.7f, 0.7f, 0.2f};
  EXPECT_EQ(argmax(v, 4), 1);
  EXPECT_EQ(argmax(v, 1), 0);
}
