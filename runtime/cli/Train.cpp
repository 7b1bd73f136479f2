//===- cli/Train.cpp - `net train` ----------------------------------------===//
//
// A training run from the command line: the options a resumed run takes
// from its checkpoint, the instance, data, logs, traces and checkpoints
// around bdl::train.
//
//===----------------------------------------------------------------------===//

#include "cli/Options.h"

#include "bdl/checkpoint.h"
#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/report.h"
#include "bdl/trace.h"
#include "bdl/train.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

namespace bdl::cli {

namespace {

/// Where the number of held-out examples came from, for the message that
/// says it is too large.
std::string validationSetting(const BdlModel &model, const Options &o) {
  std::string n = std::to_string(o.validation);
  if (o.given.count("--validation"))
    return "--validation " + n;
  if (!o.resume.empty())
    return "the checkpoint's validation " + n;
  return "validation = " + n + " in the train block of model '" + model.name +
         "' (--validation N overrides it)";
}

/// The options of a resumed run: the checkpoint's settings, except those
/// given for --data-dir, --quiet, --epochs (to extend the run),
/// --checkpoint-every, --monitor-every and --no-monitors, and --threads
/// (another thread count splits the sums in OpenBLAS differently: the
/// weights then differ in their last bits). Any other option given must
/// agree with the checkpoint.
Options resumeOptions(const BdlModel &model, const Options &o, const CheckpointState &ck) {
  const RunInfo &run = ck.run;
  auto mustMatch = [&](const char *flag, bool same, const std::string &theirs) {
    if (o.given.count(flag) && !same)
      throw UsageError(std::string(flag) + " differs from the checkpoint's " + theirs +
                       "; a resumed run keeps the settings it started with");
  };
  mustMatch("--dataset", o.dataset == run.dataset, run.dataset);
  mustMatch("--batch", o.batch == run.batch, std::to_string(run.batch));
  mustMatch("--seed", o.seed == run.seed, std::to_string(run.seed));
  mustMatch("--validation", o.validation == run.validation, std::to_string(run.validation));
  mustMatch("--warmup", o.warmup == run.warmup, std::to_string(run.warmup));
  mustMatch("--limit", o.limit == run.limit, run.limit ? std::to_string(run.limit) : "none");
  mustMatch("--no-shuffle", o.noShuffle == !run.shuffle,
            run.shuffle ? "shuffled order" : "file order");
  for (const char *flag : {"--load", "--trace", "--replay"})
    if (o.given.count(flag))
      throw UsageError(std::string(flag) +
                       ": a resumed run continues from its checkpoint; start a new run instead");
  if (o.given.count("--out"))
    throw UsageError("--out: a resumed run writes into the directory it resumes, " + o.resume);
  for (const std::string &assignment : o.sets) {
    ModelInstance scratch(model);
    scratch.applyAssignment(assignment);
    int i = scratch.findParam(assignment.substr(0, assignment.find('=')));
    if (scratch.param(i) != ck.params[size_t(i)])
      throw UsageError("--set " + assignment + " differs from the checkpoint's " +
                       model.params[i].name + " = " + shortest(ck.params[size_t(i)]) +
                       "; a resumed run keeps the settings it started with");
  }
  if (o.given.count("--epochs") && o.epochs < ck.epoch)
    throw UsageError("--epochs " + std::to_string(o.epochs) + ": the checkpoint has already done " +
                     std::to_string(ck.epoch));

  Options r = o;
  r.dataset = run.dataset;
  r.batch = run.batch;
  r.seed = run.seed;
  r.validation = run.validation;
  r.warmup = run.warmup;
  r.limit = run.limit;
  r.noShuffle = !run.shuffle;
  r.out = o.resume;
  r.sets.clear();
  if (!o.given.count("--data-dir"))
    r.dataDir = run.dataDir;
  if (!o.given.count("--epochs"))
    r.epochs = run.epochs;
  if (!o.given.count("--checkpoint-every"))
    r.checkpointEvery = run.checkpointEvery;
  if (!o.given.count("--threads"))
    r.threads = run.threads;
  if (!o.given.count("--monitor-every") && !o.given.count("--no-monitors")) {
    r.noMonitors = run.monitorEvery < 0;
    r.monitorEvery = std::max<int64_t>(run.monitorEvery, 0);
  }
  return r;
}

/// "profile: 41.2% gemm mm = xn * W1^T (train forward), ..." for the
/// slowest three ops.
void printProfileTop(const std::vector<cpu::OpTiming> &rows, const std::string &path) {
  double total = 0;
  for (const cpu::OpTiming &t : rows)
    total += t.seconds;
  std::printf("wrote the profile to %s:", path.c_str());
  for (size_t i = 0; i < rows.size() && i < 3 && total > 0; ++i)
    std::printf("%s %.1f%% %s (%s)", i ? "," : "", 100 * rows[i].seconds / total,
                rows[i].name.c_str(), rows[i].block.c_str());
  std::printf("\n");
}

} // namespace

int runTrain(const BdlModel &model, const Options &typed) {
  std::optional<LoadedCheckpoint> ck;
  if (!typed.resume.empty())
    ck = readCheckpoint(checkpointPath(typed.resume), model);
  const Options o = ck ? resumeOptions(model, typed, ck->state) : typed;
  if (o.checkpointEvery > 0 && o.out.empty())
    throw UsageError("--checkpoint-every needs --out DIR: checkpoints go to DIR/checkpoint/");
  if (o.profile && o.out.empty())
    throw UsageError("--profile needs --out DIR: the profile goes to DIR/profile.csv");

  Device device = parseDevice(o.device);
  exec::probeDevice(model, device); // before the data: fail fast
  ModelInstance inst = makeInstance(model, o);
  if (ck)
    for (int i = 0; i < model.numParams; ++i)
      if (!inst.isDerived(i)) // recomputed from the others
        inst.setParamValue(i, ck->state.params[size_t(i)]);
  cpu::setThreads(o.threads);
  LoadedData data = loadData(o);
  DataView trainSet(data.sets.train);
  if (o.limit > 0 && o.limit < trainSet.count)
    trainSet.count = o.limit;
  // Before the banner says "-N train".
  checkValidationSplit(trainSet.count, o.validation, validationSetting(model, o));
  int64_t trainExamples = trainSet.count - o.validation;
  if (ck && trainExamples != ck->state.run.trainExamples)
    throw Error(ck->path + ": the run trained on " + std::to_string(ck->state.run.trainExamples) +
                " examples per epoch, but " + data.dir + " gives " + std::to_string(trainExamples) +
                " now");
  // No batch is larger than the set it is drawn from: --batch 10000000
  // --limit 10 allocates for the largest set, not for ten million rows.
  int64_t batch =
      std::min(o.batch, std::max({trainExamples, o.validation, int64_t(data.sets.test.size())}));
  inst.allocate(batch);
  checkDatasetFits(inst, data.sets.train);
  inst.initialise(o.seed);
  if (ck)
    restoreCheckpoint(inst, *ck);
  if (!o.load.empty()) {
    std::vector<std::string> loaded = loadTensors(inst, o.load);
    if (!o.quiet) {
      std::printf("loaded from %s:", o.load.c_str());
      for (const std::string &name : loaded)
        std::printf(" %s", name.c_str());
      std::printf("\n");
    }
  }
  if (!o.replays.empty() && batch != 1)
    throw UsageError("--replay needs --batch 1: a recording holds one example per step");
  for (const std::string &r : o.replays)
    installReplay(inst, r);
  std::unique_ptr<Tracer> tracer;
  if (!o.trace.empty()) {
    std::string dir = !o.traceDir.empty() ? o.traceDir : o.out.empty() ? "" : o.out + "/trace";
    if (dir.empty())
      throw UsageError("--trace needs --trace-dir DIR or --out DIR (traces go to DIR/trace/)");
    tracer = std::make_unique<Tracer>(inst, o.trace, o.traceExamples, dir);
  }

  // Every host-side write is done: the device gets its copies now.
  exec::useDevice(inst, device);
  if (o.profile && exec::current().kind != Device::Kind::Cpu)
    throw UsageError("--profile times the CPU backend's ops; this run is on " +
                     exec::describeCurrent());
  cpu::setProfiling(o.profile);

  TrainOptions topts;
  topts.epochs = o.epochs;
  topts.batch = batch;
  topts.seed = o.seed;
  topts.validation = o.validation;
  topts.warmup = o.warmup;
  topts.firstEpoch = ck ? ck->state.epoch + 1 : 1;
  topts.shuffle = !o.noShuffle;
  topts.monitorEvery = o.noMonitors ? -1 : o.monitorEvery;

  RunInfo info;
  info.dataset = data.name;
  info.dataDir = data.dir;
  info.epochs = o.epochs;
  info.batch = o.batch;
  info.seed = o.seed;
  info.threads = o.threads;
  info.validation = o.validation;
  info.warmup = o.warmup;
  info.limit = o.limit;
  info.shuffle = !o.noShuffle;
  info.trainExamples = trainExamples;
  info.checkpointEvery = o.checkpointEvery;
  info.monitorEvery = topts.monitorEvery;
  info.resumedFromEpoch = ck ? ck->state.epoch : 0;
  std::unique_ptr<RunLog> log;
  if (!o.out.empty())
    log = std::make_unique<RunLog>(o.out, inst, info,
                                   ck ? ck->state.history : std::vector<EpochMetrics>{});
  if (!o.quiet) {
    if (ck)
      std::printf("resuming from %s after epoch %d\n", ck->path.c_str(), ck->state.epoch);
    std::printf("training %s on %s (%lld train, %lld validation, %lld test) for %d epochs, batch "
                "%lld, seed %llu, %d threads\n",
                model.name, data.name.c_str(), static_cast<long long>(info.trainExamples),
                static_cast<long long>(o.validation),
                static_cast<long long>(o.testLimit > 0
                                           ? std::min<int64_t>(o.testLimit, data.sets.test.size())
                                           : data.sets.test.size()),
                o.epochs, static_cast<long long>(o.batch), static_cast<unsigned long long>(o.seed),
                o.threads);
    if (exec::current().kind != Device::Kind::Cpu)
      std::printf("on %s\n", exec::describeCurrent().c_str());
  }
  std::fflush(stdout);

  ProgressLine progress(!o.quiet);
  TrainCallbacks callbacks;
  callbacks.progress = [&](int epoch, int64_t done, int64_t total) {
    progress.update(epoch, o.epochs, done, total);
  };
  if (tracer) {
    callbacks.batchBegin = [&](const std::vector<int64_t> &indices, int64_t example0) {
      tracer->batchBegin(indices, example0);
    };
    callbacks.batchEnd = [&] { tracer->batchEnd(); };
  }
  if (log && topts.monitorEvery > 0)
    callbacks.monitors = [&](int epoch, int64_t batch, const std::vector<double> &values) {
      log->monitorRow(epoch, batch, values);
    };
  callbacks.epochEnd = [&](const EpochMetrics &e) {
    progress.clear();
    if (!o.quiet) {
      std::printf("%s\n", formatEpochLine(e).c_str());
      std::fflush(stdout);
    }
    if (log)
      log->epoch(e);
    if (o.checkpointEvery > 0 && e.epoch % o.checkpointEvery == 0) {
      CheckpointState state{e.epoch, info, {}, log->history()};
      state.time = inst.time();
      state.nextExample = int64_t(e.epoch) * trainExamples;
      for (int i = 0; i < model.numParams; ++i)
        state.params.push_back(inst.param(i));
      exec::toHostAll(inst);
      writeCheckpoint(checkpointPath(o.out), inst, state);
    }
  };
  try {
    DataView testSet(data.sets.test);
    if (o.testLimit > 0 && o.testLimit < testSet.count)
      testSet.count = o.testLimit;
    train(inst, trainSet, testSet, topts, callbacks);
    if (tracer)
      tracer->finish();
  } catch (const Error &e) {
    // Keep a record of the failed run next to its partial metrics.
    progress.clear();
    if (log)
      log->finish(e.what());
    throw;
  }
  if (tracer && tracer->written() && !o.quiet)
    std::printf("wrote the trace to %s\n", tracer->directory().c_str());
  if (o.profile) {
    cpu::setProfiling(false);
    std::vector<cpu::OpTiming> rows = writeProfile(o.out + "/profile.csv");
    if (!o.quiet)
      printProfileTop(rows, o.out + "/profile.csv");
  }
  if (log) {
    exec::toHostAll(inst);
    saveWeights(inst, o.out + "/weights");
    log->finish();
    if (!o.quiet)
      std::printf("wrote %s\n", o.out.c_str());
  }
  return ExitOk;
}

} // namespace bdl::cli
