//===- Dynamics.cpp - Populations, phases, records and evaluation ---------===//
//
// A population's statements run in order in every time step, populations in
// declaration order. A read of a value sees this step's value when it was
// computed earlier in the step and must say prev(x) otherwise: there is no
// implicit delay, so a cycle between populations is always broken by an
// explicit prev(). A state read before its update sees the previous step's
// value, as the reference implementations do. Every read is resolved here to
// a buffer of the member's history (CheckedModel::memberReads), which
// lowering turns into plain loads.
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

const char *spelling(Solver s) {
  switch (s) {
  case Solver::Euler:
    return "euler";
  case Solver::ExpEuler:
    return "exp_euler";
  case Solver::RK4:
    return "rk4";
  case Solver::Exact:
    return "exact";
  }
  return "?";
}

/// The builtins checked here rather than through Builtins.cpp's table.
static bool isDynamicsBuiltin(const std::string &f) {
  return f == "prev" || f == "fir" || f == "iota" || f == "mean" || f == "if" || f == "poisson" ||
         f == "bernoulli" || f == "wald";
}

//===-- Declarations --------------------------------------------------------===//

void Checker::declarePopulations() {
  model->populations.resize(file.populations.size());
  model->memberSymbols.resize(file.populations.size());
  for (size_t p = 0; p < file.populations.size(); ++p) {
    const ast::PopulationDecl &decl = file.populations[p];
    CheckedPopulation &pop = model->populations[p];
    pop.decl = &decl;
    declare(decl.name, {Symbol::Kind::Population, (int)p});
    auto add = [&](const ast::Ident &name, bool isState) -> int {
      auto [it, inserted] = pop.byName.try_emplace(name.name, (int)pop.members.size());
      if (!inserted) {
        diags.report(name.range, DiagID::err_redefinition, name.name);
        diags.report(pop.members[it->second].update ? pop.members[it->second].update->name.range
                                                    : name.range,
                     DiagID::note_previous_definition);
        return -1;
      }
      CheckedMember m;
      m.name = name.name;
      m.isState = isState;
      pop.members.push_back(m);
      return it->second;
    };
    for (const ast::PopulationStmt &s : decl.stmts)
      if (s.kind == ast::PopulationStmt::Kind::State)
        add(s.name, true);
    for (size_t i = 0; i < decl.stmts.size(); ++i) {
      const ast::PopulationStmt &s = decl.stmts[i];
      if (s.kind == ast::PopulationStmt::Kind::State)
        continue;
      auto it = pop.byName.find(s.name.name);
      int index = -1;
      if (s.kind == ast::PopulationStmt::Kind::Ode) {
        if (it == pop.byName.end() || !pop.members[it->second].isState) {
          diags.report(s.name.range, DiagID::err_ode_undeclared_state, s.name.name, decl.name.name);
          if (it != pop.byName.end() && pop.members[it->second].update)
            diags.report(pop.members[it->second].update->name.range, DiagID::note_value_here,
                         s.name.name);
          continue;
        }
        index = it->second;
      } else if (it != pop.byName.end() && pop.members[it->second].isState) {
        index = it->second; // assigns the state
      } else {
        index = add(s.name, false);
        if (index < 0)
          continue;
      }
      CheckedMember &m = pop.members[index];
      if (m.update) {
        if (m.isState) {
          diags.report(s.name.range, DiagID::err_state_updated_twice, s.name.name);
          diags.report(m.update->name.range, DiagID::note_first_update, s.name.name);
        } else {
          diags.report(s.name.range, DiagID::err_redefinition, s.name.name);
          diags.report(m.update->name.range, DiagID::note_previous_definition);
        }
        continue;
      }
      m.update = &s;
      m.updateIndex = (int)i;
    }
    // Symbols for the population's own names; stable from here on.
    for (size_t m = 0; m < pop.members.size(); ++m) {
      Symbol sym{Symbol::Kind::Member, (int)p};
      sym.member = (int)m;
      sym.shape = Shape{true, {}};
      model->memberSymbols[p].push_back(sym);
    }
  }
  for (size_t ph = 0; ph < file.phases.size(); ++ph)
    for (const ast::PhaseStmt &s : file.phases[ph].stmts)
      if (s.kind == ast::PhaseStmt::Kind::Record) {
        int index = (int)model->records.size();
        model->records.push_back({&s, (int)ph});
        declare(s.name, {Symbol::Kind::Record, index});
      }
  recordShapes.resize(model->records.size());
}

const ast::PopulationStmt *declarationOf(const CheckedPopulation &pop, const CheckedMember &m) {
  for (const ast::PopulationStmt &s : pop.decl->stmts)
    if (s.name.name == m.name && (!m.isState || s.kind == ast::PopulationStmt::Kind::State))
      return &s;
  return nullptr;
}

const Symbol *Checker::lookupMember(const std::string &name) {
  if (position.population < 0)
    return nullptr;
  const CheckedPopulation &pop = model->populations[position.population];
  auto it = pop.byName.find(name);
  if (it == pop.byName.end())
    return nullptr;
  return &model->memberSymbols[position.population][it->second];
}

//===-- Reads ---------------------------------------------------------------===//

std::optional<Shape> Checker::memberShape(const ast::Expr *use, int p, int m) {
  CheckedPopulation &pop = model->populations[p];
  CheckedMember &member = pop.members[m];
  bool isPrev = prevDepth > 0;
  int lag = isPrev ? 1 : 0;
  if (inPopulationStep()) {
    // Has the member been computed earlier in this step than the read?
    bool earlier = p < position.population ||
                   (p == position.population && member.updateIndex >= 0 &&
                    member.updateIndex < position.stmt) ||
                   member.updateIndex < 0;
    if (!earlier) {
      if (!isPrev && !member.isState) {
        std::string name =
            p == position.population ? member.name : pop.decl->name.name + "." + member.name;
        diags.report(use->getRange(), DiagID::err_step_cycle, name);
        if (member.update)
          diags.report(member.update->name.range, DiagID::note_computed_later, name);
        return std::nullopt;
      }
      lag = 0; // the tensor still holds the previous step's value
    }
  }
  member.history = std::max(member.history, lag + 1);
  model->memberReads[use] = {p, m, lag};
  return Shape{true, {pop.size}};
}

std::optional<Shape> Checker::memberExprShape(const ast::MemberExpr *e) {
  auto g = model->globals.find(e->population);
  if (g == model->globals.end() || g->second.kind != Symbol::Kind::Population) {
    if (g == model->globals.end())
      diags.report(e->populationRange, DiagID::err_undeclared, e->population);
    else
      diags.report(e->populationRange, DiagID::err_not_a_value,
                   "'" + e->population + "' is a " + describe(g->second.kind) +
                       ", not a population");
    return std::nullopt;
  }
  int p = g->second.index;
  const CheckedPopulation &pop = model->populations[p];
  auto it = pop.byName.find(e->name);
  if (it == pop.byName.end()) {
    diags.report(e->nameRange, DiagID::err_unknown_member, e->population, e->name);
    return std::nullopt;
  }
  return memberShape(e, p, it->second);
}

//===-- Scalars of params -----------------------------------------------------===//

std::optional<double> Checker::paramExpression(const ast::Expr *e, const char *what,
                                               bool allowDraws) {
  auto fail = [&](const ast::Expr *at) -> std::optional<double> {
    diags.report(at->getRange(), DiagID::err_param_expression, what);
    return std::nullopt;
  };
  if (auto *n = dyn_cast<ast::NumberExpr>(e))
    return n->value;
  if (auto *b = dyn_cast<ast::BoolExpr>(e))
    return b->value ? 1.0 : 0.0;
  if (auto *n = dyn_cast<ast::NameExpr>(e)) {
    const Symbol *s = lookup(n);
    if (!s)
      return std::nullopt;
    if (s->kind == Symbol::Kind::Const)
      return constValue(s->index, n).value;
    if (s->kind == Symbol::Kind::Param) {
      if (s->index >= (int)model->params.size()) {
        diags.report(n->getRange(), DiagID::err_use_before_definition, n->name);
        return std::nullopt;
      }
      return model->params[s->index].value;
    }
    return fail(e);
  }
  if (auto *n = dyn_cast<ast::NegExpr>(e)) {
    auto v = paramExpression(n->operand.get(), what, allowDraws);
    return v ? std::optional<double>(-*v) : std::nullopt;
  }
  if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
    if (b->op == ast::BinaryOp::MatMul)
      return fail(e);
    auto l = paramExpression(b->lhs.get(), what, allowDraws);
    auto r = paramExpression(b->rhs.get(), what, allowDraws);
    if (!l || !r)
      return std::nullopt;
    switch (b->op) {
    case ast::BinaryOp::Add:
      return *l + *r;
    case ast::BinaryOp::Sub:
      return *l - *r;
    case ast::BinaryOp::Mul:
      return *l * *r;
    case ast::BinaryOp::Div:
      return *r == 0 ? 0.0 : *l / *r; // a zero divisor at the defaults is not an error yet
    case ast::BinaryOp::Pow:
      return std::pow(*l, *r);
    case ast::BinaryOp::Lt:
      return double(*l < *r);
    case ast::BinaryOp::Le:
      return double(*l <= *r);
    case ast::BinaryOp::Gt:
      return double(*l > *r);
    case ast::BinaryOp::Ge:
      return double(*l >= *r);
    case ast::BinaryOp::Eq:
      return double(*l == *r);
    case ast::BinaryOp::Ne:
      return double(*l != *r);
    case ast::BinaryOp::MatMul:
      break;
    }
    return fail(e);
  }
  auto *call = dyn_cast<ast::CallExpr>(e);
  if (!call)
    return fail(e);
  std::vector<double> args;
  for (const ast::Arg &a : call->args) {
    if (!a.key.empty() || a.window)
      return fail(e);
    auto v = paramExpression(a.value.get(), what, allowDraws);
    if (!v)
      return std::nullopt;
    args.push_back(*v);
  }
  const std::string &f = call->callee;
  auto arity = [&](size_t n) {
    if (args.size() == n)
      return true;
    diags.report(call->getRange(), DiagID::err_argument_count, f,
                 std::to_string(n) + (n == 1 ? " argument" : " arguments"),
                 std::to_string(args.size()));
    return false;
  };
  if (f == "if")
    return arity(3) ? std::optional<double>(args[0] != 0 ? args[1] : args[2]) : std::nullopt;
  if (f == "wald") {
    if (!allowDraws) {
      diags.report(call->calleeRange, DiagID::err_misplaced_call,
                   "wald() draws a phase length; it can only appear in 'steps'");
      return std::nullopt;
    }
    return arity(2) ? std::optional<double>(args[0]) : std::nullopt; // its mean
  }
  static const std::pair<const char *, double (*)(double)> unary[] = {
      {"exp", [](double x) { return std::exp(x); }},
      {"log", [](double x) { return std::log(x); }},
      {"sqrt", [](double x) { return std::sqrt(x); }},
      {"abs", [](double x) { return std::fabs(x); }}};
  for (auto [name, fn] : unary)
    if (f == name)
      return arity(1) ? std::optional<double>(fn(args[0])) : std::nullopt;
  if (f == "min" || f == "max") {
    if (!arity(2))
      return std::nullopt;
    return f == "min" ? std::min(args[0], args[1]) : std::max(args[0], args[1]);
  }
  if (!isDynamicsBuiltin(f) && !findBuiltin(f)) {
    diags.report(call->calleeRange, DiagID::err_unknown_function, f);
    return std::nullopt;
  }
  return fail(e);
}

//===-- Calls of the dynamics builtins -----------------------------------------===//

std::optional<Shape> Checker::dynamicsCallShape(const ast::CallExpr *call, bool &handled) {
  const std::string &f = call->callee;
  handled = isDynamicsBuiltin(f);
  if (!handled)
    return std::nullopt;
  auto misplaced = [&](const std::string &why) -> std::optional<Shape> {
    diags.report(call->calleeRange, DiagID::err_misplaced_call, why);
    return std::nullopt;
  };
  // prev() and fir() of something that is not a member: at the argument.
  auto notMember = [&](const std::string &why) -> std::optional<Shape> {
    diags.report(call->args[0].value->getRange(), DiagID::err_misplaced_call, why);
    return std::nullopt;
  };
  size_t want = f == "if" ? 3 : f == "fir" || f == "mean" || f == "wald" ? 2 : 1;
  if (call->args.size() != want) {
    diags.report(call->getRange(), DiagID::err_argument_count, f,
                 std::to_string(want) + (want == 1 ? " argument" : " arguments"),
                 std::to_string(call->args.size()));
    return std::nullopt;
  }
  for (size_t i = 0; i < call->args.size(); ++i) {
    const ast::Arg &a = call->args[i];
    bool windowHere = f == "mean" && i == 1;
    if (!a.key.empty() || a.window != windowHere) {
      if (windowHere)
        diags.report(a.value->getRange(), DiagID::err_misplaced_call,
                     "mean(x, last K) averages x over the last K steps of the phase; write "
                     "'last K'");
      else
        diags.report(a.key.empty() ? a.windowRange : a.keyRange, DiagID::err_unknown_argument, f,
                     a.key.empty() ? "last" : a.key);
      return std::nullopt;
    }
  }
  const ast::Expr *arg0 = call->args[0].value.get();
  if (f == "wald")
    return misplaced("wald() draws a phase length; it can only appear in 'steps'");
  if (f == "poisson" || f == "bernoulli") {
    if (place != Place::Step)
      return misplaced(f + "() draws in every time step; it can only appear in a population");
    std::optional<Shape> s = shape(arg0);
    if (s && inPopulationStep())
      if (const ast::PopulationStmt *stmt =
              file.populations[position.population].stmts[position.stmt].kind ==
                      ast::PopulationStmt::Kind::Value
                  ? &file.populations[position.population].stmts[position.stmt]
                  : nullptr) {
        CheckedPopulation &pop = model->populations[position.population];
        if (auto it = pop.byName.find(stmt->name.name); it != pop.byName.end())
          pop.members[it->second].replayable = true;
      }
    if (s)
      s->batched = true;
    return s;
  }
  if (f == "if") {
    std::optional<Shape> c = shape(arg0), a = shape(call->args[1].value.get()),
                         b = shape(call->args[2].value.get());
    if (!c || !a || !b)
      return std::nullopt;
    std::optional<Shape> ab = broadcast(*a, *b, "choose between", call->getRange());
    if (!ab)
      return std::nullopt;
    return broadcast(*c, *ab, "choose with", call->getRange());
  }
  if (f == "iota") {
    auto n = constant(arg0, "the length of iota(n)");
    if (!n)
      return std::nullopt;
    if (*n < 1 || *n != std::floor(*n) || *n > 4096) {
      diags.report(arg0->getRange(), DiagID::err_invalid_value,
                   "iota(n) needs an integer n between 1 and 4096");
      return std::nullopt;
    }
    return Shape{false, {ir::Dim::constant((int64_t)*n)}};
  }
  if (f == "prev") {
    auto *inner = dyn_cast<ast::CallExpr>(arg0);
    if (prevDepth > 0 || (inner && inner->callee == "prev"))
      return misplaced("prev(prev(x)) is not supported; keep a history with fir()");
    if (!isa<ast::NameExpr>(arg0) && !isa<ast::MemberExpr>(arg0))
      return notMember("prev() reads a population's value or state, as in prev(out.psp); "
                       "this is not one");
    ++prevDepth;
    std::optional<Shape> s = shape(arg0);
    --prevDepth;
    if (!s)
      return std::nullopt;
    auto read = model->memberReads.find(arg0);
    if (read == model->memberReads.end())
      return notMember("prev() reads a population's value or state, as in prev(out.psp); "
                       "this is not one");
    MemberRead r = read->second; // inserting below may move the map's entries
    model->memberReads[call] = r;
    return s;
  }
  if (f == "fir") {
    const ast::Expr *x = arg0;
    if (auto *inner = dyn_cast<ast::CallExpr>(x);
        !(isa<ast::NameExpr>(x) || isa<ast::MemberExpr>(x) || (inner && inner->callee == "prev")))
      return notMember("fir(x, taps) filters a population's value, as in fir(out.s, taps); "
                       "this is not one");
    std::optional<Shape> s = shape(x);
    std::optional<Shape> taps = shape(call->args[1].value.get());
    if (!s || !taps)
      return std::nullopt;
    auto read = model->memberReads.find(x);
    if (read == model->memberReads.end())
      return notMember("fir(x, taps) filters a population's value, as in fir(out.s, taps); "
                       "this is not one");
    if (!taps->isVector() || taps->batched || taps->dims[0].kind != ir::Dim::Kind::Const) {
      diags.report(call->args[1].value->getRange(), DiagID::err_operand_type, "fir",
                   "a vector of a constant length, computed from params (e.g. "
                   "kappa(iota(10) + 1, tau_L, tau_s))",
                   describe(*taps, model->params));
      return std::nullopt;
    }
    CheckedMember &m = model->populations[read->second.population].members[read->second.member];
    m.history = std::max<int>(m.history, read->second.lag + (int)taps->dims[0].value);
    return s;
  }
  // mean(x, last K)
  if (place != Place::Record && place != Place::Predict)
    return misplaced("mean(x, last K) is a phase record; it can only appear in 'record' or "
                     "'predict'");
  if (windowDepth > 0)
    return misplaced("a window inside a window is not supported");
  auto k = paramExpression(call->args[1].value.get(), "a record window", false);
  if (!k)
    return std::nullopt;
  if (*k < 1 || *k != std::floor(*k)) {
    diags.report(call->args[1].value->getRange(), DiagID::err_invalid_value,
                 "a record window must be a positive whole number of steps, not " +
                     formatNumber(*k));
    return std::nullopt;
  }
  if (windowPhaseSteps > 0 && *k > windowPhaseSteps) {
    diags.report(call->args[1].value->getRange(), DiagID::err_record_window, formatNumber(*k),
                 windowPhaseName, formatNumber(windowPhaseSteps));
    noteAtDefaults(call->args[1].value.get());
    if (windowPhaseExpr)
      noteAtDefaults(windowPhaseExpr);
    return std::nullopt;
  }
  ++windowDepth;
  std::optional<Shape> s = shape(arg0);
  --windowDepth;
  return s;
}

//===-- Populations -----------------------------------------------------------===//

namespace {

/// Whether `e` is affine in the member (p, m): lowering may then use the
/// exact solution of a linear ODE.
bool isAffineIn(const ast::Expr *e, const CheckedModel &model, int p, int m) {
  std::function<bool(const ast::Expr *, bool &)> walk = [&](const ast::Expr *x,
                                                            bool &uses) -> bool {
    if (auto it = model.memberReads.find(x); it != model.memberReads.end()) {
      uses = it->second.population == p && it->second.member == m;
      return true;
    }
    if (auto *n = dyn_cast<ast::NegExpr>(x))
      return walk(n->operand.get(), uses);
    if (auto *b = dyn_cast<ast::BinaryExpr>(x)) {
      bool l = false, r = false;
      if (!walk(b->lhs.get(), l) || !walk(b->rhs.get(), r))
        return false;
      uses = l || r;
      switch (b->op) {
      case ast::BinaryOp::Add:
      case ast::BinaryOp::Sub:
        return true;
      case ast::BinaryOp::Mul:
        return !(l && r);
      case ast::BinaryOp::Div:
        return !r;
      default:
        return !uses;
      }
    }
    if (auto *c = dyn_cast<ast::CallExpr>(x)) {
      bool any = false;
      std::vector<bool> used;
      for (const ast::Arg &a : c->args) {
        bool u = false;
        if (!walk(a.value.get(), u))
          return false;
        used.push_back(u);
        any |= u;
      }
      uses = any;
      if (c->callee == "if" && used.size() == 3)
        return !used[0];
      return !any;
    }
    return true;
  };
  bool uses = false;
  return walk(e, uses);
}

} // namespace

void Checker::checkPopulations() {
  for (size_t p = 0; p < file.populations.size(); ++p)
    model->populations[p].size = checkDim(file.populations[p].size.get());
  const Symbol *dt = nullptr;
  if (auto it = model->globals.find("dt"); it != model->globals.end())
    dt = &it->second;
  bool dtChecked = false;
  for (size_t p = 0; p < file.populations.size(); ++p) {
    const ast::PopulationDecl &decl = file.populations[p];
    CheckedPopulation &pop = model->populations[p];
    for (size_t i = 0; i < decl.stmts.size(); ++i) {
      const ast::PopulationStmt &s = decl.stmts[i];
      auto it = pop.byName.find(s.name.name);
      if (it == pop.byName.end())
        continue; // reported when declared
      CheckedMember &member = pop.members[it->second];
      if (s.kind == ast::PopulationStmt::Kind::State) {
        if (auto v = constant(s.value.get(), "a state's initial value"))
          member.init = *v;
        continue;
      }
      if (member.update != &s)
        continue;
      position = {(int)p, (int)i};
      place = Place::Step;
      std::optional<Shape> shape = this->shape(s.value.get());
      place = Place::Model;
      position = {};
      if (!shape)
        continue;
      bool fits = shape->isScalar() || (shape->isVector() && shape->dims[0] == pop.size);
      if (!fits) {
        diags.report(s.value->getRange(), DiagID::err_member_shape, s.name.name, decl.name.name,
                     describe(Shape{true, {pop.size}}, model->params),
                     describe(*shape, model->params));
        continue;
      }
      if (s.kind != ast::PopulationStmt::Kind::Ode)
        continue;
      if (!dt || dt->kind != Symbol::Kind::Param) {
        diags.report(s.name.range, DiagID::err_missing_declaration, file.name.name,
                     "param 'dt' (the time step every ODE is integrated with)");
        continue;
      }
      if (const ir::Param &step = model->params[dt->index];
          !dtChecked && (step.type == ir::ParamType::Bool || !(step.value > 0))) {
        diags.report(file.params[dt->index].value->getRange(), DiagID::err_invalid_value,
                     "the time step 'dt' must be a positive number of time units, not " +
                         (step.type == ir::ParamType::Bool ? std::string("a bool")
                                                           : formatNumber(step.value)));
        diags.report(s.range, DiagID::note_in_ode, s.name.name);
      }
      dtChecked = true;
      bool affine = isAffineIn(s.value.get(), *model, (int)p, it->second);
      if (s.solver) {
        static const std::pair<const char *, Solver> solvers[] = {{"euler", Solver::Euler},
                                                                  {"exp_euler", Solver::ExpEuler},
                                                                  {"rk4", Solver::RK4},
                                                                  {"exact", Solver::Exact}};
        bool known = false;
        for (auto [name, solver] : solvers)
          if (s.solver->name == name)
            member.solver = solver, known = true;
        if (!known) {
          diags.report(s.solver->range, DiagID::err_unknown_solver, s.solver->name);
          continue;
        }
        if ((member.solver == Solver::Exact || member.solver == Solver::ExpEuler) && !affine) {
          diags.report(s.solver->range, DiagID::err_solver_needs_linear, s.solver->name,
                       s.name.name);
          continue;
        }
      } else {
        member.solver = affine ? Solver::Exact : Solver::RK4;
        member.solverChosen = true;
      }
      // The fastest time constant at the default params, with the other
      // values at zero: 1 / |df/dC|, for the warning below.
      std::function<std::optional<double>(const ast::Expr *, double)> at =
          [&](const ast::Expr *x, double c) -> std::optional<double> {
        if (auto r = model->memberReads.find(x); r != model->memberReads.end())
          return r->second.population == (int)p && r->second.member == it->second ? c : 0.0;
        if (auto *n = dyn_cast<ast::NumberExpr>(x))
          return n->value;
        if (auto *n = dyn_cast<ast::NameExpr>(x)) {
          auto r = model->resolved.find(n);
          if (r == model->resolved.end())
            return std::nullopt;
          if (r->second->kind == Symbol::Kind::Param)
            return model->params[r->second->index].value;
          if (r->second->kind == Symbol::Kind::Const)
            return r->second->constValue;
          return 0.0;
        }
        if (auto *n = dyn_cast<ast::NegExpr>(x)) {
          auto v = at(n->operand.get(), c);
          return v ? std::optional<double>(-*v) : std::nullopt;
        }
        if (auto *b = dyn_cast<ast::BinaryExpr>(x)) {
          auto l = at(b->lhs.get(), c), r = at(b->rhs.get(), c);
          if (!l || !r)
            return std::nullopt;
          switch (b->op) {
          case ast::BinaryOp::Add:
            return *l + *r;
          case ast::BinaryOp::Sub:
            return *l - *r;
          case ast::BinaryOp::Mul:
            return *l * *r;
          case ast::BinaryOp::Div:
            return *r == 0 ? std::nullopt : std::optional<double>(*l / *r);
          default:
            return std::nullopt;
          }
        }
        return std::nullopt;
      };
      if (affine && dt) {
        auto f0 = at(s.value.get(), 0), f1 = at(s.value.get(), 1);
        double step = model->params[dt->index].value;
        if (f0 && f1 && *f1 - *f0 != 0) {
          double tau = 1 / std::fabs(*f1 - *f0);
          if (step > tau && member.solver != Solver::Exact && member.solver != Solver::ExpEuler)
            diags.report(s.range, DiagID::warn_stiff_ode, formatNumber(step), s.name.name,
                         formatNumber(tau), spelling(member.solver));
        }
      }
    }
  }
}

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
