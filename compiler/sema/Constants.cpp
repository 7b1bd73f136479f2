//===- Constants.cpp - Params, consts and compile-time values ---------------===//
#include "sema/Checker.h"
#include "support/Format.h"

#include "llvm/Support/Casting.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

void Checker::checkParams() {
  for (const ast::ParamDecl &p : file.params) {
    ir::Param param;
    param.name = p.name.name;
    // A param defined by other params is derived: recomputed at run time
    // after every --set, never set itself.
    std::optional<double> value;
    if (evaluate(p.value.get(), /*report=*/false).status == Constant::NotConstant &&
        usesParam(p.value.get())) {
      value = paramExpression(p.value.get(), "a derived param", false);
      model->derivations[(int)model->params.size()] = p.value.get();
      if (p.tune)
        diags.report(p.tune->range, DiagID::err_invalid_tune,
                     "'" + p.name.name + "' is derived from other params; tune those instead");
    } else {
      value = constant(p.value.get(), "a param's default value");
    }
    param.value = value.value_or(0);
    if (isa<ast::BoolExpr>(p.value.get()))
      param.type = ir::ParamType::Bool;
    if (p.tune)
      checkTune(p, param);
    model->params.push_back(param);
  }
}

void Checker::checkTune(const ast::ParamDecl &p, ir::Param &param) {
  const ast::TuneSpec &t = *p.tune;
  std::string kind = t.kind ? t.kind->name : "";
  if (kind.empty())
    param.tune = ir::TuneKind::Linear;
  else if (kind == "log")
    param.tune = ir::TuneKind::Log;
  else if (kind == "int")
    param.tune = ir::TuneKind::Int, param.type = ir::ParamType::Int;
  else if (kind == "bool")
    param.tune = ir::TuneKind::Bool, param.type = ir::ParamType::Bool;
  else if (kind == "choice")
    param.tune = ir::TuneKind::Choice;
  else {
    diags.report(t.kind->range, DiagID::err_invalid_tune,
                 "unknown tune kind '" + kind + "'; expected 'log', 'int', 'bool' or 'choice'");
    return;
  }
  if (param.tune == ir::TuneKind::Bool) {
    if (!t.values.empty())
      diags.report(t.range, DiagID::err_invalid_tune, "a bool param takes no range");
    param.lo = 0, param.hi = 1;
    return;
  }
  if (param.tune == ir::TuneKind::Choice) {
    checkChoices(p, param);
    return;
  }
  if (t.values.size() != 2) {
    diags.report(t.range, DiagID::err_invalid_tune,
                 t.values.empty() ? "'tune' needs a range: tune [lo, hi]"
                                  : "a range has two bounds, [lo, hi]; `tune choice [a, b, c]` "
                                    "lists values");
    return;
  }
  const ast::ExprPtr &loExpr = t.values[0], &hiExpr = t.values[1];
  auto lo = constant(loExpr.get(), "a tune bound"), hi = constant(hiExpr.get(), "a tune bound");
  if (!lo || !hi)
    return;
  param.lo = *lo, param.hi = *hi;
  if (!(*lo < *hi))
    diags.report(t.range, DiagID::err_invalid_tune,
                 "empty range: the lower bound must be below the upper bound");
  else if (param.tune == ir::TuneKind::Log && *lo <= 0)
    diags.report(loExpr->getRange(), DiagID::err_invalid_tune,
                 "a log-scale range must be positive");
  else if (param.tune == ir::TuneKind::Int && (*lo != std::floor(*lo) || *hi != std::floor(*hi)))
    diags.report(t.range, DiagID::err_invalid_tune, "an int range needs integer bounds");
  else if (param.value < *lo || param.value > *hi)
    diags.report(p.value->getRange(), DiagID::err_invalid_tune,
                 "default " + formatNumber(param.value) + " lies outside the tune range");
}

void Checker::checkChoices(const ast::ParamDecl &p, ir::Param &param) {
  const ast::TuneSpec &t = *p.tune;
  if (t.values.size() < 2) {
    diags.report(t.range, DiagID::err_invalid_tune,
                 "a choice lists at least two values: tune choice [a, b, ...]");
    return;
  }
  for (const ast::ExprPtr &v : t.values) {
    std::optional<double> value = constant(v.get(), "a choice");
    if (!value)
      return;
    if (std::count(param.choices.begin(), param.choices.end(), *value)) {
      diags.report(v->getRange(), DiagID::err_invalid_tune,
                   "value " + formatNumber(*value) + " is listed twice");
      return;
    }
    param.choices.push_back(*value);
  }
  param.lo = *std::min_element(param.choices.begin(), param.choices.end());
  param.hi = *std::max_element(param.choices.begin(), param.choices.end());
  if (!std::count(param.choices.begin(), param.choices.end(), param.value))
    diags.report(p.value->getRange(), DiagID::err_invalid_tune,
                 "default " + formatNumber(param.value) + " is not one of the listed choices");
  bool integral = std::all_of(param.choices.begin(), param.choices.end(),
                              [](double c) { return c == std::floor(c); });
  if (integral && param.value == std::floor(param.value))
    param.type = ir::ParamType::Int; // a choice of sizes may size tensors
}

bool Checker::usesParam(const ast::Expr *e) {
  if (auto *n = dyn_cast<ast::NameExpr>(e)) {
    auto it = model->globals.find(n->name);
    return it != model->globals.end() && it->second.kind == Symbol::Kind::Param;
  }
  if (auto *n = dyn_cast<ast::NegExpr>(e))
    return usesParam(n->operand.get());
  if (auto *b = dyn_cast<ast::BinaryExpr>(e))
    return usesParam(b->lhs.get()) || usesParam(b->rhs.get());
  if (auto *c = dyn_cast<ast::CallExpr>(e))
    for (const ast::Arg &a : c->args)
      if (usesParam(a.value.get()))
        return true;
  return false;
}

void Checker::checkConsts() {
  for (size_t i = 0; i < file.consts.size(); ++i)
    constValue(i, nullptr);
}

Constant Checker::constValue(size_t index, const ast::NameExpr *use) {
  // Consts are evaluated on first use, so their order in the file does not
  // matter; a cycle is an error.
  ConstState &state = constStates[index];
  if (state.status == ConstState::Evaluating) {
    if (use) {
      diags.report(use->getRange(), DiagID::err_circular_definition, use->name);
      diags.report(file.consts[index].name.range, DiagID::note_declared_here, use->name);
    }
    return {Constant::Invalid};
  }
  if (state.status == ConstState::Pending) {
    state.status = ConstState::Evaluating;
    const ast::ConstDecl &c = file.consts[index];
    std::optional<double> v = constant(c.value.get(), "a const");
    state.status = v ? ConstState::Known : ConstState::Invalid;
    state.value = v.value_or(0);
    if (Symbol &s = model->globals[c.name.name];
        s.kind == Symbol::Kind::Const && s.index == (int)index)
      s.constValue = state.value;
  }
  if (state.status == ConstState::Invalid)
    return {Constant::Invalid};
  return {Constant::Known, state.value};
}

std::optional<double> Checker::constant(const ast::Expr *e, const char *what) {
  Constant c = evaluate(e, /*report=*/true);
  if (c.status == Constant::NotConstant)
    diags.report(e->getRange(), DiagID::err_not_constant, what);
  if (c.status != Constant::Known)
    return std::nullopt;
  return c.value;
}

Constant Checker::evaluate(const ast::Expr *e, bool report) {
  if (auto *n = dyn_cast<ast::NumberExpr>(e))
    return {Constant::Known, n->value};
  if (auto *b = dyn_cast<ast::BoolExpr>(e))
    return {Constant::Known, b->value ? 1.0 : 0.0};
  if (auto *n = dyn_cast<ast::NameExpr>(e)) {
    const Symbol *s = nullptr;
    if (report)
      s = lookup(n);
    else if (auto it = model->resolved.find(n); it != model->resolved.end())
      s = it->second;
    if (!s)
      return {report ? Constant::Invalid : Constant::NotConstant};
    if (s->kind != Symbol::Kind::Const)
      return {Constant::NotConstant};
    return constValue(s->index, report ? n : nullptr);
  }
  if (auto *n = dyn_cast<ast::NegExpr>(e)) {
    Constant c = evaluate(n->operand.get(), report);
    c.value = -c.value;
    return c;
  }
  auto *b = dyn_cast<ast::BinaryExpr>(e);
  if (!b)
    return {Constant::NotConstant};
  if (!report)
    if (auto it = silentValues.find(b); it != silentValues.end())
      return it->second;
  Constant l = evaluate(b->lhs.get(), report), r = evaluate(b->rhs.get(), report);
  Constant result = l.status == Constant::Invalid || r.status == Constant::Invalid
                        ? Constant{Constant::Invalid}
                    : l.status == Constant::NotConstant || r.status == Constant::NotConstant
                        ? Constant{Constant::NotConstant}
                        : fold(b, l.value, r.value, report);
  if (!report)
    silentValues[b] = result;
  return result;
}

/// A value too large to show in full: 1e+60, -inf, nan.
static std::string roughly(double v) {
  if (std::isnan(v))
    return "nan";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

Constant Checker::fold(const ast::BinaryExpr *b, double l, double r, bool report) {
  double v = 0;
  switch (b->op) {
  case ast::BinaryOp::Add:
    v = l + r;
    break;
  case ast::BinaryOp::Sub:
    v = l - r;
    break;
  case ast::BinaryOp::Mul:
    v = l * r;
    break;
  case ast::BinaryOp::Div:
    if (static_cast<float>(r) == 0) { // zero in float32, where models compute
      if (report)
        diags.report(b->getRange(), DiagID::err_division_by_zero);
      return {Constant::Invalid};
    }
    v = l / r;
    break;
  case ast::BinaryOp::Pow:
    v = std::pow(l, r);
    break;
  case ast::BinaryOp::MatMul:
    return {Constant::NotConstant};
  case ast::BinaryOp::Lt:
    v = l < r;
    break;
  case ast::BinaryOp::Le:
    v = l <= r;
    break;
  case ast::BinaryOp::Gt:
    v = l > r;
    break;
  case ast::BinaryOp::Ge:
    v = l >= r;
    break;
  case ast::BinaryOp::Eq:
    v = l == r;
    break;
  case ast::BinaryOp::Ne:
    v = l != r;
    break;
  }
  // Models compute in float32: a step beyond its range would be inf there.
  if (!(std::fabs(v) <= std::numeric_limits<float>::max())) {
    if (report)
      diags.report(b->getRange(), DiagID::err_not_finite, "this constant expression", roughly(v));
    return {Constant::Invalid};
  }
  return {Constant::Known, v};
}

} // namespace bdl::sema
