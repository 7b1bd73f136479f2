//===- Learn.cpp - The learning rule ----------------------------------------===//
#include "sema/Builtins.h"
#include "sema/Checker.h"
#include "support/Format.h"

#include "bdl/param_range.h"

#include "llvm/Support/Casting.h"

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

void Checker::checkLearn() {
  // Lets point into their block's StringMap; its entries never move, but
  // keep the vector from reallocating anyway.
  model->learns.reserve(file.learns.size());
  llvm::StringMap<llvm::SMRange> updated, monitorNames, blockNames;
  for (const ast::LearnDecl &decl : file.learns) {
    if (file.learns.size() > 1 && !decl.name)
      diags.report(decl.keywordRange, DiagID::err_learn_block,
                   "a model with several learn blocks names each one, as in 'learn forward " +
                       decl.optimizer.name + "(...)'");
    if (decl.name)
      if (auto [it, added] = blockNames.try_emplace(decl.name->name, decl.name->range); !added) {
        diags.report(decl.name->range, DiagID::err_redefinition, decl.name->name);
        diags.report(it->second, DiagID::note_previous_definition);
      }
    if (decl.schedule && decl.schedule->name != "warmup")
      diags.report(decl.schedule->range, DiagID::err_learn_block,
                   "'after " + decl.schedule->name +
                       "' is not a schedule; a learn block may run 'after warmup'");
    checkLearnBlock(decl, updated, monitorNames);
  }
}

void Checker::checkLearnBlock(const ast::LearnDecl &decl, llvm::StringMap<llvm::SMRange> &updated,
                              llvm::StringMap<llvm::SMRange> &monitorNames) {
  CheckedLearn &block = model->learns.emplace_back();
  block.decl = &decl;
  block.blockName = decl.name ? "learn." + decl.name->name : "learn";
  block.afterWarmup = decl.schedule && decl.schedule->name == "warmup";
  learn = &block;
  inLearn = true;
  checkOptimizer(decl);
  letShapes.assign(decl.stmts.size(), std::nullopt);
  laterLets.clear();
  // A value used before its statement is an error, not a global of that
  // name; a predeclared name is the runtime's until a model declares it.
  for (const ast::LearnStmt &stmt : decl.stmts)
    if (stmt.kind == ast::LearnStmt::Kind::Let && !stmt.population &&
        !model->globals.count(stmt.name.name) && !findRuntimeScalar(stmt.name.name))
      laterLets.try_emplace(stmt.name.name, stmt.name.range);
  for (size_t i = 0; i < decl.stmts.size(); ++i) {
    const ast::LearnStmt &stmt = decl.stmts[i];
    if (stmt.kind == ast::LearnStmt::Kind::Monitor)
      continue; // after every update: a monitor may read update(W)
    if (stmt.kind == ast::LearnStmt::Kind::Update || stmt.population) {
      checkUpdate(stmt, updated); // `pop.x = ...` is refused there too
      continue;
    }
    std::optional<Shape> s = shape(stmt.value.get());
    if (s && rejectBatchedMatrix(stmt.value.get(), *s, stmt.name.name))
      s.reset();
    if (!declareLet(stmt, (int)i))
      continue;
    letShapes[i] = s;
    if (s)
      block.lets[stmt.name.name].shape = *s;
  }
  for (const ast::LearnStmt &stmt : decl.stmts)
    if (stmt.kind == ast::LearnStmt::Kind::Monitor)
      checkMonitor(stmt, monitorNames);
  inLearn = false;
  learn = nullptr;
}

void Checker::checkMonitor(const ast::LearnStmt &stmt, llvm::StringMap<llvm::SMRange> &names) {
  inMonitor = true;
  std::optional<Shape> s = shape(stmt.value.get());
  inMonitor = false;
  const std::string &name = stmt.name.name;
  // The columns metrics.csv has already (runtime/report/Report.cpp).
  static const char *const columns[] = {
      "epoch",         "train_loss", "train_accuracy",      "val_accuracy", "test_loss",
      "test_accuracy", "seconds",    "examples_per_second", "batch",        "examples"};
  for (const char *c : columns)
    if (name == c) {
      diags.report(stmt.name.range, DiagID::err_monitor,
                   "'" + name +
                       "' is a column of the run's logs already; name the monitor "
                       "otherwise");
      return;
    }
  if (auto [it, added] = names.try_emplace(name, stmt.name.range); !added) {
    diags.report(stmt.name.range, DiagID::err_redefinition, name);
    diags.report(it->second, DiagID::note_previous_definition);
    return;
  }
  if (s && (!s->isScalar() || s->batched)) {
    diags.report(stmt.value->getRange(), DiagID::err_monitor,
                 "a monitor is one number per batch, but this is " + describe(*s, model->params) +
                     "; summarise it with mean(), norm() or angle()");
    return;
  }
  if (s)
    learn->monitors.push_back(&stmt);
}

bool Checker::declareLet(const ast::LearnStmt &stmt, int index) {
  const std::string &name = stmt.name.name;
  if (const RuntimeScalar *r = findRuntimeScalar(name); r && !model->globals.count(name)) {
    diags.report(stmt.name.range, DiagID::err_predeclared_name, name, r->meaning);
    return false;
  }
  llvm::SMRange previous;
  if (auto g = model->globals.find(name); g != model->globals.end())
    previous = g->second.declRange;
  else if (auto l = learn->lets.find(name); l != learn->lets.end())
    previous = l->second.declRange;
  if (previous.isValid()) {
    diags.report(stmt.name.range, DiagID::err_redefinition, name);
    diags.report(previous, DiagID::note_previous_definition);
    return false;
  }
  Symbol let{Symbol::Kind::Let, index};
  let.declRange = stmt.name.range;
  learn->lets[name] = let;
  laterLets.erase(name);
  return true;
}

void Checker::checkOptimizer(const ast::LearnDecl &learn) {
  Optimizer &opt = this->learn->optimizer;
  if (learn.optimizer.name == "adam")
    opt.kind = Optimizer::Kind::Adam;
  else if (learn.optimizer.name != "sgd") {
    diags.report(learn.optimizer.range, DiagID::err_unknown_optimizer, learn.optimizer.name);
    return;
  }
  const char *name = opt.name();
  bool adam = opt.kind == Optimizer::Kind::Adam;
  size_t positional = 0;
  llvm::StringMap<llvm::SMRange> given;
  for (const ast::Arg &a : learn.args) {
    std::string key = a.key.empty() ? (positional == 0 ? "lr" : "") : a.key;
    llvm::SMRange where = a.key.empty() ? a.value->getRange() : a.keyRange;
    if (!key.empty()) {
      if (auto [it, inserted] = given.try_emplace(key, where); !inserted) {
        diags.report(where, DiagID::err_redefinition, key);
        diags.report(it->second, DiagID::note_previous_definition);
        continue;
      }
    }
    if (a.key.empty() && positional++ > 0) {
      diags.report(a.value->getRange(), DiagID::err_argument_count, name,
                   "1 positional argument (lr)", std::to_string(positional));
      continue;
    }
    const OptimizerArgument *arg = nullptr;
    for (const OptimizerArgument &candidate : kOptimizerArguments)
      if (key == candidate.name && (adam ? candidate.adam : candidate.sgd))
        arg = &candidate;
    if (!arg) {
      diags.report(a.keyRange, DiagID::err_unknown_argument, name, a.key);
      continue;
    }
    std::optional<Shape> s = shape(a.value.get());
    if (s && (!s->isScalar() || s->batched))
      diags.report(a.value->getRange(), DiagID::err_operand_type, name, "a scalar",
                   describe(*s, model->params));
    else if (s)
      checkArgumentRange(*arg, name, a.value.get());
    opt.*(arg->slot) = a.value.get();
  }
  if (!opt.lr)
    diags.report(learn.optimizer.range, DiagID::err_argument_count, name,
                 std::string("a learning rate: ") + name + "(lr) or " + name +
                     (adam ? "(lr, beta1 = b1, ...)" : "(lr, momentum = m)"),
                 "none is");
}

static bool inRange(ArgumentRange range, double v) { return inParamRange(int32_t(range), v); }

static const char *describe(ArgumentRange range) { return describeParamRange(int32_t(range)); }

void Checker::checkArgumentRange(const OptimizerArgument &arg, const char *optimizer,
                                 const ast::Expr *value) {
  if (arg.range == ArgumentRange::Any)
    return;
  Constant c = evaluate(value, /*report=*/false);
  if (c.status == Constant::Known) {
    if (!inRange(arg.range, c.value))
      diags.report(value->getRange(), DiagID::err_optimizer_argument, arg.name, optimizer,
                   describe(arg.range), formatNumber(c.value));
    return;
  }
  // A param given as the argument: its default and its tune range are
  // checked here, and every value --set or a tuning trial gives it by the
  // runtime (ir::Param::range).
  const auto *n = llvm::dyn_cast<ast::NameExpr>(value);
  auto resolved = n ? model->resolved.find(n) : model->resolved.end();
  if (resolved == model->resolved.end() || !resolved->second ||
      resolved->second->kind != Symbol::Kind::Param)
    return;
  ir::Param &p = model->params[size_t(resolved->second->index)];
  std::string why;
  if (!p.derivation && !inRange(arg.range, p.value))
    why = "param '" + p.name + "', which defaults to " + formatNumber(p.value);
  else if (p.tune == ir::TuneKind::Choice) {
    for (double choice : p.choices)
      if (why.empty() && !inRange(arg.range, choice))
        why = "param '" + p.name + "', whose tune choices include " + formatNumber(choice);
  } else if (p.tune != ir::TuneKind::None &&
             !(inRange(arg.range, p.lo) && inRange(arg.range, p.hi))) {
    why = "param '" + p.name + "', whose tune range [" + formatNumber(p.lo) + ", " +
          formatNumber(p.hi) + "] reaches past that";
  }
  if (!why.empty()) {
    diags.report(value->getRange(), DiagID::err_optimizer_argument, arg.name, optimizer,
                 describe(arg.range), why);
    diags.report(resolved->second->declRange, DiagID::note_declared_here, p.name);
    return;
  }
  if (p.range == ArgumentRange::Any) {
    p.range = arg.range;
    p.rangeUse = "'" + std::string(arg.name) + "' of '" + optimizer + "' at " +
                 diags.where(value->getRange().Start);
  }
}

/// The population whose state or value an update names (`out.C -= ...`, or
/// `C -= ...` where no other name is C), or null.
const CheckedPopulation *Checker::updatedPopulation(const ast::LearnStmt &stmt) {
  const std::string &name = stmt.name.name;
  if (!stmt.population &&
      (model->globals.count(name) || learn->lets.count(name) || findRuntimeScalar(name)))
    return nullptr;
  for (const CheckedPopulation &pop : model->populations)
    if ((!stmt.population || pop.decl->name.name == stmt.population->name) &&
        pop.byName.count(name))
      return &pop;
  return nullptr;
}

void Checker::checkUpdate(const ast::LearnStmt &stmt, llvm::StringMap<llvm::SMRange> &updated) {
  std::optional<Shape> rhs = shape(stmt.value.get());
  if (const CheckedPopulation *pop = updatedPopulation(stmt)) {
    const CheckedMember &m = pop->members[pop->byName.lookup(stmt.name.name)];
    std::string name = pop->decl->name.name + "." + m.name;
    llvm::SMRange where = stmt.name.range;
    if (stmt.population)
      where.Start = stmt.population->range.Start;
    diags.report(where, DiagID::err_invalid_update, name,
                 std::string("it is a ") + (m.isState ? "state" : "value") + " of population '" +
                     pop->decl->name.name +
                     "', which changes only by its own statements; only weights are learned");
    if (const ast::PopulationStmt *decl = declarationOf(*pop, m))
      diags.report(decl->name.range, DiagID::note_declared_here, name);
    return;
  }
  if (stmt.population) {
    const Symbol *p = resolveName(stmt.population->name, stmt.population->range);
    if (p && p->kind != Symbol::Kind::Population)
      diags.report(stmt.population->range, DiagID::err_invalid_update,
                   stmt.population->name + "." + stmt.name.name,
                   "'" + stmt.population->name + "' is a " + describe(p->kind) +
                       ", not a population; only weights are learned");
    else if (p)
      diags.report(stmt.name.range, DiagID::err_unknown_member, stmt.population->name,
                   stmt.name.name);
    return;
  }
  const Symbol *target = resolveName(stmt.name.name, stmt.name.range);
  if (!target)
    return;
  auto refuse = [&](const std::string &why) {
    diags.report(stmt.name.range, DiagID::err_invalid_update, stmt.name.name, why);
    if (target->declRange.isValid())
      diags.report(target->declRange, DiagID::note_declared_here, stmt.name.name);
  };
  if (target->kind == Symbol::Kind::Runtime) {
    refuse("it is a value the runtime sets; only weights are learned");
    return;
  }
  if (target->kind != Symbol::Kind::Tensor) {
    refuse(std::string("it is a ") + describe(target->kind) + "; only weights are learned");
    return;
  }
  if (target->tensor->kind != ast::TensorKind::Weight) {
    refuse(std::string("it is ") + (target->tensor->kind == ast::TensorKind::Fixed
                                        ? "a fixed tensor, never learned"
                                        : "data, not a weight"));
    return;
  }
  if (auto [it, inserted] = updated.try_emplace(stmt.name.name, stmt.name.range); !inserted) {
    diags.report(stmt.name.range, DiagID::err_invalid_update, stmt.name.name,
                 "it is already updated in this model; combine the two updates");
    diags.report(it->second, DiagID::note_previous_definition);
    return;
  }
  learn->updates.push_back({&stmt, target->index});
  if (!rhs)
    return;
  if (!rhs->isScalar() && rhs->dims != target->shape.dims) {
    diags.report(stmt.value->getRange(), DiagID::err_update_shape, stmt.name.name,
                 describe(target->shape, model->params), describe(*rhs, model->params));
    return;
  }
  checkLinearInOuter(stmt.value.get());
}

void Checker::checkLinearInOuter(const ast::Expr *e) {
  const Shape &s = model->shapeOf(e);
  if (!(s.isMatrix() && s.batched))
    return;
  if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
    const Shape &l = model->shapeOf(b->lhs.get()), &r = model->shapeOf(b->rhs.get());
    bool lScalar = l.isScalar() && !l.batched, rScalar = r.isScalar() && !r.batched;
    if (b->op == ast::BinaryOp::Add || b->op == ast::BinaryOp::Sub) {
      checkLinearInOuter(b->lhs.get());
      checkLinearInOuter(b->rhs.get());
      return;
    }
    if (b->op == ast::BinaryOp::Mul && (lScalar || rScalar)) {
      checkLinearInOuter(lScalar ? b->rhs.get() : b->lhs.get());
      return;
    }
    if (b->op == ast::BinaryOp::Div && rScalar) {
      checkLinearInOuter(b->lhs.get());
      return;
    }
  } else if (auto *n = dyn_cast<ast::NegExpr>(e)) {
    checkLinearInOuter(n->operand.get());
    return;
  } else if (auto *c = dyn_cast<ast::CallExpr>(e); c && c->callee == "outer") {
    return;
  }
  diags.report(e->getRange(), DiagID::err_invalid_update, "this expression",
               "a per-example matrix in an update must be outer(a, b) terms, added, negated "
               "or scaled by model-wide scalars");
}

} // namespace bdl::sema
