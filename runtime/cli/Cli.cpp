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
#include "cli/Options.h"
#include "tune/Tuner.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

namespace bdl {

using namespace cli;

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
  train->add_flag("--profile", o.profile,
                  "Time every op (CPU backend) and write DIR/profile.csv, slowest first");
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
