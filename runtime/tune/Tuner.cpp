//===- tune/Tuner.cpp - `net tune`: trials, their log, resumption, MPI ----===//
#include "tune/Tuner.h"
#include "tune/Trial.h"

#include "bdl/checkpoint.h"
#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/rng.h"
#include "bdl/train.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <csignal>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <thread>

#ifdef BDL_HAVE_MPI
// The C API only: OpenMPI's deprecated C++ bindings need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace bdl::tune {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

json spaceJson(const Space &space) {
  json dims = json::array();
  for (const Dimension &d : space.dims) {
    json j{{"name", d.name}, {"kind", kindName(d.kind)}};
    if (d.kind == Dimension::Kind::Choice)
      j["choices"] = d.choices;
    else if (d.kind != Dimension::Kind::Bool)
      j["lo"] = d.lo, j["hi"] = d.hi;
    dims.push_back(j);
  }
  return dims;
}

std::string hostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0)
    return "?";
  return name;
}

json trialLine(int id, const Space &space, const Point &x, const Outcome &r, const TuneOptions &o,
               int rank) {
  json params = json::object();
  for (size_t d = 0; d < space.dims.size(); ++d) {
    const Dimension &dim = space.dims[d];
    if (dim.kind == Dimension::Kind::Bool)
      params[dim.name] = x[d] != 0;
    else if (dim.kind == Dimension::Kind::Int)
      params[dim.name] = int64_t(std::llround(x[d]));
    else
      params[dim.name] = x[d];
  }
  json line{{"trial", id},
            {"status", r.status},
            {"objective", r.objective ? json(*r.objective) : json(nullptr)},
            {"params", params},
            {"folds", r.folds},
            {"seconds", r.seconds},
            {"seed", o.seed},
            {"host", hostName()},
            {"rank", rank},
            {"metric", metricName(o.objective.metric)},
            {"maximise", !o.objective.minimise}};
  if (!r.error.empty())
    line["error"] = r.error;
  return line;
}

Point pointOf(const Space &space, const json &line) {
  Point x;
  for (const Dimension &d : space.dims) {
    const json &v = line.at("params").at(d.name);
    x.push_back(v.is_boolean() ? double(v.get<bool>()) : v.get<double>());
  }
  return x;
}

//===-- The coordinator: the history, the log, the next point ---------------===//

class Coordinator {
public:
  Coordinator(const BdlModel &model, Space space, const TuneOptions &o)
      : model(model), space(std::move(space)), o(o),
        optimizer(this->space, o.strategy, o.seed, !o.objective.minimise) {}
  Coordinator(const Coordinator &) = delete;
  Coordinator &operator=(const Coordinator &) = delete;
  ~Coordinator() {
    if (logFd >= 0)
      ::close(logFd);
  }

  /// Creates DIR, locks its log, checks or writes DIR/tune.json, reads back
  /// a resumed log.
  void open() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(o.out, ec);
    if (ec)
      throw Error(o.out + ": cannot create directory: " + ec.message());
    logPath = o.out + "/tune.jsonl";
    lockLog();
    json settings{{"model", model.name},
                  {"space", spaceJson(space)},
                  {"fixed", o.fixes},
                  {"set", o.sets},
                  {"trials", o.trials},
                  {"epochs", o.epochs},
                  {"folds", o.folds},
                  {"validation", o.validation},
                  {"batch", o.batch},
                  {"seed", o.seed},
                  {"strategy", o.strategy == Strategy::Gp ? "gp" : "random"},
                  {"objective", metricName(o.objective.metric)},
                  {"maximise", !o.objective.minimise}};
    std::string settingsPath = o.out + "/tune.json";
    bool logExists = fs::exists(logPath, ec) && fs::file_size(logPath, ec) > 0;
    if (o.resume) {
      std::ifstream in(settingsPath);
      if (!in)
        throw UsageError("--resume: " + settingsPath + " is missing: nothing to resume in " +
                         o.out);
      json old = json::parse(in, nullptr, /*allow_exceptions=*/false);
      json compared = settings;
      compared.erase("trials"); // a resumed run may ask for more
      json before = old.is_object() ? old : json::object();
      before.erase("trials");
      if (before != compared)
        throw UsageError("--resume: " + settingsPath +
                         " describes another search (space, data or training settings differ)");
      readLog();
    } else if (logExists) {
      throw UsageError(logPath + " already holds trials: --resume continues that search, or "
                                 "choose another --out");
    }
    // Atomically: a run killed here must leave a tune.json --resume can read.
    writeAtomically(settingsPath, settings.dump(2) + "\n");
  }

  /// The next trial and its point, or nothing when every trial is done or
  /// being run.
  std::optional<std::pair<int, Point>> next() {
    for (int id = 0; id < o.trials; ++id)
      if (!finished.count(id) && !pending.count(id)) {
        std::vector<Observation> done;
        for (const auto &[i, obs] : finished)
          done.push_back(obs);
        std::vector<Point> running;
        for (const auto &[i, p] : pending)
          running.push_back(p);
        Point x = optimizer.ask(done, running);
        pending[id] = x;
        return std::pair{id, x};
      }
    return std::nullopt;
  }

  void finish(int id, const json &line) {
    pending.erase(id);
    if (finished.count(id))
      return; // already logged (cannot happen: ids are handed out once)
    append(line);
    finished[id] = observation(line);
    lastLine = line;
  }

  const std::map<int, Observation> &done() const { return finished; }
  const std::map<int, Point> &running() const { return pending; }
  const Space &searchSpace() const { return space; }
  bool maximise() const { return !o.objective.minimise; }
  const json &last() const { return lastLine; }

  /// The best finished trial's id, or -1.
  int best() const {
    int b = -1;
    for (const auto &[id, obs] : finished)
      if (!obs.failed && (b < 0 || (maximise() ? obs.value > finished.at(b).value
                                               : obs.value < finished.at(b).value)))
        b = id;
    return b;
  }

private:
  Observation observation(const json &line) const {
    Observation obs;
    obs.x = pointOf(space, line);
    obs.failed = line.value("status", "") != "ok" || !line["objective"].is_number();
    if (!obs.failed)
      obs.value = line["objective"].get<double>();
    return obs;
  }

  /// Trials already in the log: every whole, valid line, the first of each
  /// id (a line cut by a kill is skipped, and its trial runs again).
  void readLog() {
    std::ifstream in(logPath);
    std::string text;
    int lineNo = 0;
    while (std::getline(in, text)) {
      ++lineNo;
      json line = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!line.is_object() || !line.contains("trial") || !line.contains("params"))
        continue;
      int id = line["trial"].get<int>();
      if (id < 0 || finished.count(id))
        continue;
      try {
        finished[id] = observation(line);
      } catch (const json::exception &) {
        throw Error(logPath + ":" + std::to_string(lineNo) + ": trial " + std::to_string(id) +
                    " does not have this search's params");
      }
    }
  }

  /// One search writes a log at a time: two would each run the trials
  /// missing from it, and log them twice. The lock goes with the process
  /// (flock), so a killed run holds it until its last rank has exited.
  void lockLog() {
    logFd = ::open(logPath.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (logFd < 0)
      throw Error(logPath + ": cannot open for appending");
    if (::flock(logFd, LOCK_EX | LOCK_NB) != 0)
      throw UsageError(logPath +
                       " is being written by another net tune (still running, or a "
                       "killed run's ranks still exiting): one search per --out at a time");
  }

  /// One write(2) of a whole line on an O_APPEND descriptor: a killed run
  /// leaves whole lines, and a reader never sees half of one.
  void append(const json &line) {
    std::string text = line.dump() + "\n";
    ssize_t n = ::write(logFd, text.data(), text.size());
    ::fsync(logFd);
    if (n != ssize_t(text.size()))
      throw Error(logPath + ": short write");
  }

  const BdlModel &model;
  Space space;
  const TuneOptions &o;
  Optimizer optimizer;
  std::string logPath;
  int logFd = -1;
  std::map<int, Observation> finished;
  std::map<int, Point> pending;
  json lastLine;
};

//===-- Progress ---------------------------------------------------------------===//

/// One live line on a terminal: trials done, what each rank runs, the best
/// so far, an estimate of the time left.
class ProgressLine {
public:
  ProgressLine(bool on, int ranks) : on(on && isatty(STDOUT_FILENO)), ranks(ranks) {}

  void show(const Coordinator &c, const std::string &own) {
    if (!on)
      return;
    auto now = Clock::now();
    if (now - lastShown < std::chrono::milliseconds(200))
      return;
    lastShown = now;
    std::string text = "tune: " + std::to_string(c.done().size()) + " done";
    text += " | " + own;
    for (const auto &[id, x] : c.running())
      if (id != ownTrial)
        text += " | #" + std::to_string(id);
    if (int b = c.best(); b >= 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " | best %.4f (#%d)", c.done().at(b).value, b);
      text += buf;
    }
    double elapsed = std::chrono::duration<double>(now - start).count();
    size_t doneCount = c.done().size() - resumedCount;
    if (doneCount > 0 && remaining > 0) {
      double eta = elapsed / double(doneCount) * double(remaining);
      char buf[48];
      std::snprintf(buf, sizeof buf, " | ETA %.0f min", eta / 60);
      text += buf;
    }
    std::printf("\r\033[K%s", text.c_str());
    std::fflush(stdout);
  }

  void clear() {
    if (on)
      std::printf("\r\033[K"), std::fflush(stdout);
  }

  int ownTrial = -1;
  size_t resumedCount = 0;
  int remaining = 0;

private:
  bool on;
  int ranks;
  Clock::time_point start = Clock::now();
  Clock::time_point lastShown{};
};

void printTrial(const json &line) {
  std::string status = line["status"];
  std::printf("trial %3d  %-8s", line["trial"].get<int>(), status.c_str());
  if (line["objective"].is_number())
    std::printf(" %.4f", line["objective"].get<double>());
  else
    std::printf("       -");
  std::printf("  %6.1f s  rank %d ", line["seconds"].get<double>(), line["rank"].get<int>());
  std::printf(" %s\n", line["params"].dump().c_str());
  std::fflush(stdout);
}

//===-- MPI ---------------------------------------------------------------------===//

#ifdef BDL_HAVE_MPI
constexpr int kTagRequest = 1, kTagAssign = 2;

void sendString(const std::string &s, int to, int tag) {
  MPI_Send(s.data(), int(s.size()), MPI_CHAR, to, tag, MPI_COMM_WORLD);
}

std::string receiveString(int from, int tag, int *source) {
  MPI_Status status;
  MPI_Probe(from, tag, MPI_COMM_WORLD, &status);
  int n = 0;
  MPI_Get_count(&status, MPI_CHAR, &n);
  std::string s(size_t(n), '\0');
  MPI_Recv(s.data(), n, MPI_CHAR, status.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (source)
    *source = status.MPI_SOURCE;
  return s;
}
#endif

/// A rank ends with its launcher (mpirun, orted): one that outlived a killed
/// mpirun would go on running and logging trials that a resumed search runs
/// again. Linux only; elsewhere the log's lock keeps a resumed run out until
/// such ranks are gone.
void dieWithLauncher() {
#ifdef __linux__
  pid_t launcher = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != launcher) // it died before the request was made
    std::raise(SIGKILL);
#endif
}

/// Whether this process was started by mpirun or srun with other ranks.
bool launchedWithRanks() {
  for (const char *v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char *s = std::getenv(v); s && std::atoi(s) > 1)
      return true;
  return false;
}

} // namespace

int runTune(const BdlModel &model, const DataView &train, const TuneOptions &o) {
  if (o.trials < 1)
    throw UsageError("--trials must be at least 1");
  if (o.out.empty())
    throw UsageError("tune needs --out DIR: the trials go to DIR/tune.jsonl");
  Space space = searchSpace(model, o.fixes);
  if (space.dims.empty())
    throw UsageError(std::string("model '") + model.name +
                     "' has no tuned params left to search (declare `param x = v tune [lo, hi]`)");
  std::vector<Split> splits = makeSplits(train, o);

  int rank = 0, ranks = 1;
#ifdef BDL_HAVE_MPI
  bool mpi = launchedWithRanks();
  if (mpi) {
    dieWithLauncher();
    MPI_Init(nullptr, nullptr);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  }
#else
  if (launchedWithRanks())
    throw UsageError("this runtime was built without MPI: run tune as one process, or rebuild "
                     "with libopenmpi-dev installed");
#endif
  cpu::setThreads(o.threads);
  auto run = [&](int id, const Point &x, const Progress &progress) {
    return trialLine(id, space, x, runTrial(model, space, x, splits, o, progress), o, rank);
  };

#ifdef BDL_HAVE_MPI
  if (mpi && rank > 0) {
    // A worker: report the last result, receive the next trial, until told to stop.
    std::string result;
    for (;;) {
      sendString(result, 0, kTagRequest);
      std::string assignment = receiveString(0, kTagAssign, nullptr);
      if (assignment.empty())
        break;
      json a = json::parse(assignment);
      result = run(a["trial"].get<int>(), a["point"].get<Point>(), nullptr).dump();
    }
    MPI_Finalize();
    return ExitOk;
  }
#endif

  Coordinator c(model, space, o);
  c.open();
  size_t resumed = c.done().size();
  if (!o.quiet) {
    std::printf("tuning %s: %d trials (%zu in the log), %zu dimensions, %s, %s, %d epoch%s per "
                "trial, %d rank%s\n",
                model.name, o.trials, resumed, space.dims.size(),
                o.strategy == Strategy::Gp ? "Gaussian process" : "random search",
                o.folds >= 2 ? (std::to_string(o.folds) + "-fold cross-validation").c_str()
                             : ("validation on " + std::to_string(splits[0].heldOut.count) +
                                " held-out examples")
                                   .c_str(),
                o.epochs, o.epochs == 1 ? "" : "s", ranks, ranks == 1 ? "" : "s");
    printObjective(o);
    std::fflush(stdout);
  }
  ProgressLine progress(o.progress && !o.quiet, ranks);
  progress.resumedCount = resumed;
  auto report = [&](const json &line) {
    progress.clear();
    if (!o.quiet)
      printTrial(line);
  };

  int stopped = 0; // workers told to stop
  std::function<void()> serve = [] {};
#ifdef BDL_HAVE_MPI
  // Rank 0 answers the other ranks between its own batches.
  auto answer = [&](int source, const std::string &result) {
    if (!result.empty()) {
      json line = json::parse(result);
      c.finish(line["trial"].get<int>(), line);
      report(line);
    }
    std::optional<std::pair<int, Point>> next = c.next();
    if (next)
      sendString(json{{"trial", next->first}, {"point", next->second}}.dump(), source, kTagAssign);
    else
      sendString("", source, kTagAssign), ++stopped;
  };
  if (mpi)
    serve = [&] {
      int flag = 0;
      MPI_Status status;
      while (MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, MPI_COMM_WORLD, &flag, &status), flag) {
        int source = 0;
        std::string result = receiveString(status.MPI_SOURCE, kTagRequest, &source);
        answer(source, result);
      }
    };
#endif

  while (std::optional<std::pair<int, Point>> next = c.next()) {
    auto [id, x] = *next;
    progress.ownTrial = id;
    progress.remaining = o.trials - int(c.done().size());
    json line = run(id, x, [&](size_t split, int epoch, int64_t done, int64_t total) {
      serve();
      char own[96];
      std::snprintf(own, sizeof own, "#%d fold %zu/%zu epoch %d/%d %3.0f%%", id, split + 1,
                    splits.size(), epoch, o.epochs, 100.0 * double(done) / double(total));
      progress.show(c, own);
    });
    c.finish(id, line);
    report(line);
    serve();
  }
#ifdef BDL_HAVE_MPI
  // Every trial is handed out: collect the others' results and stop them.
  while (mpi && stopped < ranks - 1) {
    int source = 0;
    std::string result = receiveString(MPI_ANY_SOURCE, kTagRequest, &source);
    answer(source, result);
  }
  if (mpi)
    MPI_Finalize();
#endif
  progress.clear();
  int best = c.best();
  if (!o.quiet) {
    if (best >= 0)
      std::printf("best: trial %d, %s %.4f; log: %s/tune.jsonl\n", best,
                  metricName(o.objective.metric), c.done().at(best).value, o.out.c_str());
    else
      std::printf("no trial succeeded; log: %s/tune.jsonl\n", o.out.c_str());
  }
  return ExitOk;
}

} // namespace bdl::tune
