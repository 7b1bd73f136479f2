//===- TrainTest.cpp - The training loop end to end on an in-memory set ---===//

#include "bdl/train.h"
#include "ErrorMatch.h"
#include "TestUtil.h"
#include "TinyModel.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/report.h"

#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
