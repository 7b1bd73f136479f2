//===- CliTest.cpp - net train|eval|info as a user runs them --------------===//

#include "bdl/cli.h"
#include "DynModel.h"
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

namespace {

/// The dynamic model (drawn phase lengths, state, spike history, replay).
class DynCliTest : public CliTest {
protected:
  std::vector<std::string> dynArgs(const std::string &out) {
    return {"train", "--dataset", "mnist",   "--data-dir", dir / "mnist", "--epochs",
            "2",     "--batch",   "1",       "--limit",    "12",          "--threads",
            "1",     "--out",     dir / out, "--quiet"};
  }
  DynModel dm{784, 10};
};

/// Replaces the value of `flag` in `args`.
void setArg(std::vector<std::string> &args, const std::string &flag, const std::string &value) {
  args[size_t(std::find(args.begin(), args.end(), flag) - args.begin() + 1)] = value;
}

nlohmann::json readJson(const std::string &path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

} // namespace

TEST_F(DynCliTest, ResumedSpikingRunEndsOnTheSameBytes) {
  std::vector<std::string> whole = dynArgs("whole");
  setArg(whole, "--epochs", "3");
  Outcome o = run(dm.model, whole);
  ASSERT_EQ(o.code, 0) << o.err;
  std::vector<std::string> part = dynArgs("part");
  part.insert(part.end(), {"--checkpoint-every", "1"});
  ASSERT_EQ(run(dm.model, part).code, 0);
  LoadedCheckpoint ck = readCheckpoint(dir / "part/checkpoint/checkpoint.bdlckpt", dm.model);
  EXPECT_EQ(ck.state.nextExample, 2 * 12);
  EXPECT_EQ(ck.state.time, 6); // after the evaluation: 5 test steps and the loss
  o = run(dm.model, {"train", "--resume", dir / "part", "--epochs", "3", "--quiet"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(readBytes(dir / "part/weights/W.npy"), readBytes(dir / "whole/weights/W.npy"));
  EXPECT_EQ(readJson(dir / "part/summary.json")["test_accuracy"],
            readJson(dir / "whole/summary.json")["test_accuracy"]);
}

TEST_F(DynCliTest, TraceRecordsEveryStepOfTheFirstExamples) {
  std::vector<std::string> args = dynArgs("t");
  args.insert(args.end(), {"--trace", "out.u,out.s0", "--trace", "ctx", "--trace-examples", "2",
                           "--no-shuffle"});
  Outcome o = run(dm.model, args);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(readJson(dir / "t/summary.json")["shuffle"], false);
  nlohmann::json t = readJson(dir / "t/trace/trace.json");
  EXPECT_EQ(t["batch"], 1);
  ASSERT_EQ(t["examples"].size(), 2u);
  EXPECT_EQ(t["examples"][0]["index"], 0); // file order
  EXPECT_EQ(t["examples"][1]["index"], 1);
  EXPECT_EQ(t["examples"][1]["sequence"], 1);
  // Per example: a forward phase of drawn length, then one learning step.
  ASSERT_EQ(t["blocks"].size(), 4u);
  int64_t steps = t["steps"].get<int64_t>(), at = 0;
  for (const nlohmann::json &b : t["blocks"]) {
    EXPECT_EQ(b["first_step"], at);
    at += b["length"].get<int64_t>();
  }
  EXPECT_EQ(at, steps);
  EXPECT_EQ(t["blocks"][0]["name"], "forward");
  EXPECT_EQ(t["blocks"][1]["name"], "learn");
  EXPECT_EQ(t["blocks"][1]["length"], 1);
  int64_t forward = t["blocks"][0]["length"].get<int64_t>();
  EXPECT_GE(forward, 3);
  EXPECT_LE(forward, 12);

  NpyArray u = readNpy(dir / "t/trace/out.u.npy"); // the dot stays in the name
  EXPECT_EQ(u.shape, (std::vector<int64_t>{steps, 10}));
  EXPECT_EQ(t["tensors"][0]["rows"], "row 0 (batch 1)");
  NpyArray c = readNpy(dir / "t/trace/ctx.npy");
  EXPECT_EQ(c.shape, (std::vector<int64_t>{steps, 8}));
  for (int64_t s = 0; s < forward; ++s) {
    EXPECT_EQ(c.data[size_t(s * 8 + 2)], float(s)) << "time at step " << s;
    EXPECT_EQ(c.data[size_t(s * 8 + 3)], float(s)) << "step";
    EXPECT_EQ(c.data[size_t(s * 8 + 4)], float(forward)) << "steps";
  }

  o = run(dm.model, {"train", "--data-dir", dir / "mnist", "--trace", "nope", "--out", dir / "x"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--trace: model 'dyn' has no tensor 'nope'; valid names: x, y, W, "
                               "out.u, out.s0"));
  o = run(dm.model, {"train", "--data-dir", dir / "mnist", "--trace", "W"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--trace needs --trace-dir DIR or --out DIR"));
}

TEST_F(DynCliTest, ReplayTakesRecordedSpikes) {
  // Record the spikes of one example, then replay them in a run with
  // another seed: its soma sees the same input spikes, so the first
  // example's trace of the soma is the same.
  std::vector<std::string> args = dynArgs("rec");
  setArg(args, "--limit", "1");
  setArg(args, "--epochs", "1");
  args.insert(args.end(), {"--trace", "out.s0,out.u", "--no-shuffle"});
  ASSERT_EQ(run(dm.model, args).code, 0);
  nlohmann::json t = readJson(dir / "rec/trace/trace.json");
  int64_t forward = t["blocks"][0]["length"].get<int64_t>();
  NpyArray s0 = readNpy(dir / "rec/trace/out.s0.npy");
  // Keep the forward phase's rows (the learning step has no replay op).
  s0.shape = {forward, 10};
  s0.data.resize(size_t(forward * 10));
  writeNpy(dir / "spikes.npy", s0.data.data(), s0.shape);

  std::vector<std::string> again = args;
  setArg(again, "--out", dir / "rep");
  again.insert(again.end(), {"--replay", "out.s0=" + dir / "spikes.npy"});
  Outcome o = run(dm.model, again);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(readBytes(dir / "rep/trace/out.s0.npy"), readBytes(dir / "rec/trace/out.s0.npy"));

  // A longer run needs more rows than the file has.
  std::vector<std::string> longer = again;
  setArg(longer, "--limit", "3");
  o = run(dm.model, longer);
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr(dir / "spikes.npy" + ": ran out of recorded steps"));
  std::vector<float> wide(20, 0.0f);
  writeNpy(dir / "wide.npy", wide.data(), {1, 20});
  again.back() = "out.s0=" + dir / "wide.npy";
  o = run(dm.model, again);
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("20 values per step, but tensor 'out.s0' has 10 per example"));
  again.back() = "out.u=" + dir / "spikes.npy";
  o = run(dm.model, again);
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("no REPLAY op of the train blocks writes 'out.u'"));
  again.back() = "out.s0=" + dir / "spikes.npy";
  setArg(again, "--batch", "2");
  setArg(again, "--limit", "4");
  o = run(dm.model, again);
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("--replay needs --batch 1"));
}

TEST_F(DynCliTest, LoadStartsFromGivenTensors) {
  std::filesystem::create_directories(dir / "init");
  std::vector<float> w(10 * 784, 0.0f), u(10, 0.5f);
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(i % 7) * 0.001f;
  writeNpy(dir / "init/W.npy", w.data(), {10, 784});
  // A float64 column vector, as the reference writes them, for the state.
  {
    std::string header = npyHeader({10, 1});
    size_t at = header.find("<f4");
    header[at + 2] = '8';
    std::ofstream out(dir / "init/out.u.npy", std::ios::binary);
    out << header;
    for (float v : u) {
      double d = v;
      out.write(reinterpret_cast<const char *>(&d), sizeof d);
    }
  }
  std::vector<std::string> args = dynArgs("l");
  args.erase(std::find(args.begin(), args.end(), "--quiet"));
  setArg(args, "--limit", "1");
  setArg(args, "--epochs", "1");
  args.insert(args.end(), {"--load", dir / "init", "--trace", "out.u"});
  Outcome o = run(dm.model, args);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("loaded from " + dir / "init" + ": W out.u"));
  // The same run from a zero soma: the first step differs by tau * 0.5.
  std::filesystem::create_directories(dir / "onlyW");
  writeNpy(dir / "onlyW/W.npy", w.data(), {10, 784});
  std::vector<std::string> zero = args;
  setArg(zero, "--load", dir / "onlyW");
  setArg(zero, "--out", dir / "z");
  o = run(dm.model, zero);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("loaded from " + dir / "onlyW" + ": W\n"));
  NpyArray withU = readNpy(dir / "l/trace/out.u.npy"),
           withoutU = readNpy(dir / "z/trace/out.u.npy");
  ASSERT_GE(withU.data.size(), 10u);
  for (size_t k = 0; k < 10; ++k)
    EXPECT_NEAR(withU.data[k] - withoutU.data[k], 0.25f, 1e-5f) << k;

  writeNpy(dir / "init/W.npy", w.data(), {784, 10});
  o = run(dm.model, args);
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr(dir / "init/W.npy" + ": shape (784, 10) does not fit weight "
                                                    "tensor 'W' of shape (10, 784)"));
  std::filesystem::create_directories(dir / "empty");
  setArg(args, "--load", dir / "empty");
  o = run(dm.model, args);
  EXPECT_EQ(o.code, 1);
  EXPECT_THAT(o.err, HasSubstr("no file NAME.npy for any tensor of model 'dyn'"));
}

TEST_F(DynCliTest, InfoShowsDynamicsAndDerivedParameters) {
  Outcome o = run(dm.model, {"info", "--set", "tau=0.25"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("gain                 real 0.5          (derived)"));
  EXPECT_THAT(o.out, HasSubstr("forward  (steps drawn per batch, 5 ops, 2 prologue ops)"));
  EXPECT_THAT(o.out, HasSubstr("test  (5 steps, 5 ops, 2 prologue ops, resets state)"));
  EXPECT_THAT(o.out, HasSubstr("rotate  rotate_spikes            out.s0 .. out.s2 (3 tensors"));
  EXPECT_THAT(o.out, HasSubstr("replay  replay_spikes            out.s0"));
  o = run(dm.model, {"info", "--set", "gain=2"});
  EXPECT_EQ(o.code, 2);
  EXPECT_THAT(o.err, HasSubstr("parameter 'gain' is derived"));
}
