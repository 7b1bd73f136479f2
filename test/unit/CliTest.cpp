//===- CliTest.cpp - net train|eval|info as a user runs them --------------===//

#include "bdl/cli.h"
#include "TestUtil.h"
#include "TinyModel.h"
#include "bdl/npy.h"

#include <cstdio>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
