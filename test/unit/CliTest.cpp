//===- CliTest.cpp - net train|eval|info as a user runs them --------------===//

#include "bdl/cli.h"
#include "TestUtil.h"
#include "TinyModel.h"
#include "bdl/checkpoint.h"
#include "bdl/npy.h"

#include <algorithm>
#include <cstdio>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <tuple>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

struct Outcome {
  int code;
  std::string out, err;
};

Outcome run(const BdlModel &model, std::vector<std::string> args) {
  args.insert(args.begin(), "net");
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back(a.c_str());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = runMain(model, int(argv.size()), argv.data());
  std::fflush(stdout);
  std::fflush(stderr);
  Outcome o{code, ::testing::internal::GetCapturedStdout(),
            ::testing::internal::GetCapturedStderr()};
  return o;
}

std::vector<std::string> lines(const std::string &path) {
  std::ifstream in(path);
  std::vector<std::string> result;
  for (std::string line; std::getline(in, line);)
    result.push_back(line);
  return result;
}

class CliTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::filesystem::create_directories(dir / "mnist");
    writeMnistLike(dir / "mnist", 120, 40, /*gz=*/false);
  }
  std::vector<std::string> trainArgs(const std::string &out, const std::string &seed = "0") {
    return {"train",    "--dataset", "mnist",   "--data-dir", dir / "mnist",
            "--epochs", "2",         "--batch", "32",         "--seed",
            seed,       "--threads", "1",       "--out",      dir / out};
  }

  TempDir dir;
  TinyModel tm{784, 10};
};

} // namespace

TEST_F(CliTest, TrainWritesEverything) {
  Outcome o = run(tm.model, trainArgs("out"));
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("epoch 1/2  loss "));
  EXPECT_THAT(o.out, HasSubstr("epoch 2/2  loss "));
  EXPECT_THAT(o.out, HasSubstr(" ex/s"));
  EXPECT_EQ(o.err, ""); // no progress line when stderr is not a terminal

  std::vector<std::string> csv = lines(dir / "out/metrics.csv");
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0], "epoch,train_loss,train_accuracy,val_accuracy,test_loss,test_accuracy,"
                    "seconds,examples_per_second");
  EXPECT_THAT(csv[2], ::testing::StartsWith("2,"));
  EXPECT_THAT(csv[2], HasSubstr(",,")); // no validation set

  std::vector<std::string> log = lines(dir / "out/log.jsonl");
  ASSERT_EQ(log.size(), 2u);
  nlohmann::json e2 = nlohmann::json::parse(log[1]);
  EXPECT_EQ(e2["epoch"], 2);
  EXPECT_TRUE(e2["val_accuracy"].is_null());
  EXPECT_DOUBLE_EQ(e2["params"]["lr"].get<double>(), 0.5);

  std::ifstream in(dir / "out/summary.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["model"], "tiny");
  EXPECT_EQ(s["dataset"], "mnist");
  EXPECT_EQ(s["epochs"], 2);
  EXPECT_EQ(s["batch"], 32);
  EXPECT_EQ(s["seed"], 0);
  EXPECT_EQ(s["threads"], 1);
  EXPECT_GT(s["test_accuracy"].get<double>(), 0.9);
  EXPECT_TRUE(s["val_accuracy"].is_null());
  EXPECT_EQ(s["epoch_seconds"].size(), 2u);
  EXPECT_GT(s["examples_per_second"].get<double>(), 0);
  EXPECT_TRUE(s["error"].is_null());

  NpyArray w = readNpy(dir / "out/weights/W.npy");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{10, 784}));
  NpyArray b = readNpy(dir / "out/weights/b.npy");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{10}));
}

TEST_F(CliTest, SameSeedSameBytes) {
  ASSERT_EQ(run(tm.model, trainArgs("a", "3")).code, 0);
  ASSERT_EQ(run(tm.model, trainArgs("b", "3")).code, 0);
  ASSERT_EQ(run(tm.model, trainArgs("c", "4")).code, 0);
  EXPECT_EQ(readBytes(dir / "a/weights/W.npy"), readBytes(dir / "b/weights/W.npy"));
  EXPECT_NE(readBytes(dir / "a/weights/W.npy"), readBytes(dir / "c/weights/W.npy"));
}

TEST_F(CliTest, EvalLoadsWeights) {
  ASSERT_EQ(run(tm.model, trainArgs("out")).code, 0);
  Outcome o = run(tm.model, {"eval", "--data-dir", dir / "mnist", "--weights", dir / "out", "--out",
                             dir / "eval", "--threads", "1"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("test_acc "));
  std::ifstream in(dir / "eval/eval.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["test_examples"], 40);

  o = run(tm.model, {"eval", "--data-dir", dir / "mnist", "--weights", dir / "nothing"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr(dir / "nothing"));
  o = run(tm.model, {"eval", "--data-dir", dir / "mnist"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--weights"));
}

TEST_F(CliTest, SetErrorsAreUsageErrors) {
  Outcome o = run(tm.model, {"info", "--set", "nope=1"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("net: error: unknown parameter 'nope'; known parameters: lr"));
  o = run(tm.model, {"info", "--set", "lr=abc"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("invalid value 'abc' for real parameter 'lr'"));
  o = run(tm.model, {"train", "--set", "lr"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--set expects name=value"));
}

TEST_F(CliTest, UsageErrors) {
  EXPECT_EQ(run(tm.model, {}).code, 2);
  EXPECT_EQ(run(tm.model, {"fly"}).code, 2);
  EXPECT_EQ(run(tm.model, {"train", "--epochs", "0"}).code, 2);
  EXPECT_EQ(run(tm.model, {"train", "--batch", "many"}).code, 2);
  Outcome o = run(tm.model, {"train", "--dataset", "imagenet"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("unknown dataset 'imagenet'"));
  o = run(tm.model, {"train", "--help"});
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.out, HasSubstr("--validation"));
}

TEST_F(CliTest, DataErrorsExitWithOne) {
  Outcome o = run(tm.model, {"train", "--data-dir", dir / "missing"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("mnist: data directory '" + dir / "missing" + "' does not exist"));
  TinyModel wrong(100, 10);
  o = run(wrong.model, {"train", "--data-dir", dir / "mnist"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("has 100 columns but dataset 'mnist train' has 784 features"));
}

TEST_F(CliTest, DivergenceExitsWithThree) {
  std::vector<std::string> args = trainArgs("div");
  args.insert(args.end(), {"--set", "lr=1e38"});
  Outcome o = run(tm.model, args);
  EXPECT_EQ(o.code, 3);
  EXPECT_THAT(o.err, HasSubstr("diverged at epoch 1 batch "));
  std::ifstream in(dir / "div/summary.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_THAT(s["error"].get<std::string>(), HasSubstr("diverged"));
  EXPECT_EQ(lines(dir / "div/metrics.csv").size(), 1u);
}

TEST_F(CliTest, ValidationAndLimit) {
  std::vector<std::string> args = trainArgs("v");
  args.insert(args.end(), {"--validation", "20", "--limit", "100", "--quiet"});
  Outcome o = run(tm.model, args);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "");
  std::ifstream in(dir / "v/summary.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["train_examples"], 80);
  EXPECT_FALSE(s["val_accuracy"].is_null());
  o = run(tm.model, {"train", "--data-dir", dir / "mnist", "--validation", "500"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--validation 500 leaves no training examples"));
}

TEST_F(CliTest, InfoDescribesTheModel) {
  Outcome o = run(tm.model, {"info", "--set", "lr=0.25"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("model    tiny"));
  EXPECT_THAT(o.out, HasSubstr("lr"));
  EXPECT_THAT(o.out, HasSubstr("(default 0.5)"));
  EXPECT_THAT(o.out, HasSubstr("tune log [0.001, 1]"));
  EXPECT_THAT(o.out, HasSubstr("[10, 784]"));
  EXPECT_THAT(o.out, HasSubstr("gemm    update_W"));
  EXPECT_THAT(o.out, HasSubstr("kernel  softmax"));
}

TEST_F(CliTest, TooLargeModelValidationIsBlamedOnTheModel) {
  tm.model.validation = 500; // the train block's `validation = 500`
  Outcome o = run(tm.model, {"train", "--data-dir", dir / "mnist"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("error: validation = 500 in the train block of model 'tiny' "
                               "(--validation N overrides it) leaves no training examples of "
                               "120"));
  EXPECT_THAT(o.err, ::testing::Not(HasSubstr("--validation 500")));
  o = run(tm.model,
          {"train", "--data-dir", dir / "mnist", "--validation", "20", "--epochs", "1", "--quiet"});
  EXPECT_EQ(o.code, 0) << o.err;
}

TEST_F(CliTest, BatchLargerThanTheDataAllocatesForTheData) {
  std::vector<std::string> args = trainArgs("big");
  args.insert(args.end(), {"--limit", "10"});
  args[std::find(args.begin(), args.end(), "--batch") - args.begin() + 1] = "10000000";
  Outcome o = run(tm.model, args);
  ASSERT_EQ(o.code, 0) << o.err;
  std::ifstream in(dir / "big/summary.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["batch"], 10000000);
  EXPECT_EQ(s["train_examples"], 10);
  // One batch of all ten examples, whatever the batch size asked for.
  args[std::find(args.begin(), args.end(), "--batch") - args.begin() + 1] = "10";
  args[std::find(args.begin(), args.end(), "--out") - args.begin() + 1] = dir / "ten";
  ASSERT_EQ(run(tm.model, args).code, 0);
  EXPECT_EQ(readBytes(dir / "big/weights/W.npy"), readBytes(dir / "ten/weights/W.npy"));
}

TEST_F(CliTest, ResumedRunEndsOnTheSameBytes) {
  std::vector<std::string> whole = trainArgs("whole");
  whole[std::find(whole.begin(), whole.end(), "--epochs") - whole.begin() + 1] = "4";
  ASSERT_EQ(run(tm.model, whole).code, 0);
  // The first two epochs, checkpointed, then the rest from the checkpoint.
  std::vector<std::string> part = trainArgs("part");
  part.insert(part.end(), {"--checkpoint-every", "2"});
  Outcome o = run(tm.model, part);
  ASSERT_EQ(o.code, 0) << o.err;
  ASSERT_TRUE(std::filesystem::exists(dir / "part/checkpoint/checkpoint.bdlckpt"));
  o = run(tm.model, {"train", "--resume", dir / "part", "--epochs", "4"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("resuming from " + dir / "part/checkpoint/checkpoint.bdlckpt" +
                               " after epoch 2"));
  EXPECT_THAT(o.out, ::testing::Not(HasSubstr("epoch 2/4")));
  EXPECT_THAT(o.out, HasSubstr("epoch 3/4"));
  EXPECT_EQ(readBytes(dir / "part/weights/W.npy"), readBytes(dir / "whole/weights/W.npy"));
  EXPECT_EQ(readBytes(dir / "part/weights/b.npy"), readBytes(dir / "whole/weights/b.npy"));
  std::vector<std::string> csv = lines(dir / "part/metrics.csv");
  ASSERT_EQ(csv.size(), 5u);
  for (int e = 1; e <= 4; ++e)
    EXPECT_THAT(csv[size_t(e)], ::testing::StartsWith(std::to_string(e) + ","));
  EXPECT_EQ(lines(dir / "part/log.jsonl").size(), 4u);
  std::ifstream in(dir / "part/summary.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_EQ(s["epochs_completed"], 4);
  EXPECT_EQ(s["resumed_from_epoch"], 2);
  EXPECT_EQ(s["test_accuracy"],
            nlohmann::json::parse(std::ifstream(dir / "whole/summary.json")).at("test_accuracy"));
}

TEST_F(CliTest, ResumeKeepsTheRunsSettings) {
  std::vector<std::string> args = trainArgs("ck");
  args.insert(args.end(), {"--checkpoint-every", "1", "--set", "lr=0.25"});
  ASSERT_EQ(run(tm.model, args).code, 0);
  std::string ck = dir / "ck";
  for (auto [flag, value, theirs] :
       {std::tuple{"--batch", "16", "--batch differs from the checkpoint's 32"},
        std::tuple{"--seed", "1", "--seed differs from the checkpoint's 0"},
        std::tuple{"--validation", "5", "--validation differs from the checkpoint's 0"},
        std::tuple{"--limit", "50", "--limit differs from the checkpoint's none"},
        std::tuple{"--set", "lr=0.5", "--set lr=0.5 differs from the checkpoint's lr = 0.25"},
        std::tuple{"--out", "elsewhere", "--out: a resumed run writes into the directory it"},
        std::tuple{"--epochs", "1", "--epochs 1: the checkpoint has already done 2"}}) {
    Outcome o = run(tm.model, {"train", "--resume", ck, flag, value});
    EXPECT_EQ(o.code, 2) << flag;
    EXPECT_THAT(o.err, HasSubstr(theirs));
  }
  // Agreeing with the checkpoint is fine; so is an environment change.
  Outcome o = run(tm.model, {"train", "--resume", ck, "--set", "lr=0.25", "--batch", "32",
                             "--threads", "2", "--epochs", "3", "--quiet"});
  EXPECT_EQ(o.code, 0) << o.err;

  o = run(tm.model, {"train", "--resume", dir / "nothing"});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr(dir / "nothing/checkpoint/checkpoint.bdlckpt" +
                               ": no checkpoint to resume from"));
  TinyModel other(784, 10, /*evalLoss=*/false);
  o = run(other.model, {"train", "--resume", ck});
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("a checkpoint resumes only the model that wrote it"));
  o = run(tm.model, {"train", "--data-dir", dir / "mnist", "--checkpoint-every", "1"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--checkpoint-every needs --out DIR"));
}

TEST_F(CliTest, DivergenceKeepsTheLastGoodCheckpoint) {
  // W learns at rate 3e38 * epoch: nothing in epoch 1, then it overflows.
  TinyModel late(784, 10);
  late.learnOps[1].alphaSlot = BDL_HP_EPOCH;
  late.learnOps[1].alpha = -3e38f;
  std::vector<std::string> args = trainArgs("div");
  args.insert(args.end(), {"--checkpoint-every", "1"});
  Outcome o = run(late.model, args);
  EXPECT_EQ(o.code, 3);
  EXPECT_THAT(o.err, HasSubstr("diverged at epoch 2 batch "));
  EXPECT_THAT(o.err, HasSubstr("weight 'W' is not finite"));
  std::ifstream in(dir / "div/summary.json");
  nlohmann::json s = nlohmann::json::parse(in);
  EXPECT_THAT(s["error"].get<std::string>(), HasSubstr("diverged at epoch 2 batch "));
  EXPECT_EQ(s["epochs_completed"], 1);
  LoadedCheckpoint ck = readCheckpoint(dir / "div/checkpoint/checkpoint.bdlckpt", late.model);
  EXPECT_EQ(ck.state.epoch, 1);
  for (const std::vector<float> &values : ck.tensors)
    EXPECT_TRUE(allFinite(values.data(), values.size()));
}
