//===- report/Report.cpp - Logs, summaries and console lines --------------===//

#include "bdl/report.h"
#include "MetricsJson.h"
#include "bdl/error.h"
#include "bdl/model.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace bdl {

using nlohmann::json;

static json optionalJson(const std::optional<double> &v) { return v ? json(*v) : json(nullptr); }

static json paramsJson(const ModelInstance &inst) {
  json params = json::object();
  const BdlModel &m = inst.model();
  for (int i = 0; i < m.numParams; ++i) {
    double v = inst.param(i);
    if (m.params[i].type == BDL_PARAM_INT)
      params[m.params[i].name] = int64_t(v);
    else if (m.params[i].type == BDL_PARAM_BOOL)
      params[m.params[i].name] = v != 0;
    else
      params[m.params[i].name] = v;
  }
  return params;
}

static void createDir(const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(dir + ": cannot create directory: " + ec.message());
}

static std::ofstream openOutput(const std::string &path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out)
    throw Error(path + ": cannot create: " + std::strerror(errno));
  return out;
}

static void writeJsonFile(const std::string &path, const json &value) {
  std::ofstream out = openOutput(path);
  out << value.dump(2) << '\n';
  out.close();
  if (!out)
    throw Error(path + ": write error");
}

static std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

static std::string csvField(const std::optional<double> &v, const char *format = "%.6g") {
  return v ? fmt(format, *v) : std::string();
}

/// The monitors in the model's order, for a checkpoint's history.
static json monitorValuesJson(const EpochMetrics &e) {
  json out = json::array();
  for (const std::optional<double> &v : e.monitors)
    out.push_back(optionalJson(v));
  return out;
}

json metricsJson(const EpochMetrics &e) {
  return {{"epoch", e.epoch},
          {"train_loss", optionalJson(e.trainLoss)},
          {"train_accuracy", e.trainAccuracy},
          {"val_accuracy", optionalJson(e.valAccuracy)},
          {"test_loss", optionalJson(e.testLoss)},
          {"test_accuracy", optionalJson(e.testAccuracy)},
          {"seconds", e.seconds},
          {"examples_per_second", e.examplesPerSecond},
          {"monitor_values", monitorValuesJson(e)}};
}

static std::optional<double> optionalField(const json &j, const char *key) {
  const json &v = j.at(key);
  return v.is_null() ? std::nullopt : std::optional<double>(v.get<double>());
}

/// The monitors of an epoch as {name: value or null}.
static json monitorsJson(const BdlModel &m, const EpochMetrics &e) {
  json out = json::object();
  for (int32_t i = 0; i < m.numMonitors; ++i)
    out[m.monitorNames[i]] =
        size_t(i) < e.monitors.size() ? optionalJson(e.monitors[size_t(i)]) : json(nullptr);
  return out;
}

EpochMetrics metricsFromJson(const json &j) {
  EpochMetrics e;
  e.epoch = j.at("epoch").get<int>();
  e.trainLoss = optionalField(j, "train_loss");
  e.trainAccuracy = j.at("train_accuracy").get<double>();
  e.valAccuracy = optionalField(j, "val_accuracy");
  e.testLoss = optionalField(j, "test_loss");
  e.testAccuracy = optionalField(j, "test_accuracy");
  e.seconds = j.at("seconds").get<double>();
  e.examplesPerSecond = j.at("examples_per_second").get<double>();
  if (auto mon = j.find("monitor_values"); mon != j.end())
    for (const json &value : *mon)
      e.monitors.push_back(value.is_null() ? std::nullopt
                                           : std::optional<double>(value.get<double>()));
  return e;
}

RunLog::RunLog(const std::string &outDir, const ModelInstance &instance, const RunInfo &info,
               const std::vector<EpochMetrics> &history)
    : dir(outDir), instance(instance), info(info) {
  createDir(dir);
  csv = openOutput(dir + "/metrics.csv");
  jsonl = openOutput(dir + "/log.jsonl");
  csv << "epoch,train_loss,train_accuracy,val_accuracy,test_loss,test_accuracy,seconds,"
         "examples_per_second";
  const BdlModel &m = instance.model();
  for (int32_t i = 0; i < m.numMonitors; ++i)
    csv << ',' << m.monitorNames[i];
  csv << '\n' << std::flush;
  for (const EpochMetrics &e : history)
    epoch(e);
  if (!history.empty())
    keepMonitorRows(history.back().epoch);
}

void RunLog::keepMonitorRows(int lastEpoch) {
  // A resumed run continues after the checkpoint's epoch: the killed run's
  // rows up to it stay, the ones it wrote after it are computed again.
  std::ifstream in(dir + "/monitors.csv");
  std::string header, line;
  if (!in || !std::getline(in, header))
    return;
  std::vector<std::string> kept;
  while (std::getline(in, line)) {
    int epoch = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), epoch);
    if (ec != std::errc() || end == line.data() + line.size() || *end != ',' || epoch > lastEpoch)
      break;
    kept.push_back(line);
  }
  in.close();
  monitorsCsv = openOutput(dir + "/monitors.csv");
  monitorsCsv << header << '\n';
  for (const std::string &row : kept)
    monitorsCsv << row << '\n';
  monitorsCsv << std::flush;
}

void RunLog::epoch(const EpochMetrics &e) {
  epochs.push_back(e);
  csv << e.epoch << ',' << csvField(e.trainLoss) << ',' << csvField(e.trainAccuracy) << ','
      << csvField(e.valAccuracy) << ',' << csvField(e.testLoss) << ',' << csvField(e.testAccuracy)
      << ',' << fmt("%.3f", e.seconds) << ',' << fmt("%.1f", e.examplesPerSecond);
  for (int32_t i = 0; i < instance.model().numMonitors; ++i)
    csv << ',' << (size_t(i) < e.monitors.size() ? csvField(e.monitors[size_t(i)]) : "");
  csv << '\n' << std::flush;
  json line = metricsJson(e);
  line.erase("monitor_values"); // named instead, for readers of the log
  if (instance.model().numMonitors)
    line["monitors"] = monitorsJson(instance.model(), e);
  line["params"] = paramsJson(instance);
  jsonl << line.dump() << '\n' << std::flush;
  if (!csv || !jsonl)
    throw Error(dir + ": write error on metrics.csv or log.jsonl");
}

void RunLog::monitorRow(int epoch, int64_t batch, const std::vector<double> &values) {
  const BdlModel &m = instance.model();
  if (!monitorsCsv.is_open()) {
    monitorsCsv = openOutput(dir + "/monitors.csv");
    monitorsCsv << "epoch,batch";
    for (int32_t i = 0; i < m.numMonitors; ++i)
      monitorsCsv << ',' << m.monitorNames[i];
    monitorsCsv << '\n';
  }
  monitorsCsv << epoch << ',' << batch;
  for (double v : values)
    monitorsCsv << ',' << (std::isfinite(v) ? fmt("%.6g", v) : std::string());
  monitorsCsv << '\n' << std::flush;
  if (!monitorsCsv)
    throw Error(dir + ": write error on monitors.csv");
}

void RunLog::finish(const std::string &error) {
  const BdlModel &m = instance.model();
  double trainSeconds = 0;
  json epochSeconds = json::array();
  for (const EpochMetrics &e : epochs) {
    trainSeconds += e.seconds;
    epochSeconds.push_back(e.seconds);
  }
  const EpochMetrics *last = epochs.empty() ? nullptr : &epochs.back();
  json s = {
      {"model", m.name},
      {"source", m.sourceFile ? m.sourceFile : ""},
      {"dataset", info.dataset},
      {"epochs", info.epochs},
      {"epochs_completed", epochs.size()},
      {"batch", info.batch},
      {"seed", info.seed},
      {"threads", info.threads},
      {"validation", info.validation},
      {"warmup", info.warmup},
      {"train_examples", info.trainExamples},
      {"params", paramsJson(instance)},
      {"test_accuracy", last ? optionalJson(last->testAccuracy) : json(nullptr)},
      {"test_loss", last ? optionalJson(last->testLoss) : json(nullptr)},
      {"train_accuracy", last ? json(last->trainAccuracy) : json(nullptr)},
      {"train_loss", last ? optionalJson(last->trainLoss) : json(nullptr)},
      {"val_accuracy", last ? optionalJson(last->valAccuracy) : json(nullptr)},
      {"train_seconds", trainSeconds},
      {"examples_per_second",
       trainSeconds > 0 ? double(info.trainExamples) * double(epochs.size()) / trainSeconds : 0.0},
      {"epoch_seconds", epochSeconds},
      {"error", error.empty() ? json(nullptr) : json(error)},
  };
  if (info.checkpointEvery)
    s["checkpoint_every"] = info.checkpointEvery;
  if (!info.shuffle)
    s["shuffle"] = false;
  if (info.resumedFromEpoch)
    s["resumed_from_epoch"] = info.resumedFromEpoch;
  writeJsonFile(dir + "/summary.json", s);
}

void writeEvalSummary(const std::string &path, const ModelInstance &instance,
                      const std::string &dataset, const std::string &weightsDir,
                      const EvalResult &r) {
  json s = {{"model", instance.model().name},
            {"dataset", dataset},
            {"weights", weightsDir},
            {"params", paramsJson(instance)},
            {"test_examples", r.examples},
            {"test_accuracy", r.accuracy},
            {"test_loss", optionalJson(r.loss)}};
  createDir(std::filesystem::path(path).parent_path().string());
  writeJsonFile(path, s);
}

std::string formatEpochLine(const EpochMetrics &e) {
  std::string line = "epoch " + std::to_string(e.epoch) + "/" + std::to_string(e.epochs);
  if (e.trainLoss)
    line += "  loss " + fmt("%.4f", *e.trainLoss);
  line += "  train_acc " + fmt("%.4f", e.trainAccuracy);
  if (e.valAccuracy)
    line += "  val_acc " + fmt("%.4f", *e.valAccuracy);
  if (e.testAccuracy)
    line += "  test_acc " + fmt("%.4f", *e.testAccuracy);
  line += "  " + fmt("%.1f", e.seconds) + " s  " + fmt("%.0f", e.examplesPerSecond) + " ex/s";
  return line;
}

ProgressLine::ProgressLine(bool wanted) : enabled(wanted && isatty(STDERR_FILENO)) {}

void ProgressLine::update(int epoch, int epochs, int64_t done, int64_t total) {
  if (!enabled)
    return;
  auto now = std::chrono::steady_clock::now();
  if (shown && done < total && now - last < std::chrono::milliseconds(100))
    return;
  last = now;
  shown = true;
  std::fprintf(stderr, "\repoch %d/%d  %lld/%lld (%3.0f%%)\033[K", epoch, epochs,
               static_cast<long long>(done), static_cast<long long>(total),
               total ? 100.0 * double(done) / double(total) : 100.0);
  std::fflush(stderr);
}

void ProgressLine::clear() {
  if (!shown)
    return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown = false;
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
static std::string csvText(const std::string &text) {
  if (text.find_first_of(",\"\n") == std::string::npos)
    return text;
  std::string out = "\"";
  for (char c : text)
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + '"';
}

std::vector<cpu::OpTiming> writeProfile(const std::string &path) {
  std::vector<cpu::OpTiming> rows = cpu::opTimings();
  std::stable_sort(rows.begin(), rows.end(), [](const cpu::OpTiming &a, const cpu::OpTiming &b) {
    return a.seconds > b.seconds;
  });
  double total = 0;
  for (const cpu::OpTiming &t : rows)
    total += t.seconds;
  std::ofstream out = openOutput(path);
  out << "block,part,index,kind,name,calls,seconds,mean_us,share\n";
  for (const cpu::OpTiming &t : rows)
    out << csvText(t.block) << ',' << t.part << ',' << t.index << ',' << t.kind << ','
        << csvText(t.name) << ',' << t.calls << ',' << fmt("%.6g", t.seconds) << ','
        << fmt("%.4g", t.calls ? 1e6 * t.seconds / double(t.calls) : 0.0) << ','
        << fmt("%.4f", total > 0 ? t.seconds / total : 0.0) << '\n';
  out.close();
  if (!out)
    throw Error(path + ": write error");
  return rows;
}

} // namespace bdl
