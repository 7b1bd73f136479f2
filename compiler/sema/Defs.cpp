//===- Defs.cpp - Expanding `def` definitions at their calls --------------===//
//
// A def is an expression with parameters, so expanding it is a rewrite of
// the AST before sema: each call becomes a copy of the body in which every
// parameter name is replaced by the call's argument. Names the body does not
// bind resolve where the call is, like any other name there.
//
//===----------------------------------------------------------------------===//
#include "parse/Parser.h"
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
      llvm::StringMap<llvm::SMRange> params;
      for (const ast::Ident &p : d.params)
        if (auto [at, fresh] = params.try_emplace(p.name, p.range); !fresh) {
          diags.report(p.range, DiagID::err_redefinition, p.name);
          diags.report(at->second, DiagID::note_previous_definition);
        }
    }
  }

  bool run() {
    if (defs.empty())
      return !diags.hasErrors();
    for (ast::ParamDecl &p : file.params)
      expandTop(p.value);
    for (ast::ConstDecl &c : file.consts)
      expandTop(c.value);
    for (ast::TensorDecl &t : file.tensors) {
      for (ast::ExprPtr &d : t.dims)
        expandTop(d);
      expandTop(t.init);
    }
    for (ast::LayerDecl &l : file.layers)
      expandTop(l.value);
    for (ast::LearnDecl &l : file.learns) {
      for (ast::Arg &a : l.args)
        expandTop(a.value);
      for (ast::LearnStmt &s : l.stmts)
        expandTop(s.value);
    }
    for (ast::PopulationDecl &p : file.populations) {
      expandTop(p.size);
      for (ast::PopulationStmt &s : p.stmts)
        expandTop(s.value);
    }
    for (ast::PhaseDecl &p : file.phases) {
      expandTop(p.steps);
      for (ast::PhaseStmt &s : p.stmts)
        expandTop(s.value);
    }
    for (ast::EvaluateDecl &e : file.evaluates) {
      for (ast::EvaluatePhase &p : e.phases)
        expandTop(p.steps);
      expandTop(e.predict);
    }
    for (ast::TrainDecl &t : file.trains)
      for (ast::Setting &s : t.settings)
        expandTop(s.value);
    return !diags.hasErrors();
  }

private:
  /// Expands the def calls of one declaration's expression. The expansion
  /// may not be deeper than the parser allows an expression to be (every
  /// later pass recurses over it), nor grow the model without bound
  /// (definitions that call each other twice double at every level).
  void expandTop(ast::ExprPtr &slot) {
    if (!slot || tooLarge)
      return;
    size_t before = expanded;
    llvm::SMRange range = slot->getRange();
    expandCalls(slot);
    if (expanded != before && !tooLarge && deeperThan(*slot, kMaxExpressionDepth))
      diags.report(range, DiagID::err_expression_too_deep, kMaxExpressionDepth);
  }

  /// Whether `e` is nested more than `limit` levels deep; never recurses
  /// further than that.
  static bool deeperThan(const ast::Expr &e, unsigned limit) {
    if (limit == 0)
      return true;
    if (auto *n = dyn_cast<ast::NegExpr>(&e))
      return deeperThan(*n->operand, limit - 1);
    if (auto *t = dyn_cast<ast::TransposeExpr>(&e))
      return deeperThan(*t->operand, limit - 1);
    if (auto *b = dyn_cast<ast::BinaryExpr>(&e))
      return deeperThan(*b->lhs, limit - 1) || deeperThan(*b->rhs, limit - 1);
    if (auto *c = dyn_cast<ast::CallExpr>(&e))
      for (const ast::Arg &a : c->args)
        if (deeperThan(*a.value, limit - 1))
          return true;
    return false;
  }

  static size_t countNodes(const ast::Expr &e) {
    if (auto *n = dyn_cast<ast::NegExpr>(&e))
      return 1 + countNodes(*n->operand);
    if (auto *t = dyn_cast<ast::TransposeExpr>(&e))
      return 1 + countNodes(*t->operand);
    if (auto *b = dyn_cast<ast::BinaryExpr>(&e))
      return 1 + countNodes(*b->lhs) + countNodes(*b->rhs);
    size_t n = 1;
    if (auto *c = dyn_cast<ast::CallExpr>(&e))
      for (const ast::Arg &a : c->args)
        n += countNodes(*a.value);
    return n;
  }

  /// Expands every def call inside `slot`, replacing it when it is one.
  /// Arguments are expanded before they are substituted, and the body after,
  /// so that a name the body does not bind resolves where the call is.
  void expandCalls(ast::ExprPtr &slot) {
    if (!slot || tooLarge)
      return;
    ast::Expr *e = slot.get();
    if (auto *n = dyn_cast<ast::NegExpr>(e))
      return expandCalls(n->operand);
    if (auto *t = dyn_cast<ast::TransposeExpr>(e))
      return expandCalls(t->operand);
    if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
      expandCalls(b->lhs);
      expandCalls(b->rhs);
      return;
    }
    auto *call = dyn_cast<ast::CallExpr>(e);
    if (!call)
      return;
    for (ast::Arg &a : call->args)
      expandCalls(a.value);
    auto it = defs.find(call->callee);
    if (it == defs.end())
      return;
    const ast::DefDecl &def = *it->second;
    if (expanding.count(def.name.name)) {
      diags.report(call->calleeRange, DiagID::err_def_recursion, def.name.name);
      if (outermost)
        diags.report(outermost->calleeRange, DiagID::note_in_expansion, outermost->callee);
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
    expanded += countNodes(*body);
    if (tooLarge || expanded > kMaxExpandedNodes) {
      // Once, where the model calls it, not deep inside the definitions.
      const ast::CallExpr *at = outermost ? outermost : call;
      if (!tooLarge)
        diags.report(at->calleeRange, DiagID::err_def_expansion_too_large, at->callee,
                     kMaxExpandedNodes);
      tooLarge = true;
      return;
    }
    if (expanding.empty())
      outermost = call;
    expanding.insert(def.name.name);
    expandCalls(body);
    expanding.erase(def.name.name);
    if (expanding.empty())
      outermost = nullptr;
    // What the expression as a whole did wrong is reported at the call.
    body->setRange(call->getRange());
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
  // Expression nodes made by expansion so far, in the whole model.
  static constexpr size_t kMaxExpandedNodes =
      10000; // guerguiev2 needs a few thousand; 50000 took 2 s under ASan
  size_t expanded = 0;
  const ast::CallExpr *outermost = nullptr; // the call being expanded, as written
  bool tooLarge = false;
};

} // namespace

bool expandDefinitions(ast::ModelFile &file, DiagnosticEngine &diags) {
  return Expander(file, diags).run();
}

} // namespace bdl::sema
