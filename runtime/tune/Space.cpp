//===- tune/Space.cpp - The search space and objective a model declares ----===//
#include "tune/Tuner.h"

#include "bdl/error.h"

#include <algorithm>
#include <cstdio>

namespace bdl::tune {

const char *metricName(int32_t metric) { return metric == BDL_METRIC_LOSS ? "loss" : "accuracy"; }

const char *kindName(Dimension::Kind k) {
  switch (k) {
  case Dimension::Kind::Real:
    return "real";
  case Dimension::Kind::LogReal:
    return "log";
  case Dimension::Kind::Int:
    return "int";
  case Dimension::Kind::Bool:
    return "bool";
  case Dimension::Kind::Choice:
    return "choice";
  }
  return "?";
}

void printObjective(const TuneOptions &o) {
  std::printf("objective: %s on the held-out data (%s)\n", spelling(o.objective).c_str(),
              o.objectiveGiven ? "--objective" : "the model's");
}

Objective modelObjective(const BdlModel &model) {
  return {model.objective == BDL_METRIC_LOSS ? BDL_METRIC_LOSS : BDL_METRIC_ACCURACY,
          model.minimise != 0};
}

Objective parseObjective(const std::string &text) {
  for (BdlMetric m : {BDL_METRIC_ACCURACY, BDL_METRIC_LOSS}) {
    std::string name = metricName(m);
    // A bare metric is scored its natural way: accuracy up, loss down.
    if (text == name)
      return {m, m == BDL_METRIC_LOSS};
    for (bool minimise : {false, true})
      if (text == spelling({m, minimise}))
        return {m, minimise};
  }
  throw UsageError("--objective: '" + text +
                   "' is not accuracy, loss, maximize(accuracy|loss) or minimize(accuracy|loss)");
}

std::string spelling(const Objective &objective) {
  return std::string(objective.minimise ? "minimize(" : "maximize(") +
         metricName(objective.metric) + ")";
}

Space searchSpace(const BdlModel &model, const std::vector<std::string> &fixes) {
  std::vector<std::string> fixedNames;
  for (const std::string &f : fixes) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--fix '" + f + "': expected name=value");
    fixedNames.push_back(f.substr(0, eq));
  }
  Space space;
  std::string tuned;
  for (int i = 0; i < model.numParams; ++i) {
    const BdlParamDesc &p = model.params[i];
    if (p.tune == BDL_TUNE_NONE || p.derived)
      continue;
    tuned += std::string(tuned.empty() ? "" : ", ") + p.name;
    if (std::count(fixedNames.begin(), fixedNames.end(), p.name))
      continue;
    Dimension d;
    d.name = p.name;
    d.lo = p.lo, d.hi = p.hi;
    switch (p.tune) {
    case BDL_TUNE_LOG:
      d.kind = Dimension::Kind::LogReal;
      break;
    case BDL_TUNE_INT:
      d.kind = Dimension::Kind::Int;
      break;
    case BDL_TUNE_BOOL:
      d.kind = Dimension::Kind::Bool, d.lo = 0, d.hi = 1;
      break;
    case BDL_TUNE_CHOICE:
      d.kind = Dimension::Kind::Choice;
      d.choices.assign(p.choices, p.choices + p.numChoices);
      break;
    default:
      d.kind = Dimension::Kind::Real;
    }
    space.dims.push_back(d);
  }
  for (const std::string &name : fixedNames) {
    bool found = false;
    for (int i = 0; i < model.numParams; ++i)
      found |= name == model.params[i].name && model.params[i].tune != BDL_TUNE_NONE &&
               !model.params[i].derived;
    if (!found)
      throw UsageError("--fix " + name + ": not a tuned param of model '" + model.name +
                       "' (tuned: " + (tuned.empty() ? "none" : tuned) + ")");
  }
  return space;
}

void printSpace(const Space &space, const TuneOptions &o) {
  if (space.dims.empty())
    std::printf("(no tuned params)\n");
  for (const Dimension &d : space.dims) {
    std::printf("%-20s %-6s", d.name.c_str(), kindName(d.kind));
    if (d.kind == Dimension::Kind::Bool)
      std::printf(" {false, true}");
    else if (d.kind == Dimension::Kind::Choice) {
      std::printf(" {");
      for (size_t i = 0; i < d.choices.size(); ++i)
        std::printf("%s%g", i ? ", " : "", d.choices[i]);
      std::printf("}");
    } else
      std::printf(" [%g, %g]", d.lo, d.hi);
    std::printf("\n");
  }
  printObjective(o);
}

} // namespace bdl::tune
