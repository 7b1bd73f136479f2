//===- Constants.cpp - Params, consts and compile-time values ---------------===//
#include "sema/Checker.h"
#include "support/Format.h"

#include "llvm/Support/Casting.h"

#include <cmath>

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

std::optional<double> CheckedModel::constantValue(const ast::Expr *e) const {
  if (auto *n = dyn_cast<ast::NumberExpr>(e))
    return n->value;
  if (auto *b = dyn_cast<ast::BoolExpr>(e))
    return b->value ? 1.0 : 0.0;
  if (auto *n = dyn_cast<ast::NameExpr>(e)) {
    auto it = globals.find(n->name);
    if (it != globals.end() && it->second.kind == Symbol::Kind::Const)
      return it->second.constValue;
    return std::nullopt;
  }
  if (auto *n = dyn_cast<ast::NegExpr>(e)) {
    if (auto v = constantValue(n->operand.get()))
      return -*v;
    return std::nullopt;
  }
  if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
    auto l = constantValue(b->lhs.get()), r = constantValue(b->rhs.get());
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
      return *l / *r;
    case ast::BinaryOp::Pow:
      return std::pow(*l, *r);
    case ast::BinaryOp::MatMul:
      return std::nullopt;
    }
  }
  return std::nullopt;
}

void Checker::checkParams() {
  for (const ast::ParamDecl &p : file.params) {
    ir::Param param;
    param.name = p.name.name;
    std::optional<double> value = constant(p.value.get(), "a param's default value");
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
  else {
    diags.report(t.kind->range, DiagID::err_invalid_tune,
                 "unknown tune kind '" + kind + "'; expected 'log', 'int' or 'bool'");
    return;
  }
  if (param.tune == ir::TuneKind::Bool) {
    if (t.lo)
      diags.report(t.range, DiagID::err_invalid_tune, "a bool param takes no range");
    param.lo = 0, param.hi = 1;
    return;
  }
  if (!t.lo) {
    diags.report(t.range, DiagID::err_invalid_tune, "'tune' needs a range: tune [lo, hi]");
    return;
  }
  auto lo = constant(t.lo.get(), "a tune bound"), hi = constant(t.hi.get(), "a tune bound");
  if (!lo || !hi)
    return;
  param.lo = *lo, param.hi = *hi;
  if (!(*lo < *hi))
    diags.report(t.range, DiagID::err_invalid_tune,
                 "empty range: the lower bound must be below the upper bound");
  else if (param.tune == ir::TuneKind::Log && *lo <= 0)
    diags.report(t.lo->getRange(), DiagID::err_invalid_tune, "a log-scale range must be positive");
  else if (param.tune == ir::TuneKind::Int && (*lo != std::floor(*lo) || *hi != std::floor(*hi)))
    diags.report(t.range, DiagID::err_invalid_tune, "an int range needs integer bounds");
  else if (param.value < *lo || param.value > *hi)
    diags.report(p.value->getRange(), DiagID::err_invalid_tune,
                 "default " + formatNumber(param.value) + " lies outside the tune range");
}

void Checker::checkConsts() {
  for (const ast::ConstDecl &c : file.consts) {
    std::optional<double> v = constant(c.value.get(), "a const");
    if (v)
      model->globals[c.name.name].constValue = *v;
  }
}

std::optional<double> Checker::constant(const ast::Expr *e, const char *what) {
  // Names must be known to give a useful error for `const a = b`.
  if (!resolveNamesOnly(e))
    return std::nullopt;
  std::optional<double> v = model->constantValue(e);
  if (!v)
    diags.report(e->getRange(), DiagID::err_not_constant, what);
  return v;
}

bool Checker::resolveNamesOnly(const ast::Expr *e) {
  if (auto *n = dyn_cast<ast::NameExpr>(e))
    return lookup(n) != nullptr;
  if (auto *n = dyn_cast<ast::NegExpr>(e))
    return resolveNamesOnly(n->operand.get());
  if (auto *b = dyn_cast<ast::BinaryExpr>(e))
    return resolveNamesOnly(b->lhs.get()) && resolveNamesOnly(b->rhs.get());
  return true;
}

} // namespace bdl::sema
