//===- ASTDumper.cpp ------------------------------------------------------===//
#include "ast/ASTDumper.h"
#include "support/Format.h"

#include "llvm/Support/Casting.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

namespace bdl::ast {
namespace {

class Dumper {
public:
  Dumper(const llvm::SourceMgr &sm, llvm::raw_ostream &os) : sm(sm), os(os) {}

  void file(const ModelFile &f) {
    line(0, (f.isLibrary ? "Library " : "Model ") + f.name.name, f.name.range);
    for (const ImportDecl &i : f.imports)
      line(1, "Import " + i.name, i.range);
    for (const ParamDecl &p : f.params) {
      line(1, "Param " + p.name.name, p.name.range);
      expr(2, p.value.get());
      if (p.tune) {
        line(2, "Tune " + (p.tune->kind ? p.tune->kind->name : std::string("linear")),
             p.tune->range);
        for (const ExprPtr &v : p.tune->values)
          expr(3, v.get());
      }
    }
    for (const ConstDecl &c : f.consts) {
      line(1, "Const " + c.name.name, c.name.range);
      expr(2, c.value.get());
    }
    for (const DefDecl &d : f.defs) {
      std::string params;
      for (const Ident &p : d.params)
        params += (params.empty() ? "" : ", ") + p.name;
      line(1, "Def " + d.name.name + "(" + params + ")", d.name.range);
      expr(2, d.value.get());
    }
    for (const TensorDecl &t : f.tensors) {
      line(1, std::string("Tensor ") + spelling(t.kind) + " " + t.name.name, t.name.range);
      for (const ExprPtr &d : t.dims)
        expr(2, d.get());
      if (t.init) {
        line(2, "Init", t.init->getRange());
        expr(3, t.init.get());
      }
    }
    for (const PopulationDecl &p : f.populations)
      population(p);
    for (const PhaseDecl &p : f.phases) {
      line(1, "Phase " + p.name.name, p.name.range);
      line(2, "Steps", p.steps->getRange());
      expr(3, p.steps.get());
      for (const PhaseStmt &s : p.stmts)
        phaseStmt(2, s);
    }
    for (const EvaluateDecl &e : f.evaluates) {
      line(1, "Evaluate", e.keywordRange);
      for (const EvaluatePhase &p : e.phases) {
        line(2, "Phase " + p.name.name, p.name.range);
        if (p.steps)
          expr(3, p.steps.get());
      }
      if (e.reset)
        line(2, "Reset state", *e.reset);
      if (e.predict) {
        line(2, "Predict", e.predictRange);
        expr(3, e.predict.get());
      }
    }
    for (const PhaseStmt &s : f.strayAssignments)
      phaseStmt(1, s);
    for (const LayerDecl &l : f.layers) {
      line(1, (l.isLoss ? "Loss " : "Layer ") + l.name.name, l.name.range);
      expr(2, l.value.get());
    }
    for (const LearnDecl &l : f.learns) {
      line(1,
           "Learn " + (l.name ? l.name->name + " " : "") + l.optimizer.name +
               (l.schedule ? " after " + l.schedule->name : ""),
           l.keywordRange);
      for (const Arg &a : l.args)
        arg(2, a);
      for (const LearnStmt &s : l.stmts) {
        bool let = s.kind == LearnStmt::Kind::Let;
        line(2,
             (let                                  ? "Let "
              : s.kind == LearnStmt::Kind::Monitor ? "Monitor "
              : s.subtract                         ? "Update -= "
                                                   : "Update += ") +
                 (s.population ? s.population->name + "." : "") + s.name.name,
             s.name.range);
        expr(3, s.value.get());
      }
    }
    for (const TrainDecl &t : f.trains) {
      line(1, "Train " + t.dataset.name, t.keywordRange);
      for (const Setting &s : t.settings) {
        line(2, "Setting " + s.name.name, s.name.range);
        expr(3, s.value.get());
      }
    }
  }

private:
  void population(const PopulationDecl &p) {
    line(1, "Population " + p.name.name, p.name.range);
    expr(2, p.size.get());
    for (const PopulationStmt &s : p.stmts) {
      switch (s.kind) {
      case PopulationStmt::Kind::State:
        line(2, "State " + s.name.name, s.name.range);
        break;
      case PopulationStmt::Kind::Ode:
        line(2, "Ode d" + s.name.name + "/dt" + (s.solver ? " method " + s.solver->name : ""),
             s.range);
        break;
      case PopulationStmt::Kind::Value:
        line(2, "Value " + (s.valueKind.empty() ? "" : s.valueKind + " ") + s.name.name,
             s.name.range);
        break;
      }
      expr(3, s.value.get());
    }
  }

  /// `pop.x = ...` (an override; at the top level, a stray assignment) or
  /// `record r = ...`.
  void phaseStmt(unsigned depth, const PhaseStmt &s) {
    if (s.kind == PhaseStmt::Kind::Record)
      line(depth, "Record " + s.name.name, s.name.range);
    else
      line(depth, "Override " + s.population.name + "." + s.name.name, s.range);
    expr(depth + 1, s.value.get());
  }

  void line(unsigned depth, const std::string &text, llvm::SMRange range) {
    os.indent(depth * 2) << text;
    if (range.Start.isValid()) {
      auto [l, c] = sm.getLineAndColumn(range.Start);
      os << " <";
      // Definitions imported from a library are in a buffer of their own.
      if (unsigned id = sm.FindBufferContainingLoc(range.Start); id != sm.getMainFileID())
        os << llvm::sys::path::filename(sm.getMemoryBuffer(id)->getBufferIdentifier()) << ":";
      os << l << ":" << c << ">";
    }
    os << "\n";
  }

  void arg(unsigned depth, const Arg &a) {
    if (a.window) {
      line(depth, "Last", a.windowRange);
      return expr(depth + 1, a.value.get());
    }
    if (a.key.empty())
      return expr(depth, a.value.get());
    line(depth, "Arg " + a.key, a.keyRange);
    expr(depth + 1, a.value.get());
  }

  void expr(unsigned depth, const Expr *e) {
    using llvm::dyn_cast;
    if (auto *n = dyn_cast<NumberExpr>(e))
      return line(depth, "Number " + formatNumber(n->value), e->getRange());
    if (auto *b = dyn_cast<BoolExpr>(e))
      return line(depth, b->value ? "Bool true" : "Bool false", e->getRange());
    if (auto *n = dyn_cast<NameExpr>(e))
      return line(depth, "Name " + n->name, e->getRange());
    if (auto *m = dyn_cast<MemberExpr>(e))
      return line(depth, "Member " + m->population + "." + m->name, e->getRange());
    if (auto *n = dyn_cast<NegExpr>(e)) {
      line(depth, "Neg", e->getRange());
      return expr(depth + 1, n->operand.get());
    }
    if (auto *t = dyn_cast<TransposeExpr>(e)) {
      line(depth, "Transpose", e->getRange());
      return expr(depth + 1, t->operand.get());
    }
    if (auto *b = dyn_cast<BinaryExpr>(e)) {
      line(depth, std::string("Binary ") + spelling(b->op), e->getRange());
      expr(depth + 1, b->lhs.get());
      return expr(depth + 1, b->rhs.get());
    }
    if (auto *c = dyn_cast<CallExpr>(e)) {
      line(depth, "Call " + c->callee, e->getRange());
      for (const Arg &a : c->args)
        arg(depth + 1, a);
    }
  }

  const llvm::SourceMgr &sm;
  llvm::raw_ostream &os;
};

} // namespace

void dump(const ModelFile &file, const llvm::SourceMgr &sm, llvm::raw_ostream &os) {
  Dumper(sm, os).file(file);
}

} // namespace bdl::ast
