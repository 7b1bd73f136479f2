//===- Populations.cpp - Populations, their members and reads ---------------===//
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

} // namespace bdl::sema
