//===- bdl/plot.h - net plot: figures of runs, tuning logs, traces -*- C++ -*-===//
//
// The figures a researcher would otherwise draw in a notebook, from the
// files the other subcommands leave behind: learning curves (metrics.csv),
// several runs compared, a tuning trace (net tune's JSON lines) and the
// dynamics of a --trace directory. The inputs are read here; the drawing
// is gnuplot's (a data file per series and a script, in a temporary
// directory), so that the runtime carries no plotting library.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_PLOT_H
#define BDL_PLOT_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace bdl {

/// A parsed `net plot KIND ...` command line.
struct PlotRequest {
  std::string kind;                // curves, compare, tune or trace
  std::vector<std::string> inputs; // run directories, the log, the trace directory
  std::string output;              // FILE.png or FILE.svg
  std::string metric = "test_accuracy";
  std::vector<std::string> labels;  // compare: one per run
  std::vector<std::string> tensors; // trace: which, in this order
  std::vector<int64_t> units;       // trace: the potentials' units
  std::string title;                // replaces the default title
  std::string size;                 // "WxH" in pixels
  std::string keep;                 // keep the data files and script here
};

/// Declares `plot` and its subcommands on `app`, filling `request` when
/// they are parsed; returns the `plot` subcommand.
CLI::App *addPlotCommand(CLI::App &app, PlotRequest &request);

/// Draws the figure; throws Error (a missing or malformed input, named;
/// no gnuplot on PATH) or UsageError. Returns the exit code.
int runPlot(const PlotRequest &request);

/// A metrics.csv: the header's column names and one row per epoch (an
/// empty field is nullopt). Throws Error naming the file and line.
struct MetricsTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<double>>> rows;
  /// Index of the column, or -1.
  int column(const std::string &name) const;
  /// Whether any row has a value in column `c`.
  bool hasValues(int c) const;
};
MetricsTable readMetricsCsv(const std::string &path);

/// One finished trial of a tuning log (lines still "running" are skipped).
struct TuneTrial {
  int64_t trial = 0;
  std::string status;              // ok, failed, diverged
  std::optional<double> objective; // none unless ok
  std::vector<double> folds;
  std::string params; // "eta0=0.1, hidden=500", for the best trial's label
};
struct TuneLog {
  std::vector<TuneTrial> trials; // sorted by trial number
  bool maximise = true;
};
TuneLog readTuneLog(const std::string &path);

/// The best objective among the ok trials up to and including each trial
/// of `log` (nullopt before the first ok one).
std::vector<std::optional<double>> bestSoFar(const TuneLog &log);

} // namespace bdl

#endif // BDL_PLOT_H
