//===- PlotTest.cpp - The readers behind net plot -------------------------===//
//
// The figures themselves are checked by test/Plot/ (they need gnuplot);
// these are the inputs they are drawn from.
//
//===----------------------------------------------------------------------===//

#include "bdl/plot.h"
#include "ErrorMatch.h"
#include "TestUtil.h"

#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

std::string writeText(const TempDir &dir, const std::string &name, const std::string &text) {
  std::string path = dir / name;
  std::ofstream(path) << text;
  return path;
}

} // namespace

TEST(Plot, MetricsCsvKeepsEmptyFieldsAsMissing) {
  TempDir dir;
  std::string path = writeText(dir, "metrics.csv",
                               "epoch,train_loss,val_accuracy,test_accuracy\n"
                               "1,0.9,,0.7\n"
                               "2,0.5,,\n");
  MetricsTable t = readMetricsCsv(path);
  ASSERT_EQ(t.columns.size(), 4u);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.column("test_accuracy"), 3);
  EXPECT_EQ(t.column("nosuch"), -1);
  EXPECT_EQ(t.rows[1][1], 0.5);
  EXPECT_FALSE(t.rows[1][3]); // a trailing empty field is a field
  EXPECT_TRUE(t.hasValues(3));
  EXPECT_FALSE(t.hasValues(2));
}

TEST(Plot, MetricsCsvErrorsNameFileAndLine) {
  TempDir dir;
  std::string path = writeText(dir, "a.csv", "epoch,loss\n1,x\n");
  EXPECT_THAT(errorOf([&] { readMetricsCsv(path); }), HasSubstr("a.csv:2: loss is 'x'"));
  path = writeText(dir, "b.csv", "epoch,loss\n1,2,3\n");
  EXPECT_THAT(errorOf([&] { readMetricsCsv(path); }), HasSubstr("b.csv:2: 3 fields"));
  path = writeText(dir, "c.csv", "");
  EXPECT_THAT(errorOf([&] { readMetricsCsv(path); }), HasSubstr("c.csv: empty"));
  EXPECT_THAT(errorOf([&] { readMetricsCsv(dir / "none.csv"); }),
              HasSubstr("none.csv: cannot open"));
}

TEST(Plot, TuneLogSkipsRunningAndSortsByTrial) {
  TempDir dir;
  std::string path = writeText(dir, "log.jsonl",
                               R"({"trial": 2, "status": "running", "objective": null}
{"trial": 1, "status": "ok", "objective": 0.5, "params": {"eta": 0.25, "n": 3}, "folds": [0.4, 0.6]}

{"trial": 2, "status": "failed", "objective": null}
{"trial": 0, "status": "diverged", "objective": null, "maximise": false}
{"trial": 3, "status": "ok", "objective": 0.3}
)");
  TuneLog log = readTuneLog(path);
  ASSERT_EQ(log.trials.size(), 4u);
  EXPECT_FALSE(log.maximise);
  EXPECT_EQ(log.trials[0].trial, 0);
  EXPECT_EQ(log.trials[0].status, "diverged");
  EXPECT_FALSE(log.trials[0].objective);
  EXPECT_EQ(log.trials[1].params, "eta=0.25, n=3");
  EXPECT_EQ(log.trials[1].folds, (std::vector<double>{0.4, 0.6}));
  EXPECT_EQ(log.trials[2].status, "failed");

  std::vector<std::optional<double>> best = bestSoFar(log);
  ASSERT_EQ(best.size(), 4u);
  EXPECT_FALSE(best[0]);
  EXPECT_EQ(best[1], 0.5);
  EXPECT_EQ(best[2], 0.5);
  EXPECT_EQ(best[3], 0.3); // minimising
  log.maximise = true;
  EXPECT_EQ(bestSoFar(log)[3], 0.5);
}

TEST(Plot, TuneLogErrors) {
  TempDir dir;
  std::string path = writeText(dir, "a.jsonl", "{\"status\": \"ok\", \"objective\": 1}\n{oops\n");
  EXPECT_THAT(errorOf([&] { readTuneLog(path); }), HasSubstr("a.jsonl:2: not JSON"));
  path = writeText(dir, "b.jsonl", "{\"status\": \"done\"}\n");
  EXPECT_THAT(errorOf([&] { readTuneLog(path); }), HasSubstr("b.jsonl:1: unknown status \"done\""));
  path = writeText(dir, "c.jsonl", "{\"trial\": 0, \"status\": \"running\"}\n");
  EXPECT_THAT(errorOf([&] { readTuneLog(path); }), HasSubstr("c.jsonl: no finished trial"));
}
