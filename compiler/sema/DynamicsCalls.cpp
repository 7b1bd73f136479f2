//===- DynamicsCalls.cpp - Params as scalars, dynamics builtins -------------===//
//
// The builtins of neuron dynamics (prev, fir, iota, mean, if, poisson,
// bernoulli, wald) are checked here rather than through Builtins.cpp's
// table: their arguments are windows, lags and distributions, not tensors
// of a shape. A phase length, a record window or a lag is a scalar of
// params, evaluated at the defaults (paramExpression).
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

/// The builtins checked here rather than through Builtins.cpp's table.
static bool isDynamicsBuiltin(const std::string &f) {
  return f == "prev" || f == "fir" || f == "iota" || f == "mean" || f == "if" || f == "poisson" ||
         f == "bernoulli" || f == "wald";
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

} // namespace bdl::sema
