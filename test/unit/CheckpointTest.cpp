//===- CheckpointTest.cpp - The checkpoint file: round trip and refusals --===//

#include "bdl/checkpoint.h"
#include "ErrorMatch.h"
#include "TestUtil.h"
#include "TinyModel.h"
#include "bdl/model.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

/// A tiny model with an optimiser tensor and a state tensor, so that every
/// checkpointed role is present.
struct StatefulModel : TinyModel {
  StatefulModel() : TinyModel(3, 2) {
    BdlDim b{BDL_DIM_BATCH, 1};
    tensors.push_back({"W.velocity",
                       BDL_ROLE_OPTIMIZER,
                       BDL_INIT_ZERO,
                       {BDL_DIM_CONST, 2},
                       {BDL_DIM_CONST, 3},
                       0,
                       0,
                       -1,
                       -1});
    tensors.push_back(
        {"trace", BDL_ROLE_STATE, BDL_INIT_ZERO, b, {BDL_DIM_CONST, 2}, 0, 0, -1, -1});
    tensors.push_back({"fixed",
                       BDL_ROLE_FIXED,
                       BDL_INIT_UNIFORM,
                       {BDL_DIM_CONST, 4},
                       {BDL_DIM_CONST, 2},
                       -1,
                       1,
                       -1,
                       -1});
    model.tensors = tensors.data();
    model.numTensors = int32_t(tensors.size());
  }
};

/// Distinct values in every float of every tensor, NaN-free.
void fill(ModelInstance &inst, float base) {
  for (int t = 0; t < inst.model().numTensors; ++t)
    for (size_t k = 0; k < inst.capacity(t); ++k)
      inst.data(t)[k] = base + float(t) + 0.001f * float(k);
}

CheckpointState sampleState(const ModelInstance &inst) {
  CheckpointState s;
  s.epoch = 2;
  s.run.dataset = "mnist";
  s.run.dataDir = "/data/mnist";
  s.run.epochs = 5;
  s.run.batch = 8;
  s.run.seed = 0xfedcba9876543210ull;
  s.run.threads = 3;
  s.run.validation = 10;
  s.run.limit = 100;
  s.run.trainExamples = 90;
  s.run.checkpointEvery = 2;
  for (int i = 0; i < inst.numParams(); ++i)
    s.params.push_back(inst.param(i));
  for (int e = 1; e <= 2; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.epochs = 5;
    m.trainLoss = 1.0 / 3.0 / e;
    m.trainAccuracy = 0.1 * e;
    if (e == 2)
      m.valAccuracy = 0.7;
    m.testAccuracy = 0.123456789012345;
    m.seconds = 0.25 * e;
    m.examplesPerSecond = 360.0 / e;
    s.history.push_back(m);
  }
  return s;
}

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    inst.applyAssignment("lr=0.3");
    inst.allocate(8);
    fill(inst, 1.0f);
    path = dir / "out/checkpoint/checkpoint.bdlckpt";
    writeCheckpoint(path, inst, sampleState(inst));
  }
  /// The message of the error reading `bytes` as a checkpoint.
  std::string refusal(const std::vector<uint8_t> &bytes) {
    std::string damaged = dir / "damaged.bdlckpt";
    writeBytes(damaged, bytes);
    return errorOf([&] { readCheckpoint(damaged, sm.model); });
  }

  TempDir dir;
  StatefulModel sm;
  ModelInstance inst{sm.model};
  std::string path;
};

} // namespace

TEST_F(CheckpointTest, RoundTrip) {
  EXPECT_EQ(path, checkpointPath(dir / "out"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  LoadedCheckpoint ck = readCheckpoint(path, sm.model);
  CheckpointState want = sampleState(inst);
  const CheckpointState &got = ck.state;
  EXPECT_EQ(got.epoch, 2);
  EXPECT_EQ(got.run.dataset, "mnist");
  EXPECT_EQ(got.run.dataDir, "/data/mnist");
  EXPECT_EQ(got.run.epochs, 5);
  EXPECT_EQ(got.run.batch, 8);
  EXPECT_EQ(got.run.seed, 0xfedcba9876543210ull);
  EXPECT_EQ(got.run.threads, 3);
  EXPECT_EQ(got.run.validation, 10);
  EXPECT_EQ(got.run.limit, 100);
  EXPECT_EQ(got.run.trainExamples, 90);
  EXPECT_EQ(got.run.checkpointEvery, 2);
  EXPECT_EQ(got.params, std::vector<double>{0.3});
  ASSERT_EQ(got.history.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    const EpochMetrics &a = want.history[e], &b = got.history[e];
    EXPECT_EQ(b.epoch, a.epoch);
    EXPECT_EQ(b.epochs, 5);
    EXPECT_EQ(b.trainLoss, a.trainLoss); // exact: doubles survive the JSON
    EXPECT_EQ(b.trainAccuracy, a.trainAccuracy);
    EXPECT_EQ(b.valAccuracy, a.valAccuracy);
    EXPECT_EQ(b.testLoss, a.testLoss);
    EXPECT_EQ(b.testAccuracy, a.testAccuracy);
    EXPECT_EQ(b.seconds, a.seconds);
    EXPECT_EQ(b.examplesPerSecond, a.examplesPerSecond);
  }

  ModelInstance restored(sm.model);
  restored.applyAssignment("lr=0.3");
  restored.allocate(8);
  fill(restored, 100.0f);
  restoreCheckpoint(restored, ck);
  for (int t = 0; t < sm.model.numTensors; ++t) {
    bool same = std::memcmp(inst.data(t), restored.data(t), inst.capacity(t) * sizeof(float)) == 0;
    EXPECT_EQ(same, isCheckpointed(sm.tensors[t].role)) << sm.tensors[t].name;
  }
  // The batch-sized state tensor is kept for every row the model holds.
  EXPECT_EQ(ck.tensors[sm.model.numTensors - 2].size(), 16u);

  ModelInstance smaller(sm.model);
  smaller.allocate(4);
  EXPECT_THAT(errorOf([&] { restoreCheckpoint(smaller, ck); }),
              HasSubstr("tensor 'trace' holds 16 values but the model allocates 8 for it here"));
}

TEST_F(CheckpointTest, AnotherModelIsRefused) {
  StatefulModel renamed;
  renamed.tensors[W].name = "W2";
  StatefulModel reshaped;
  reshaped.tensors[W].cols = {BDL_DIM_CONST, 4};
  StatefulModel reordered;
  std::swap(reordered.learnOps[1], reordered.learnOps[2]);
  StatefulModel relabelled;
  relabelled.tensors[Grad].role = BDL_ROLE_STATE;
  StatefulModel same; // other tables at other addresses: the same model
  EXPECT_EQ(modelHash(same.model), modelHash(sm.model));
  readCheckpoint(path, same.model);
  for (const BdlModel *other :
       {&renamed.model, &reshaped.model, &reordered.model, &relabelled.model}) {
    EXPECT_NE(modelHash(*other), modelHash(sm.model));
    std::string message = errorOf([&] { readCheckpoint(path, *other); });
    EXPECT_THAT(message, HasSubstr(path + ": written by model 'tiny' (hash "));
    EXPECT_THAT(message, HasSubstr("not by this build of 'tiny'"));
    EXPECT_THAT(message, HasSubstr("a checkpoint resumes only the model that wrote it"));
  }
}

TEST_F(CheckpointTest, AnotherFormatVersionIsRefused) {
  std::vector<uint8_t> bytes = readBytes(path);
  ASSERT_EQ(bytes[8], kCheckpointFormatVersion);
  bytes[8] = uint8_t(kCheckpointFormatVersion + 1);
  EXPECT_THAT(refusal(bytes), HasSubstr("checkpoint format version 3 (from a newer runtime), but "
                                        "this runtime reads only version 2"));
  bytes[8] = 1; // before the context counters were saved
  EXPECT_THAT(refusal(bytes), HasSubstr("checkpoint format version 1 (from an older runtime)"));
}

TEST_F(CheckpointTest, TruncatedOrCorruptFilesAreRefused) {
  std::vector<uint8_t> whole = readBytes(path);
  // Cut in the magic, the preamble, the header, the tensors and the checksum.
  for (size_t keep : {size_t(0), size_t(5), size_t(14), size_t(40), whole.size() / 2,
                      whole.size() - 9, whole.size() - 1}) {
    std::vector<uint8_t> cut(whole.begin(), whole.begin() + std::ptrdiff_t(keep));
    EXPECT_THAT(refusal(cut), HasSubstr("truncated")) << keep << " bytes";
  }
  std::vector<uint8_t> flipped = whole;
  flipped[whole.size() - 20] ^= 1; // a tensor's value
  EXPECT_THAT(refusal(flipped), HasSubstr("corrupt: checksum mismatch"));
  std::vector<uint8_t> longer = whole;
  longer.push_back(0);
  EXPECT_THAT(refusal(longer), HasSubstr("corrupt: 1 bytes after its end"));
  std::vector<uint8_t> other = whole;
  other[0] = 'X';
  EXPECT_THAT(refusal(other), HasSubstr("not a bdl checkpoint"));
  EXPECT_THAT(errorOf([&] { readCheckpoint(dir / "none", sm.model); }),
              HasSubstr(dir / "none" + ": no checkpoint to resume from"));
}

TEST_F(CheckpointTest, NonFiniteStateIsNeverCheckpointed) {
  std::vector<uint8_t> good = readBytes(path);
  ModelInstance next(sm.model);
  next.allocate(8);
  fill(next, 2.0f);
  next.data(int(sm.tensors.size()) - 3)[4] = NAN; // the velocity
  try {
    writeCheckpoint(path, next, sampleState(next));
    FAIL() << "a NaN was checkpointed";
  } catch (const DivergedError &e) {
    EXPECT_THAT(e.what(), HasSubstr("refusing to checkpoint epoch 2: optimizer 'W.velocity' is "
                                    "not finite"));
    EXPECT_EQ(e.exitCode(), ExitDiverged);
  }
  EXPECT_EQ(readBytes(path), good); // the last good checkpoint is intact
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}
