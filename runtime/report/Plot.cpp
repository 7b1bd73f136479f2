//===- report/Plot.cpp - net plot: curves, compare and tune ---------------===//

#include "bdl/plot.h"
#include "Gnuplot.h"
#include "bdl/error.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace bdl {

namespace fs = std::filesystem;
using nlohmann::json;

//===----------------------------------------------------------------------===//
// metrics.csv
//===----------------------------------------------------------------------===//

int MetricsTable::column(const std::string &name) const {
  auto it = std::find(columns.begin(), columns.end(), name);
  return it == columns.end() ? -1 : int(it - columns.begin());
}

bool MetricsTable::hasValues(int c) const {
  return std::any_of(rows.begin(), rows.end(), [&](const auto &row) { return bool(row[c]); });
}

static std::vector<std::string> splitCsv(const std::string &line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string f;
  while (std::getline(in, f, ','))
    fields.push_back(f);
  if (!line.empty() && line.back() == ',')
    fields.emplace_back();
  return fields;
}

MetricsTable readMetricsCsv(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    throw Error(path + ": cannot open: " + std::strerror(errno) +
                " (a training run's --out DIR holds metrics.csv)");
  MetricsTable t;
  std::string line;
  if (!std::getline(in, line) || line.empty())
    throw Error(path + ": empty, expected a header line such as epoch,train_loss,...");
  if (line.back() == '\r')
    line.pop_back();
  t.columns = splitCsv(line);
  for (const std::string &c : t.columns)
    if (c.empty() || std::isdigit(static_cast<unsigned char>(c[0])) || c[0] == '-')
      throw Error(path + ":1: the header has no column name '" + c +
                  "'; expected names such as epoch,train_loss,...");
  for (int lineNo = 2; std::getline(in, line); ++lineNo) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    std::vector<std::string> fields = splitCsv(line);
    if (fields.size() != t.columns.size())
      throw Error(path + ":" + std::to_string(lineNo) + ": " + std::to_string(fields.size()) +
                  " fields, the header has " + std::to_string(t.columns.size()));
    std::vector<std::optional<double>> row;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].empty()) {
        row.emplace_back();
        continue;
      }
      char *end = nullptr;
      double v = std::strtod(fields[i].c_str(), &end);
      if (end == fields[i].c_str() || *end != '\0')
        throw Error(path + ":" + std::to_string(lineNo) + ": " + t.columns[i] + " is '" +
                    fields[i] + "', not a number");
      row.push_back(v);
    }
    t.rows.push_back(std::move(row));
  }
  if (t.rows.empty())
    throw Error(path + ": no epochs yet (only the header)");
  return t;
}

static std::string metricsPath(const std::string &runDir) {
  std::error_code ec;
  if (fs::is_regular_file(runDir, ec)) // the CSV itself
    return runDir;
  if (!fs::is_directory(runDir, ec))
    throw Error(runDir + ": no such run directory");
  return (fs::path(runDir) / "metrics.csv").string();
}

/// How a column reads in a legend or on an axis.
static std::string displayName(const std::string &column) {
  if (column == "val_accuracy")
    return "validation accuracy";
  std::string s = column;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

/// A column of metrics.csv from what people type: test_acc, loss, ...
static std::string metricColumn(const std::string &metric) {
  std::string m = metric;
  if (m == "loss")
    return "train_loss";
  if (m == "validation_accuracy" || m == "val_acc" || m == "validation_acc")
    return "val_accuracy";
  if (m.size() > 4 && m.compare(m.size() - 4, 4, "_acc") == 0)
    m += "uracy";
  return m;
}

/// The epoch of each row: the epoch column, or the row's number.
static std::vector<double> epochs(const MetricsTable &t) {
  int e = t.column("epoch");
  std::vector<double> x;
  for (size_t i = 0; i < t.rows.size(); ++i)
    x.push_back(e >= 0 && t.rows[i][size_t(e)] ? *t.rows[i][size_t(e)] : double(i + 1));
  return x;
}

/// Lines for many epochs, points as well where there are few to see.
static std::string curveStyle(size_t points) {
  return points <= 40 ? "with linespoints lw 2 pt 7 ps 0.8" : "with lines lw 2";
}

/// One colour per split, the same on the loss and the accuracy panel.
static std::string splitColour(const std::string &column) {
  auto starts = [&](const char *prefix) { return column.rfind(prefix, 0) == 0; };
  if (starts("train"))
    return " lc rgb '#1f6fb4'";
  if (starts("val"))
    return " lc rgb '#e07b00'";
  if (starts("test"))
    return " lc rgb '#2a9d3c'";
  return "";
}

static std::string xAxis(double first, double last) {
  std::string s = "set xlabel 'epoch'\nset xrange " +
                  plot::Range{first, last}.text(last > first ? 0.02 : 0.5) + "\n";
  // Whole epochs only: gnuplot would put tics at 1.5 on a short run.
  if (last - first <= 20)
    s += "set xtics 1\n";
  s += "set format x '%.0f'\n";
  return s;
}

//===----------------------------------------------------------------------===//
// curves and compare
//===----------------------------------------------------------------------===//

static void plotCurves(const PlotRequest &r) {
  std::string csv = metricsPath(r.inputs.at(0));
  MetricsTable t = readMetricsCsv(csv);
  std::vector<double> x = epochs(t);
  std::vector<int> losses, accuracies;
  for (int c = 0; c < int(t.columns.size()); ++c) {
    if (!t.hasValues(c))
      continue;
    if (t.columns[c].find("loss") != std::string::npos)
      losses.push_back(c);
    else if (t.columns[c].find("acc") != std::string::npos)
      accuracies.push_back(c);
  }
  if (losses.empty() && accuracies.empty())
    throw Error(csv + ": no loss or accuracy column has a value (columns: " + [&] {
      std::string s;
      for (const std::string &c : t.columns)
        s += (s.empty() ? "" : ",") + c;
      return s;
    }() + ")");
  plot::Gnuplot gp(r);
  std::string script = gp.terminal({1000, 600});
  std::string title =
      !r.title.empty() ? r.title : "Learning curves: " + plot::baseName(r.inputs[0]);
  int panels = int(!losses.empty()) + int(!accuracies.empty());
  script += "set multiplot layout 1," + std::to_string(panels) + " title " + plot::quote(title) +
            " font ',14'\n";
  script += xAxis(x.front(), x.back());
  auto panel = [&](const std::vector<int> &cols, const std::string &ylabel, const char *key) {
    plot::Range y;
    std::string plots;
    for (int c : cols) {
      std::string text;
      for (size_t i = 0; i < t.rows.size(); ++i) {
        const std::optional<double> &v = t.rows[i][size_t(c)];
        text += plot::num(x[i]) + " " + (v ? plot::num(*v) : "NaN") + "\n";
        if (v)
          y.add(*v);
      }
      std::string file = gp.data(t.columns[c] + ".dat", text);
      plots += std::string(plots.empty() ? "plot " : ", \\\n     ") + file + " using 1:2 " +
               curveStyle(t.rows.size()) + splitColour(t.columns[c]) + " title " +
               plot::quote(displayName(t.columns[c]));
    }
    bool accuracy = ylabel == "accuracy";
    script += "set ylabel " + plot::quote(ylabel) + "\nset yrange " +
              (accuracy ? y.text(0.08, 0, 1) : y.text(0.08)) + "\nset key " + key + "\n" + plots +
              "\n";
  };
  if (!losses.empty())
    panel(losses, "loss", "top right");
  if (!accuracies.empty())
    panel(accuracies, "accuracy", "bottom right");
  script += "unset multiplot\n";
  gp.run(script);
}

static void plotCompare(const PlotRequest &r) {
  if (!r.labels.empty() && r.labels.size() != r.inputs.size())
    throw UsageError("--label gives " + std::to_string(r.labels.size()) + " names for " +
                     std::to_string(r.inputs.size()) + " runs");
  std::string column = metricColumn(r.metric);
  std::vector<std::string> names;
  for (size_t i = 0; i < r.inputs.size(); ++i)
    names.push_back(r.labels.empty() ? plot::baseName(r.inputs[i]) : r.labels[i]);
  // Runs kept as runs/a/out and runs/b/out would share a legend entry.
  if (r.labels.empty() && std::set<std::string>(names.begin(), names.end()).size() < names.size())
    names = r.inputs;

  struct Run {
    std::vector<double> x;
    std::vector<std::optional<double>> y;
  };
  std::vector<Run> runs;
  plot::Range y;
  double first = std::numeric_limits<double>::infinity(), last = -first;
  size_t most = 0;
  for (const std::string &dir : r.inputs) {
    std::string csv = metricsPath(dir);
    MetricsTable t = readMetricsCsv(csv);
    int c = t.column(column);
    if (c < 0) {
      std::string cols;
      for (const std::string &name : t.columns)
        if (name != "epoch")
          cols += (cols.empty() ? "" : ", ") + name;
      throw UsageError("--metric " + r.metric + ": " + csv + " has no column " + column +
                       " (it has " + cols + ")");
    }
    if (!t.hasValues(c))
      throw Error(csv + ": no epoch has a value for " + column);
    Run run{epochs(t), {}};
    for (const auto &row : t.rows) {
      run.y.push_back(row[size_t(c)]);
      if (row[size_t(c)])
        y.add(*row[size_t(c)]);
    }
    first = std::min(first, run.x.front());
    last = std::max(last, run.x.back());
    most = std::max(most, run.x.size());
    runs.push_back(std::move(run));
  }
  plot::Gnuplot gp(r);
  std::string script = gp.terminal({1000, 600});
  std::string title = !r.title.empty() ? r.title : displayName(column) + " by epoch";
  script += "set title " + plot::quote(title) + " font ',14'\n" + xAxis(first, last) +
            "set ylabel " + plot::quote(displayName(column)) + "\nset yrange " +
            (column.find("acc") != std::string::npos ? y.text(0.08, 0, 1) : y.text(0.08)) + "\n";
  // Accuracy rises and loss falls: the key goes where the curves are not.
  bool loss = column.find("loss") != std::string::npos;
  script += runs.size() > 8 ? "set key outside right top\n"
                            : std::string("set key ") + (loss ? "top" : "bottom") + " right\n";
  std::string plots;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::string text;
    for (size_t k = 0; k < runs[i].x.size(); ++k)
      text +=
          plot::num(runs[i].x[k]) + " " + (runs[i].y[k] ? plot::num(*runs[i].y[k]) : "NaN") + "\n";
    std::string file = gp.data("run" + std::to_string(i) + ".dat", text);
    plots += std::string(plots.empty() ? "plot " : ", \\\n     ") + file + " using 1:2 " +
             curveStyle(most) + " title " + plot::quote(names[i]);
  }
  gp.run(script + plots + "\n");
}

//===----------------------------------------------------------------------===//
// tune
//===----------------------------------------------------------------------===//

static std::string paramsText(const json &params) {
  std::string s;
  if (!params.is_object())
    return s;
  for (auto it = params.begin(); it != params.end(); ++it) {
    std::string v =
        it.value().is_number_float() ? plot::num(it.value().get<double>()) : it.value().dump();
    s += (s.empty() ? "" : ", ") + it.key() + "=" + v;
  }
  return s;
}

TuneLog readTuneLog(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    throw Error(path + ": cannot open: " + std::strerror(errno) +
                " (net tune writes this JSON-lines log)");
  TuneLog log;
  bool maximiseSeen = false;
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = path + ":" + std::to_string(lineNo) + ": ";
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception &e) {
      throw Error(where + "not JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains("status") || !j["status"].is_string())
      throw Error(where + "a trial needs a \"status\" (ok, failed, diverged or running)");
    TuneTrial t;
    t.status = j["status"].get<std::string>();
    if (t.status == "running") // not final: a later line reports it
      continue;
    if (t.status != "ok" && t.status != "failed" && t.status != "diverged")
      throw Error(where + "unknown status \"" + t.status + "\" (ok, failed, diverged or running)");
    t.trial = j.contains("trial") && j["trial"].is_number_integer() ? j["trial"].get<int64_t>()
                                                                    : int64_t(log.trials.size());
    if (t.status == "ok") {
      if (!j.contains("objective") || !j["objective"].is_number())
        throw Error(where + "an ok trial needs a numeric \"objective\"");
      t.objective = j["objective"].get<double>();
    }
    if (j.contains("folds") && j["folds"].is_array())
      for (const json &f : j["folds"])
        if (f.is_number())
          t.folds.push_back(f.get<double>());
    if (j.contains("params"))
      t.params = paramsText(j["params"]);
    if (!maximiseSeen && j.contains("maximise") && j["maximise"].is_boolean()) {
      log.maximise = j["maximise"].get<bool>();
      maximiseSeen = true;
    }
    log.trials.push_back(std::move(t));
  }
  if (log.trials.empty())
    throw Error(path + ": no finished trial (every line, if any, is still running)");
  std::stable_sort(log.trials.begin(), log.trials.end(),
                   [](const TuneTrial &a, const TuneTrial &b) { return a.trial < b.trial; });
  return log;
}

std::vector<std::optional<double>> bestSoFar(const TuneLog &log) {
  std::vector<std::optional<double>> best;
  std::optional<double> b;
  for (const TuneTrial &t : log.trials) {
    if (t.objective && (!b || (log.maximise ? *t.objective > *b : *t.objective < *b)))
      b = t.objective;
    best.push_back(b);
  }
  return best;
}

static void plotTune(const PlotRequest &r) {
  const std::string &path = r.inputs.at(0);
  TuneLog log = readTuneLog(path);
  std::vector<std::optional<double>> best = bestSoFar(log);
  plot::Range y;
  int ok = 0;
  const TuneTrial *bestTrial = nullptr;
  for (size_t i = 0; i < log.trials.size(); ++i) {
    const TuneTrial &t = log.trials[i];
    if (!t.objective)
      continue;
    ++ok;
    y.add(*t.objective);
    for (double f : t.folds)
      y.add(f);
    if (best[i] == t.objective && (!bestTrial || *t.objective != *bestTrial->objective))
      bestTrial = &t;
  }
  // Failed trials have no objective: they sit in a band below the data.
  double span = y.empty() ? 1 : std::max(y.hi - y.lo, std::fabs(y.hi) * 0.1 + 1e-9);
  double failY = y.empty() ? 0 : y.lo - 0.1 * span;
  plot::Range yr = y;
  yr.add(failY);
  if (y.empty())
    yr.add(1);

  std::string okText, foldText, bestText, failedText, divergedText;
  for (size_t i = 0; i < log.trials.size(); ++i) {
    const TuneTrial &t = log.trials[i];
    std::string x = std::to_string(t.trial);
    if (t.objective) {
      okText += x + " " + plot::num(*t.objective) + "\n";
      if (t.folds.size() > 1)
        foldText += x + " " + plot::num(*t.objective) + " " +
                    plot::num(*std::min_element(t.folds.begin(), t.folds.end())) + " " +
                    plot::num(*std::max_element(t.folds.begin(), t.folds.end())) + "\n";
    } else {
      (t.status == "diverged" ? divergedText : failedText) += x + " " + plot::num(failY) + "\n";
    }
    if (best[i]) // on to the last trial, even one that failed
      bestText += x + " " + plot::num(*best[i]) + "\n";
  }
  int failed = int(log.trials.size()) - ok;
  plot::Gnuplot gp(r);
  std::string script = gp.terminal({1000, 600});
  std::string title = !r.title.empty() ? r.title
                                       : "Tuning trace: " + plot::baseName(path) + " (" +
                                             std::to_string(log.trials.size()) + " trials, " +
                                             std::to_string(failed) + " failed or diverged)";
  script += "set title " + plot::quote(title) + " font ',14'\n";
  script += "set xlabel 'trial'\nset ylabel " +
            plot::quote(std::string("objective (") + (log.maximise ? "higher" : "lower") +
                        " is better)") +
            "\n";
  double x0 = double(log.trials.front().trial), x1 = double(log.trials.back().trial);
  script += "set xrange " + plot::Range{x0, x1}.text(x1 > x0 ? 0.03 : 0.5) + "\n";
  script += "set yrange " + yr.text(0.06) + "\n";
  if (x1 - x0 <= 25)
    script += "set xtics 1\n";
  script += "set format x '%.0f'\n";
  // Below the axes, where no trial can be; gnuplot's box there would
  // cover the x label.
  script += "set key below horizontal nobox\n";
  std::string plots;
  auto add = [&](const std::string &name, const std::string &text, const std::string &how) {
    if (text.empty())
      return;
    plots += std::string(plots.empty() ? "plot " : ", \\\n     ") + gp.data(name, text) + " " + how;
  };
  add("folds.dat", foldText,
      "using 1:2:3:4 with yerrorbars pt -1 lc rgb '#9ab3d5' lw 1.5 "
      "title 'range over folds'");
  add("best.dat", bestText, "using 1:2 with steps lw 2.5 lc rgb '#2a9d3c' title 'best so far'");
  add("ok.dat", okText,
      "using 1:2 with points pt 7 ps 1.2 lc rgb '#1f5fa8' title 'trial (" + std::to_string(ok) +
          " ok)'");
  if (bestTrial) {
    std::string label =
        "best: trial " + std::to_string(bestTrial->trial) + ", " + plot::num(*bestTrial->objective);
    if (!bestTrial->params.empty())
      label += " (" +
               (bestTrial->params.size() > 70 ? bestTrial->params.substr(0, 67) + "..."
                                              : bestTrial->params) +
               ")";
    add("bestpoint.dat",
        std::to_string(bestTrial->trial) + " " + plot::num(*bestTrial->objective) + "\n",
        "using 1:2 with points pt 6 ps 2.6 lw 2 lc rgb '#2a9d3c' title " + plot::quote(label));
  }
  add("failed.dat", failedText,
      "using 1:2 with points pt 2 ps 1.6 lw 2 lc rgb '#c0392b' title 'failed (no objective)'");
  add("diverged.dat", divergedText,
      "using 1:2 with points pt 2 ps 1.6 lw 2 lc rgb '#e67e22' title 'diverged (no objective)'");
  gp.run(script + plots + "\n");
}

//===----------------------------------------------------------------------===//
// The command line
//===----------------------------------------------------------------------===//

CLI::App *addPlotCommand(CLI::App &app, PlotRequest &r) {
  CLI::App *plotCmd = app.add_subcommand(
      "plot", "Draw a run's curves, runs compared, a tuning trace or a --trace with gnuplot");
  plotCmd->require_subcommand(1);
  CLI::App *curves = plotCmd->add_subcommand(
      "curves", "Loss and accuracy per epoch of a run (RUN_DIR/metrics.csv)");
  curves->add_option("run", r.inputs, "The run's --out directory")->required()->expected(1);
  CLI::App *compare =
      plotCmd->add_subcommand("compare", "One metric per epoch of several runs, on one plot");
  compare->add_option("runs", r.inputs, "The runs' --out directories")->required();
  compare
      ->add_option("--metric", r.metric,
                   "A column of metrics.csv: test_accuracy (test_acc), train_accuracy, "
                   "val_accuracy, train_loss (loss), test_loss")
      ->capture_default_str();
  compare->add_option("--label", r.labels, "Legend names, one per run (default: directory names)")
      ->delimiter(',');
  CLI::App *tune = plotCmd->add_subcommand(
      "tune", "Every trial's objective, the failed ones and the best so far (net tune's log)");
  tune->add_option("log", r.inputs, "The tuning log, JSON lines")->required()->expected(1);
  CLI::App *trace = plotCmd->add_subcommand(
      "trace", "Potentials and spike rasters of a train --trace directory, with its phases");
  trace->add_option("dir", r.inputs, "The --trace directory (trace.json), or the run's --out")
      ->required()
      ->expected(1);
  trace->add_option("--tensors", r.tensors, "Which traced tensors, in order (default: all)")
      ->delimiter(',');
  trace->add_option("--units", r.units, "Units drawn as lines for potentials (default: 0-4)")
      ->delimiter(',');
  for (CLI::App *cmd : {curves, compare, tune, trace}) {
    cmd->add_option("-o,--output", r.output, "FILE.png or FILE.svg")->required();
    cmd->add_option("--title", r.title, "Replace the title");
    cmd->add_option("--size", r.size,
                    cmd == trace ? "WIDTHxHEIGHT in pixels (default 1000 wide, 190 per tensor)"
                                 : "WIDTHxHEIGHT in pixels (default 1000x600)");
    cmd->add_option("--keep", r.keep,
                    "Write the gnuplot script and data files to DIR and keep "
                    "them, to edit and rerun (gnuplot DIR/plot.gp)");
    cmd->final_callback([&r, cmd] { r.kind = cmd->get_name(); });
  }
  return plotCmd;
}

int runPlot(const PlotRequest &r) {
  plot::checkOutput(r);
  if (r.kind == "curves")
    plotCurves(r);
  else if (r.kind == "compare")
    plotCompare(r);
  else if (r.kind == "tune")
    plotTune(r);
  else
    plot::plotTrace(r);
  return ExitOk;
}

} // namespace bdl
