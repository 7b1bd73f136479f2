//===- cli/Options.h - What the command line asks for -----------*- C++ -*-===//
//
// The options of every command (Cli.cpp parses them) and what the commands
// share: the model instance with the --set params applied, the dataset.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CLI_OPTIONS_H
#define BDL_CLI_OPTIONS_H

#include "bdl/data.h"
#include "bdl/model.h"
#include "tune/Tuner.h"

#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace bdl::cli {

struct Options {
  std::string dataset;
  std::string dataDir;
  int epochs = 10;
  int64_t batch = 100;
  uint64_t seed = 0;
  int threads = 1;
  std::vector<std::string> sets;
  std::string out;
  int64_t validation = 0;
  int warmup = 0; // epochs without the `after warmup` blocks
  int64_t limit = 0;
  int64_t testLimit = 0; // evaluate on the first N test examples only
  std::string weights;
  bool quiet = false;
  int checkpointEvery = 0;
  std::string resume;
  bool noShuffle = false;
  int64_t monitorEvery = 0; // 0: sampled (kDefaultMonitorEvery), no monitors.csv
  bool noMonitors = false;
  bool profile = false;           // --profile: DIR/profile.csv
  std::string load;               // --load DIR
  std::vector<std::string> trace; // --trace NAME,NAME,...
  int64_t traceExamples = 1;
  std::string traceDir;
  std::vector<std::string> replays; // --replay NAME=FILE.npy
  std::string device = "cpu";       // --device cpu|cuda|cuda:N
  double tolerance = 1e-5;          // selftest
  tune::TuneOptions tune;           // tune's own options
  std::string strategy = "gp";
  std::string objective; // --objective; empty: the model's
  bool printSpace = false;
  std::set<std::string> given; // the options typed, e.g. "--batch"
};

/// Parameters first (they may size tensors), then everything that needs
/// the final shapes.
inline ModelInstance makeInstance(const BdlModel &model, const Options &o) {
  ModelInstance inst(model);
  for (const std::string &s : o.sets)
    inst.applyAssignment(s);
  return inst;
}

struct LoadedData {
  std::string name, dir;
  TrainTest sets;
};

inline LoadedData loadData(const Options &o) {
  LoadedData d;
  d.name = o.dataset;
  d.dir = o.dataDir.empty() ? defaultDataDir(d.name) : o.dataDir;
  d.sets = loadDataset(d.name, d.dir);
  return d;
}

/// The shortest text that reads back as `v`: 0.005, not 0.005000.
inline std::string shortest(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

/// `net train`: a new run, or with --resume one continued from its
/// checkpoint (cli/Train.cpp).
int runTrain(const BdlModel &model, const Options &typed);

} // namespace bdl::cli

#endif // BDL_CLI_OPTIONS_H
