//===- cli/Cli.cpp - train, eval and info ---------------------------------===//

#include "bdl/cli.h"
#include "bdl/checkpoint.h"
#include "bdl/data.h"
#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/plot.h"
#include "bdl/report.h"
#include "bdl/selftest.h"
#include "bdl/trace.h"
#include "bdl/train.h"
#include "cli/Info.h"
#include "tune/Tuner.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

namespace bdl {

namespace {

/// An integer option of at least `minimum`, with a message a person reads
/// (CLI11's PositiveNumber prints its double range, 1.8e308 digits long).
CLI::Validator atLeast(long long minimum) {
  return CLI::Validator(
      [minimum](std::string &text) -> std::string {
        long long value = 0;
        if (!CLI::detail::lexical_cast(text, value) || value < minimum)
          return "must be an integer >= " + std::to_string(minimum) + ", not '" + text + "'";
        return "";
      },
      "INT>=" + std::to_string(minimum));
}

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
ModelInstance makeInstance(const BdlModel &model, const Options &o) {
  ModelInstance inst(model);
  for (const std::string &s : o.sets)
    inst.applyAssignment(s);
  return inst;
}

struct LoadedData {
  std::string name, dir;
  TrainTest sets;
};

LoadedData loadData(const Options &o) {
  LoadedData d;
  d.name = o.dataset;
  d.dir = o.dataDir.empty() ? defaultDataDir(d.name) : o.dataDir;
  d.sets = loadDataset(d.name, d.dir);
  return d;
}

/// The shortest text that reads back as `v`: 0.005, not 0.005000.
std::string shortest(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

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

int runTrain(const BdlModel &model, const Options &typed) {
  std::optional<LoadedCheckpoint> ck;
  if (!typed.resume.empty())
    ck = readCheckpoint(checkpointPath(typed.resume), model);
  const Options o = ck ? resumeOptions(model, typed, ck->state) : typed;
  if (o.checkpointEvery > 0 && o.out.empty())
    throw UsageError("--checkpoint-every needs --out DIR: checkpoints go to DIR/checkpoint/");

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
  if (log) {
    exec::toHostAll(inst);
    saveWeights(inst, o.out + "/weights");
    log->finish();
    if (!o.quiet)
      std::printf("wrote %s\n", o.out.c_str());
  }
  return ExitOk;
}

int runEval(const BdlModel &model, const Options &o) {
  Device device = parseDevice(o.device);
  exec::probeDevice(model, device);
  ModelInstance inst = makeInstance(model, o);
  cpu::setThreads(o.threads);
  LoadedData data = loadData(o);
  inst.allocate(o.batch);
  checkDatasetFits(inst, data.sets.test);
  inst.initialise(o.seed);
  std::string from = loadWeights(inst, o.weights);
  exec::useDevice(inst, device);
  DataView testSet(data.sets.test);
  if (o.testLimit > 0 && o.testLimit < testSet.count)
    testSet.count = o.testLimit;
  EvalResult r = evaluate(inst, testSet, o.batch);
  if (!o.quiet) {
    std::printf("test_acc %.4f", r.accuracy);
    if (r.loss)
      std::printf("  test_loss %.4f", *r.loss);
    std::printf("  (%lld examples of %s, weights from %s)\n", static_cast<long long>(r.examples),
                data.name.c_str(), from.c_str());
  }
  if (!o.out.empty())
    writeEvalSummary(o.out + "/eval.json", inst, data.name, from, r);
  return ExitOk;
}

int runSelfTestCommand(const BdlModel &model, const Options &o) {
  Device device = parseDevice(o.device);
  if (device.kind != Device::Kind::Cuda)
    throw UsageError("selftest compares a GPU with the CPU: give --device cuda or cuda:N");
  exec::probeDevice(model, device);
  ModelInstance inst = makeInstance(model, o);
  inst.allocate(o.batch);
  inst.initialise(o.seed);
  return runSelfTest(inst, device, o.tolerance, o.quiet);
}

/// Threads per process: the cores a host's MPI ranks share evenly, unless
/// --threads says otherwise.
int threadsPerRank(const Options &o) {
  if (o.given.count("--threads"))
    return o.threads;
  for (const char *v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char *s = std::getenv(v); s && std::atoi(s) > 0)
      return std::max(1, o.threads / std::atoi(s));
  return o.threads;
}

int runTuneCommand(const BdlModel &model, const Options &o) {
  tune::TuneOptions t = o.tune;
  t.objectiveGiven = !o.objective.empty();
  t.objective = t.objectiveGiven ? tune::parseObjective(o.objective) : tune::modelObjective(model);
  if (o.printSpace) {
    tune::printSpace(tune::searchSpace(model, t.fixes), t);
    return ExitOk;
  }
  if (o.strategy != "gp" && o.strategy != "random")
    throw UsageError("--strategy: '" + o.strategy + "' is not gp or random");
  t.strategy = o.strategy == "gp" ? tune::Strategy::Gp : tune::Strategy::Random;
  t.sets = o.sets;
  t.out = o.out;
  t.batch = o.batch;
  t.seed = o.seed;
  t.epochs = o.epochs;
  t.quiet = o.quiet;
  t.threads = threadsPerRank(o);
  t.device = parseDevice(o.device);
  exec::probeDevice(model, t.device);
  tune::searchSpace(model, t.fixes); // usage errors before the data is read
  LoadedData data = loadData(o);
  DataView trainSet(data.sets.train);
  if (o.limit > 0 && o.limit < trainSet.count)
    trainSet.count = o.limit;
  return tune::runTune(model, trainSet, t);
}

int runInfo(const BdlModel &model, const Options &o) {
  ModelInstance inst = makeInstance(model, o);
  return printModelInfo(inst);
}

} // namespace

int runMain(const BdlModel &model, int argc, const char *const *argv) {
  std::string prog = argc > 0 ? argv[0] : "net";
  if (size_t slash = prog.rfind('/'); slash != std::string::npos)
    prog = prog.substr(slash + 1);

  Options o;
  o.dataset = model.dataset && *model.dataset ? model.dataset : "fashion_mnist";
  o.epochs = model.epochs > 0 ? model.epochs : o.epochs;
  o.batch = model.batch > 0 ? model.batch : o.batch;
  o.validation = model.validation > 0 ? model.validation : 0;
  o.warmup = model.warmup > 0 ? model.warmup : 0;
  unsigned hw = std::thread::hardware_concurrency();
  o.threads = hw ? int(hw) : 1;

  CLI::App app{std::string("Experiment binary of model '") + (model.name ? model.name : "?") +
                   "', built by bdlc",
               prog};
  app.require_subcommand(1);
  CLI::App *train = app.add_subcommand("train", "Train, evaluating on the test set each epoch");
  CLI::App *eval = app.add_subcommand("eval", "Evaluate saved weights on the test set");
  CLI::App *info = app.add_subcommand("info", "Describe the model: parameters, tensors, blocks");
  CLI::App *tune = app.add_subcommand(
      "tune", "Search the model's tuned params: trials trained and scored on held-out data");
  tune->add_option("--trials", o.tune.trials,
                   "Trials in all (a resumed run counts the logged ones)")
      ->check(atLeast(1))
      ->capture_default_str();
  tune->add_option("--folds", o.tune.folds,
                   "Score each trial by k-fold cross-validation (k >= 2; 0: a validation split)")
      ->check(atLeast(0))
      ->capture_default_str();
  tune->add_option("--validation", o.tune.validation,
                   "Without --folds: the held-out training examples (default: a sixth)")
      ->check(atLeast(0));
  tune->add_option("--strategy", o.strategy, "gp (Bayesian optimisation) or random")
      ->capture_default_str();
  tune->add_option("--objective", o.objective,
                   "accuracy (maximised), loss (minimised), maximize(M) or minimize(M); "
                   "default: the model's train-block objective");
  tune->add_option("--fix", o.tune.fixes, "Pin a tuned param: name=value (repeatable)")
      ->allow_extra_args(false);
  tune->add_flag("--space", o.printSpace, "Print the search space and stop");
  tune->add_flag("--resume", o.tune.resume, "Continue the search logged in --out DIR");
  tune->add_flag("--progress", o.tune.progress,
                 "A live line: trials done, what runs, the best so far, the time left");
  tune->add_option("--epochs", o.epochs, "Training epochs per trial (and fold)")
      ->check(atLeast(1))
      ->capture_default_str();
  tune->add_option("--limit", o.limit, "Use only the first N training examples")->check(atLeast(1));
  CLI::App *selftest = app.add_subcommand(
      "selftest", "Run every kernel once on the GPU and once on the CPU, and compare");
  selftest->add_option("--device", o.device, "The GPU: cuda or cuda:N")->required();
  selftest->add_option("--batch", o.batch, "Rows of the batch dimension")
      ->check(atLeast(1))
      ->capture_default_str();
  selftest->add_option("--seed", o.seed, "Seed of the inputs and of the draws")
      ->check(atLeast(0))
      ->capture_default_str();
  selftest->add_option("--tolerance", o.tolerance, "Largest difference allowed, relative")
      ->capture_default_str();
  selftest->add_flag("--quiet", o.quiet, "Print only failing kernels and the summary");

  for (CLI::App *cmd : {train, eval, info, selftest, tune})
    cmd->add_option("--set", o.sets, "Override a parameter: name=value (repeatable)")
        ->allow_extra_args(false);
  for (CLI::App *cmd : {train, eval, tune}) {
    cmd->add_option("--dataset", o.dataset, "fashion_mnist, mnist or cifar10")
        ->capture_default_str();
    cmd->add_option("--data-dir", o.dataDir, "Directory of the dataset's files");
    cmd->add_option("--batch", o.batch, "Mini-batch size")
        ->check(atLeast(1))
        ->capture_default_str();
    cmd->add_option("--seed", o.seed, "Seed of every random number")
        ->check(atLeast(0))
        ->capture_default_str();
    cmd->add_option("--threads", o.threads, "Threads for kernels and BLAS")
        ->check(atLeast(1))
        ->capture_default_str();
    cmd->add_option("--out", o.out, "Directory for logs and results");
    cmd->add_flag("--quiet", o.quiet, "Print nothing but errors");
    cmd->add_option("--device", o.device,
                    "Where the blocks run: cpu (default), cuda (GPU 0, or under mpirun the local "
                    "rank's, round-robin) or cuda:N; needs a binary built with bdlc --target=cuda; "
                    "exits with 4 where there is no GPU");
  }
  train->add_option("--epochs", o.epochs, "Passes over the training set")
      ->check(atLeast(1))
      ->capture_default_str();
  train->add_option("--validation", o.validation, "Hold out the last N training examples")
      ->check(atLeast(0))
      ->capture_default_str();
  train
      ->add_option("--warmup", o.warmup,
                   "The first N epochs skip the model's 'after warmup' learn blocks")
      ->check(atLeast(0))
      ->capture_default_str();
  train->add_option("--limit", o.limit, "Use only the first N training examples")
      ->check(atLeast(1));
  train->add_flag("--no-shuffle", o.noShuffle, "Visit the training examples in file order");
  train
      ->add_option("--monitor-every", o.monitorEvery,
                   "Compute the model's monitors every K batches and write their means over "
                   "each K to DIR/monitors.csv (default: every " +
                       std::to_string(kDefaultMonitorEvery) + "th batch, epoch means only)")
      ->check(atLeast(1));
  train->add_flag("--no-monitors", o.noMonitors, "Never compute the model's monitors");
  for (CLI::App *cmd : {train, eval})
    cmd->add_option("--test-limit", o.testLimit, "Evaluate on the first N test examples only")
        ->check(atLeast(1));
  train->add_option("--load", o.load,
                    "After initialising, load DIR/NAME.npy into every tensor NAME that has one");
  train
      ->add_option("--trace", o.trace,
                   "Record these tensors after every step of the first training examples")
      ->delimiter(',');
  train
      ->add_option("--trace-examples", o.traceExamples,
                   "How many training examples --trace records")
      ->check(atLeast(1))
      ->capture_default_str();
  train->add_option("--trace-dir", o.traceDir, "Directory for --trace (default: --out DIR/trace)");
  train
      ->add_option("--replay", o.replays,
                   "NAME=FILE.npy: overwrite the drawn tensor NAME with FILE's row per step")
      ->allow_extra_args(false);
  train
      ->add_option("--checkpoint-every", o.checkpointEvery,
                   "Write a resumable checkpoint to --out DIR/checkpoint/ every N epochs")
      ->check(atLeast(1));
  train->add_option("--resume", o.resume,
                    "Continue the run whose --out was DIR from its last checkpoint");
  eval->add_option("--weights", o.weights, "Directory of <tensor>.npy files")->required();
  // plot reads files other runs wrote; it needs nothing of the model.
  PlotRequest plotRequest;
  CLI::App *plot = addPlotCommand(app, plotRequest);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int code = app.exit(e);
    return code == 0 ? ExitOk : ExitUsage;
  }

  for (CLI::App *cmd : {train, tune})
    for (const CLI::Option *opt : cmd->get_options())
      if (*cmd && opt->count() > 0)
        o.given.insert(opt->get_name());

  try {
    if (*train)
      return runTrain(model, o);
    if (*eval)
      return runEval(model, o);
    if (*selftest)
      return runSelfTestCommand(model, o);
    if (*tune)
      return runTuneCommand(model, o);
    if (*plot)
      return runPlot(plotRequest);
    return runInfo(model, o);
  } catch (const Error &e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), e.what());
    return e.exitCode();
  } catch (const std::exception &e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), e.what());
    return ExitFailure;
  }
}

} // namespace bdl
