//===- ASTDumper.cpp ------------------------------------------------------===//
#include "ast/ASTDumper.h"
#include "support/Format.h"

#include "llvm/Support/Casting.h"
#include "llvm/Support/FormatVariadic.h"

namespace bdl::ast {
namespace {

class Dumper {
public:
  Dumper(const llvm::SourceMgr &sm, llvm::raw_ostream &os) : sm(sm), os(os) {}

  void file(const ModelFile &f) {
    line(0, "Model " + f.name.name, f.name.range);
    for (const ParamDecl &p : f.params) {
      line(1, "Param " + p.name.name, p.name.range);
      expr(2, p.value.get());
      if (p.tune) {
        line(2, "Tune " + (p.tune->kind ? p.tune->kind->name : std::string("linear")),
             p.tune->range);
        if (p.tune->lo)
          expr(3, p.tune->lo.get()), expr(3, p.tune->hi.get());
      }
    }
    for (const ConstDecl &c : f.consts) {
      line(1, "Const " + c.name.name, c.name.range);
      expr(2, c.value.get());
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
    for (const LayerDecl &l : f.layers) {
      line(1, (l.isLoss ? "Loss " : "Layer ") + l.name.name, l.name.range);
      expr(2, l.value.get());
    }
    for (const LearnDecl &l : f.learns) {
      line(1, "Learn " + l.optimizer.name, l.keywordRange);
      for (const Arg &a : l.args)
        arg(2, a);
      for (const LearnStmt &s : l.stmts) {
        bool let = s.kind == LearnStmt::Kind::Let;
        line(2,
             (let          ? "Let "
              : s.subtract ? "Update -= "
                           : "Update += ") +
                 s.name.name,
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
  void line(unsigned depth, const std::string &text, llvm::SMRange range) {
    os.indent(depth * 2) << text;
    if (range.Start.isValid()) {
      auto [l, c] = sm.getLineAndColumn(range.Start);
      os << " <" << l << ":" << c << ">";
    }
    os << "\n";
  }

  void arg(unsigned depth, const Arg &a) {
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
