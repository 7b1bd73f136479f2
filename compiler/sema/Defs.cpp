//===- Defs.cpp - Expanding `def` definitions at their calls --------------===//
//
// A def is an expression with parameters, so expanding it is a rewrite of
// the AST before sema: each call becomes a copy of the body in which every
// parameter name is replaced by the call's argument. Names the body does not
// bind resolve where the call is, like any other name there.
//
//===----------------------------------------------------------------------===//
#include "sema/Sema.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Casting.h"

#include <set>

namespace bdl::sema {
namespace {

using llvm::cast;
using llvm::dyn_cast;

class Expander {
public:
  Expander(ast::ModelFile &file, DiagnosticEngine &diags) : file(file), diags(diags) {
    for (const ast::DefDecl &d : file.defs) {
      auto [it, inserted] = defs.try_emplace(d.name.name, &d);
      if (!inserted) {
        diags.report(d.name.range, DiagID::err_redefinition, d.name.name);
        diags.report(it->second->name.range, DiagID::note_previous_definition);
      }
    }
  }

  bool run() {
    if (defs.empty())
      return !diags.hasErrors();
    for (ast::ParamDecl &p : file.params)
      expand(p.value);
    for (ast::ConstDecl &c : file.consts)
      expand(c.value);
    for (ast::TensorDecl &t : file.tensors) {
      for (ast::ExprPtr &d : t.dims)
        expand(d);
      expand(t.init);
    }
    for (ast::LayerDecl &l : file.layers)
      expand(l.value);
    for (ast::LearnDecl &l : file.learns) {
      for (ast::Arg &a : l.args)
        expand(a.value);
      for (ast::LearnStmt &s : l.stmts)
        expand(s.value);
    }
    for (ast::PopulationDecl &p : file.populations) {
      expand(p.size);
      for (ast::PopulationStmt &s : p.stmts)
        expand(s.value);
    }
    for (ast::PhaseDecl &p : file.phases) {
      expand(p.steps);
      for (ast::PhaseStmt &s : p.stmts)
        expand(s.value);
    }
    for (ast::EvaluateDecl &e : file.evaluates) {
      for (ast::EvaluatePhase &p : e.phases)
        expand(p.steps);
      expand(e.predict);
    }
    for (ast::TrainDecl &t : file.trains)
      for (ast::Setting &s : t.settings)
        expand(s.value);
    return !diags.hasErrors();
  }

private:
  /// Expands every def call inside `slot`, replacing it when it is one.
  void expand(ast::ExprPtr &slot) {
    if (!slot)
      return;
    ast::Expr *e = slot.get();
    if (auto *n = dyn_cast<ast::NegExpr>(e))
      return expand(n->operand);
    if (auto *t = dyn_cast<ast::TransposeExpr>(e))
      return expand(t->operand);
    if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
      expand(b->lhs);
      expand(b->rhs);
      return;
    }
    auto *call = dyn_cast<ast::CallExpr>(e);
    if (!call)
      return;
    for (ast::Arg &a : call->args)
      expand(a.value);
    auto it = defs.find(call->callee);
    if (it == defs.end())
      return;
    const ast::DefDecl &def = *it->second;
    if (expanding.count(def.name.name)) {
      diags.report(call->calleeRange, DiagID::err_def_recursion, def.name.name);
      return;
    }
    for (const ast::Arg &a : call->args)
      if (!a.key.empty() || a.window) {
        diags.report(a.key.empty() ? a.windowRange : a.keyRange, DiagID::err_unknown_argument,
                     def.name.name, a.key.empty() ? "last" : a.key);
        return;
      }
    if (call->args.size() != def.params.size()) {
      diags.report(call->calleeRange, DiagID::err_argument_count, def.name.name,
                   std::to_string(def.params.size()) + " argument" +
                       (def.params.size() == 1 ? "" : "s"),
                   call->args.size());
      return;
    }
    llvm::StringMap<const ast::Expr *> bound;
    for (size_t i = 0; i < def.params.size(); ++i)
      bound[def.params[i].name] = call->args[i].value.get();
    ast::ExprPtr body = ast::clone(*def.value);
    substitute(body, bound);
    expanding.insert(def.name.name);
    expand(body);
    expanding.erase(def.name.name);
    slot = std::move(body);
  }

  static void substitute(ast::ExprPtr &slot, const llvm::StringMap<const ast::Expr *> &bound) {
    ast::Expr *e = slot.get();
    if (auto *n = dyn_cast<ast::NameExpr>(e)) {
      if (auto it = bound.find(n->name); it != bound.end())
        slot = ast::clone(*it->second);
      return;
    }
    if (auto *n = dyn_cast<ast::NegExpr>(e))
      return substitute(n->operand, bound);
    if (auto *t = dyn_cast<ast::TransposeExpr>(e))
      return substitute(t->operand, bound);
    if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
      substitute(b->lhs, bound);
      substitute(b->rhs, bound);
      return;
    }
    if (auto *c = dyn_cast<ast::CallExpr>(e))
      for (ast::Arg &a : c->args)
        substitute(a.value, bound);
  }

  ast::ModelFile &file;
  DiagnosticEngine &diags;
  llvm::StringMap<const ast::DefDecl *> defs;
  std::set<std::string> expanding;
};

} // namespace

bool expandDefinitions(ast::ModelFile &file, DiagnosticEngine &diags) {
  return Expander(file, diags).run();
}

} // namespace bdl::sema
