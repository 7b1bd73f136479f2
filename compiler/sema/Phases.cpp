//===- Phases.cpp - Phases of a step loop, and evaluation -------------------===//
//
// A phase runs every population for N steps (N a scalar of params, or
// drawn per example), with its own currents and clamps, and records means
// over its last steps; `evaluate` has its own phases, resets and read-out.
//
//===----------------------------------------------------------------------===//
#include "sema/Builtins.h"
#include "sema/Checker.h"
#include "support/Format.h"

#include "llvm/Support/Casting.h"

#include <cmath>
#include <functional>

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

//===-- Phases ----------------------------------------------------------------===//

void Checker::noteAtDefaults(const ast::Expr *e) {
  if (evaluate(e, /*report=*/false).status != Constant::Known)
    diags.report(e->getRange(), DiagID::note_at_defaults);
}

std::optional<double> Checker::phaseLength(const ast::Expr *steps, const std::string &phase) {
  place = Place::Steps;
  std::optional<double> n = paramExpression(steps, "a phase length", true);
  place = Place::Model;
  if (!n)
    return std::nullopt;
  // A phase runs a whole number of steps: the value truncated, as for wald().
  double whole = std::trunc(*n);
  constexpr double kMaxSteps = 2147483647; // an int32 counter
  bool tooShort = !(whole >= 1);           // NaN too
  if (!tooShort && whole <= kMaxSteps)
    return whole;
  std::string value = formatNumber(std::isnan(*n) ? std::fabs(*n) : *n);
  if (tooShort)
    diags.report(steps->getRange(), DiagID::err_phase_length, phase, value);
  else
    diags.report(steps->getRange(), DiagID::err_phase_too_long, phase, value,
                 formatNumber(kMaxSteps));
  noteAtDefaults(steps);
  return std::nullopt;
}

void Checker::checkPhases() {
  for (const ast::PhaseStmt &s : file.strayAssignments)
    diags.report(s.range, DiagID::err_assignment_outside_phase, s.population.name, s.name.name);
  llvm::StringMap<llvm::SMRange> names;
  for (size_t ph = 0; ph < file.phases.size(); ++ph) {
    const ast::PhaseDecl &decl = file.phases[ph];
    CheckedPhase phase{&decl, {}, {}};
    if (auto [it, inserted] = names.try_emplace(decl.name.name, decl.name.range); !inserted) {
      diags.report(decl.name.range, DiagID::err_redefinition, decl.name.name);
      diags.report(it->second, DiagID::note_previous_definition);
    }
    std::optional<double> steps = phaseLength(decl.steps.get(), decl.name.name);
    phase.steps = steps.value_or(0);
    for (const ast::PhaseStmt &s : decl.stmts) {
      if (s.kind == ast::PhaseStmt::Kind::Record) {
        int index = -1;
        if (auto g = model->globals.find(s.name.name); g != model->globals.end() &&
                                                       g->second.kind == Symbol::Kind::Record &&
                                                       model->records[g->second.index].stmt == &s)
          index = g->second.index;
        place = Place::Record;
        windowPhaseName = decl.name.name;
        windowPhaseSteps = phase.steps;
        windowPhaseExpr = decl.steps.get();
        currentPhase = (int)ph;
        std::optional<Shape> shape = this->shape(s.value.get());
        currentPhase = -1;
        windowPhaseSteps = 0;
        place = Place::Model;
        if (shape && rejectBatchedMatrix(s.value.get(), *shape, s.name.name))
          shape.reset();
        if (index >= 0) {
          recordShapes[index] = shape;
          if (shape)
            model->globals[s.name.name].shape = *shape;
          phase.records.push_back(index);
        }
        continue;
      }
      const Symbol *g = resolveName(s.population.name, s.population.range);
      if (!g)
        continue;
      if (g->kind != Symbol::Kind::Population) {
        diags.report(s.population.range, DiagID::err_override,
                     "'" + s.population.name + "' is a " + describe(g->kind) +
                         ", not a population");
        diags.report(g->declRange, DiagID::note_declared_here, s.population.name);
        continue;
      }
      int p = g->index;
      CheckedPopulation &pop = model->populations[p];
      auto m = pop.byName.find(s.name.name);
      if (m == pop.byName.end()) {
        diags.report(s.name.range, DiagID::err_unknown_member, s.population.name, s.name.name);
        continue;
      }
      CheckedMember &member = pop.members[m->second];
      if (member.isState || !member.update) {
        diags.report(s.name.range, DiagID::err_override,
                     "a phase can set a value of '" + s.population.name +
                         "' (a current, a "
                         "conductance), not the state '" +
                         s.name.name + "', which changes only by its own update");
        if (const ast::PopulationStmt *d = declarationOf(pop, member))
          diags.report(d->name.range, DiagID::note_declared_here,
                       s.population.name + "." + s.name.name);
        continue;
      }
      if (auto [it, inserted] = phase.overrides.try_emplace({p, m->second}, &s); !inserted) {
        diags.report(s.name.range, DiagID::err_redefinition, s.population.name + "." + s.name.name);
        diags.report(it->second->range, DiagID::note_previous_definition);
        continue;
      }
      position = {p, member.updateIndex};
      place = Place::Step;
      currentPhase = (int)ph;
      std::optional<Shape> shape = this->shape(s.value.get());
      currentPhase = -1;
      place = Place::Model;
      position = {};
      if (shape && !(shape->isScalar() || (shape->isVector() && shape->dims[0] == pop.size)))
        diags.report(s.value->getRange(), DiagID::err_member_shape, s.name.name, s.population.name,
                     describe(Shape{true, {pop.size}}, model->params),
                     describe(*shape, model->params));
    }
    model->phases.push_back(std::move(phase));
  }
}

//===-- Evaluation ------------------------------------------------------------===//

void Checker::checkEvaluate() {
  if (file.evaluates.empty())
    return;
  for (size_t i = 1; i < file.evaluates.size(); ++i)
    diags.report(file.evaluates[i].keywordRange, DiagID::err_duplicate_declaration,
                 "'evaluate' block");
  const ast::EvaluateDecl &e = file.evaluates[0];
  model->evaluate.decl = &e;
  model->evaluate.reset = e.reset.has_value();
  double lastSteps = 0;
  std::string lastName;
  for (const ast::EvaluatePhase &p : e.phases) {
    int index = -1;
    for (size_t ph = 0; ph < file.phases.size(); ++ph)
      if (file.phases[ph].name.name == p.name.name)
        index = (int)ph;
    if (index < 0) {
      std::string best;
      unsigned bestDistance = std::max<unsigned>(1, p.name.name.size() / 3) + 1;
      for (const ast::PhaseDecl &d : file.phases)
        if (unsigned dist = llvm::StringRef(p.name.name).edit_distance(d.name.name);
            dist < bestDistance)
          bestDistance = dist, best = d.name.name;
      if (best.empty())
        diags.report(p.name.range, DiagID::err_unknown_phase, p.name.name);
      else
        diags.report(p.name.range, DiagID::err_unknown_phase_suggest, p.name.name, best);
      continue;
    }
    model->evaluate.phases.push_back(index);
    // The phase's own length was checked with the phase.
    double n =
        p.steps ? phaseLength(p.steps.get(), p.name.name).value_or(0) : model->phases[index].steps;
    model->evaluate.steps.push_back(n);
    lastSteps = n;
    windowPhaseExpr = p.steps ? p.steps.get() : file.phases[index].steps.get();
    lastName = p.name.name;
  }
  if (!e.predict)
    return;
  if (e.phases.empty()) {
    diags.report(e.predictRange, DiagID::err_missing_declaration, file.name.name,
                 "phase in its evaluate block (evaluate { phase NAME ... predict ... })");
    return;
  }
  const ast::Expr *predict = e.predict.get();
  if (auto *call = dyn_cast<ast::CallExpr>(predict); call && call->callee == "argmax") {
    // The prediction is always the argmax; writing it is optional.
    if (call->args.size() != 1 || !call->args[0].key.empty() || call->args[0].window) {
      diags.report(call->getRange(), DiagID::err_argument_count, "argmax",
                   "1 argument (the vector whose largest element is the prediction)",
                   std::to_string(call->args.size()));
      return;
    }
    predict = call->args[0].value.get();
  }
  model->evaluate.predictValue = predict;
  place = Place::Predict;
  windowPhaseName = lastName;
  windowPhaseSteps = lastSteps;
  std::optional<Shape> s = shape(predict);
  windowPhaseSteps = 0;
  place = Place::Model;
  if (s && !(s->isVector() && s->batched))
    diags.report(predict->getRange(), DiagID::err_invalid_value,
                 "'predict' must be one vector per example, not " + describe(*s, model->params));
}

} // namespace bdl::sema
