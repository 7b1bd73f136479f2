//===- Parser.cpp - ANTLR parse tree to AST -------------------------------===//
//
// Lexes with the ANTLR-generated lexer, runs the SourceScanner checks, parses,
// and builds the AST from the parse tree. Every ANTLR error goes through the
// DiagnosticEngine, so it prints like any other bdlc error.
//
//===----------------------------------------------------------------------===//
#include "parse/Parser.h"
#include "parse/SourceScanner.h"
#include "parse/SyntaxErrors.h"

#include "BdlLexer.h"
#include "BdlParser.h"
#include "antlr4-runtime.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace bdl {
namespace {

/// Turns ANTLR's error callbacks into diagnostics.
class DiagnosticListener : public antlr4::BaseErrorListener {
public:
  DiagnosticListener(DiagnosticEngine &diags, const CodePointMap &map, llvm::StringRef source)
      : diags(diags), map(map), source(source) {}

  void syntaxError(antlr4::Recognizer *recognizer, antlr4::Token *offending, size_t line,
                   size_t column, const std::string &message, std::exception_ptr) override {
    if (offending) {
      diags.report(map.range(offending), DiagID::err_syntax, readable(message));
      return;
    }
    // Lexer errors carry no token: the bad text starts at the lexer's start index.
    auto *lexer = dynamic_cast<antlr4::Lexer *>(recognizer);
    size_t start = lexer ? lexer->tokenStartCharIndex : 0;
    llvm::SMLoc loc = map.loc(start);
    llvm::StringRef rest = source.substr(loc.getPointer() - source.data());
    diags.report({loc, loc}, DiagID::err_invalid_character, describe(rest));
  }

private:
  static std::string readable(std::string message) {
    for (auto [from, to] :
         {std::pair<std::string, std::string>{"<EOF>", "end of file"}, {"'\\n'", "end of line"}}) {
      for (size_t at = message.find(from); at != std::string::npos; at = message.find(from, at))
        message.replace(at, from.size(), to), at += to.size();
    }
    return message;
  }

  static std::string describe(llvm::StringRef rest) {
    if (rest.empty())
      return "at end of file";
    unsigned char c = rest[0];
    if (c >= 0x20 && c < 0x7f)
      return "'" + std::string(1, static_cast<char>(c)) + "'";
    unsigned len = std::max(1u, llvm::getNumBytesForUTF8(c));
    if (c >= 0x80)
      return "'" + rest.take_front(len).str() + "'";
    std::string text;
    llvm::raw_string_ostream(text) << "'\\x" << llvm::format_hex_no_prefix(c, 2) << "'";
    return text;
  }

  DiagnosticEngine &diags;
  const CodePointMap &map;
  llvm::StringRef source;
};

using P = BdlParser;

class ASTBuilder {
public:
  ASTBuilder(DiagnosticEngine &diags, const CodePointMap &map) : diags(diags), map(map) {}

  std::unique_ptr<ast::ModelFile> build(P::FileContext *file) {
    auto model = std::make_unique<ast::ModelFile>();
    if (auto *m = file->modelDecl()) {
      model->name = ident(m->name);
    } else {
      model->isLibrary = true;
      model->name = {file->libraryDecl()->name->getText(), range(file->libraryDecl()->name)};
    }
    for (P::ImportDeclContext *imp : file->importDecl())
      model->imports.push_back({imp->name->getText(), range(imp->name)});
    for (P::DeclContext *decl : file->decl()) {
      if (auto *d = decl->paramDecl())
        model->params.push_back(param(d));
      else if (auto *d = decl->constDecl())
        model->consts.push_back({ident(d->name), expr(d->value)});
      else if (auto *d = decl->tensorDecl())
        tensors(d, model->tensors);
      else if (auto *d = decl->layerDecl())
        model->layers.push_back({ident(d->name), expr(d->value), false});
      else if (auto *d = decl->lossDecl())
        model->layers.push_back({ident(d->name), expr(d->value), true});
      else if (auto *d = decl->learnDecl())
        model->learns.push_back(learn(d));
      else if (auto *d = decl->trainDecl())
        model->trains.push_back(train(d));
      else if (auto *d = decl->defDecl())
        model->defs.push_back(def(d));
      else if (auto *d = decl->populationDecl())
        model->populations.push_back(population(d));
      else if (auto *d = decl->phaseDecl())
        model->phases.push_back(phase(d));
      else if (auto *d = decl->evaluateDecl())
        model->evaluates.push_back(evaluate(d));
      else if (auto *d = decl->strayAssignment())
        model->strayAssignments.push_back({ast::PhaseStmt::Kind::Override, ident(d->population),
                                           ident(d->name), expr(d->value), range(d)});
    }
    if (tooDeep)
      return nullptr;
    return model;
  }

private:
  llvm::SMRange range(antlr4::ParserRuleContext *ctx) {
    return map.range(ctx->getStart(), ctx->getStop() ? ctx->getStop() : ctx->getStart());
  }
  ast::Ident ident(antlr4::Token *token) { return {token->getText(), map.range(token)}; }

  ast::ParamDecl param(P::ParamDeclContext *d) {
    ast::ParamDecl decl{ident(d->name), expr(d->value), std::nullopt};
    if (auto *t = d->tuneSpec()) {
      ast::TuneSpec tune;
      if (t->kind)
        tune.kind = ident(t->kind);
      for (P::ExprContext *v : t->values)
        tune.values.push_back(expr(v));
      tune.range = range(t);
      decl.tune = std::move(tune);
    }
    return decl;
  }

  void tensors(P::TensorDeclContext *d, std::vector<ast::TensorDecl> &out) {
    static const std::pair<const char *, ast::TensorKind> kinds[] = {
        {"input", ast::TensorKind::Input},
        {"target", ast::TensorKind::Target},
        {"weight", ast::TensorKind::Weight},
        {"fixed", ast::TensorKind::Fixed}};
    ast::TensorKind kind = ast::TensorKind::Weight;
    for (auto [spelling, k] : kinds)
      if (d->kind->getText() == spelling)
        kind = k;
    for (P::TensorItemContext *item : d->tensorItem()) {
      ast::TensorDecl decl{kind, map.range(d->kind), ident(item->name), {}, nullptr};
      for (P::ExprContext *dim : item->expr())
        if (dim != item->init)
          decl.dims.push_back(expr(dim));
      if (item->init)
        decl.init = expr(item->init);
      out.push_back(std::move(decl));
    }
  }

  std::vector<ast::Arg> args(P::ArgListContext *list) {
    std::vector<ast::Arg> out;
    if (!list)
      return out;
    for (P::ArgContext *a : list->arg()) {
      ast::Arg arg;
      if (a->window) {
        arg.window = true;
        arg.windowRange = map.range(a->getStart());
        arg.value = expr(a->window);
        out.push_back(std::move(arg));
        continue;
      }
      if (a->key) {
        arg.key = a->key->getText();
        arg.keyRange = map.range(a->key);
      }
      arg.value = expr(a->value);
      out.push_back(std::move(arg));
    }
    return out;
  }

  ast::LearnDecl learn(P::LearnDeclContext *d) {
    ast::LearnDecl decl;
    decl.keywordRange = map.range(d->getStart());
    if (d->name)
      decl.name = ident(d->name);
    decl.optimizer = ident(d->optimizer);
    decl.args = args(d->argList());
    if (d->schedule)
      decl.schedule = ident(d->schedule);
    for (P::LearnStmtContext *s : d->learnStmt()) {
      ast::LearnStmt stmt;
      if (auto *let = dynamic_cast<P::LetStmtContext *>(s)) {
        stmt.kind = ast::LearnStmt::Kind::Let;
        stmt.name = ident(let->name);
        if (let->population)
          stmt.population = ident(let->population);
        stmt.value = expr(let->value);
      } else if (auto *mon = dynamic_cast<P::MonitorStmtContext *>(s)) {
        stmt.kind = ast::LearnStmt::Kind::Monitor;
        stmt.name = ident(mon->name);
        stmt.value = expr(mon->value);
      } else if (auto *upd = dynamic_cast<P::UpdateStmtContext *>(s)) {
        stmt.kind = ast::LearnStmt::Kind::Update;
        stmt.name = ident(upd->name);
        if (upd->population)
          stmt.population = ident(upd->population);
        stmt.subtract = upd->op->getText() == "-=";
        stmt.opRange = map.range(upd->op);
        stmt.value = expr(upd->value);
      } else {
        continue;
      }
      decl.stmts.push_back(std::move(stmt));
    }
    return decl;
  }

  ast::DefDecl def(P::DefDeclContext *d) {
    ast::DefDecl decl{ident(d->name), {}, expr(d->value)};
    for (antlr4::tree::TerminalNode *p : d->ID())
      if (p->getSymbol() != d->name)
        decl.params.push_back(ident(p->getSymbol()));
    return decl;
  }

  ast::PopulationDecl population(P::PopulationDeclContext *d) {
    ast::PopulationDecl decl{ident(d->name), expr(d->size), {}};
    for (P::PopulationStmtContext *s : d->populationStmt()) {
      ast::PopulationStmt stmt;
      stmt.range = range(s);
      if (auto *st = dynamic_cast<P::StateStmtContext *>(s)) {
        stmt.kind = ast::PopulationStmt::Kind::State;
        stmt.name = ident(st->name);
        stmt.value = expr(st->value);
      } else if (auto *ode = dynamic_cast<P::OdeStmtContext *>(s)) {
        // `dC/dt` lexes as ID '/' ID; the derivative's spelling is checked here.
        stmt.kind = ast::PopulationStmt::Kind::Ode;
        std::string deriv = ode->deriv->getText();
        if (deriv.size() < 2 || deriv[0] != 'd' || ode->dt->getText() != "dt") {
          diags.report(map.range(ode->deriv, ode->dt), DiagID::err_syntax,
                       "expected a derivative 'dX/dt' before '='");
          continue;
        }
        llvm::SMRange r = map.range(ode->deriv);
        stmt.name = {deriv.substr(1),
                     {llvm::SMLoc::getFromPointer(r.Start.getPointer() + 1), r.End}};
        stmt.value = expr(ode->value);
        if (ode->solver)
          stmt.solver = ident(ode->solver);
      } else if (auto *v = dynamic_cast<P::ValueStmtContext *>(s)) {
        stmt.kind = ast::PopulationStmt::Kind::Value;
        stmt.name = ident(v->name);
        stmt.value = expr(v->value);
        if (v->kind)
          stmt.valueKind = v->kind->getText();
      } else {
        continue;
      }
      decl.stmts.push_back(std::move(stmt));
    }
    return decl;
  }

  ast::PhaseDecl phase(P::PhaseDeclContext *d) {
    ast::PhaseDecl decl{{d->name->getText(), range(d->name)}, expr(d->steps), {}};
    for (P::PhaseStmtContext *s : d->phaseStmt()) {
      ast::PhaseStmt stmt;
      stmt.range = range(s);
      if (auto *o = dynamic_cast<P::OverrideStmtContext *>(s)) {
        stmt.kind = ast::PhaseStmt::Kind::Override;
        stmt.population = ident(o->population);
        stmt.name = ident(o->name);
        stmt.value = expr(o->value);
      } else if (auto *r = dynamic_cast<P::RecordStmtContext *>(s)) {
        stmt.kind = ast::PhaseStmt::Kind::Record;
        stmt.name = ident(r->name);
        stmt.value = expr(r->value);
      } else {
        continue;
      }
      decl.stmts.push_back(std::move(stmt));
    }
    return decl;
  }

  ast::EvaluateDecl evaluate(P::EvaluateDeclContext *d) {
    ast::EvaluateDecl decl;
    decl.keywordRange = map.range(d->getStart());
    for (P::EvaluateStmtContext *s : d->evaluateStmt()) {
      if (auto *p = dynamic_cast<P::EvaluatePhaseContext *>(s))
        decl.phases.push_back(
            {{p->name->getText(), range(p->name)}, p->steps ? expr(p->steps) : nullptr});
      else if (dynamic_cast<P::EvaluateResetContext *>(s))
        decl.reset = range(s);
      else if (auto *p = dynamic_cast<P::EvaluatePredictContext *>(s)) {
        decl.predict = expr(p->value);
        decl.predictRange = range(s);
      }
    }
    return decl;
  }

  ast::TrainDecl train(P::TrainDeclContext *d) {
    ast::TrainDecl decl;
    decl.keywordRange = map.range(d->getStart());
    decl.dataset = ident(d->dataset);
    for (P::SettingContext *s : d->setting())
      decl.settings.push_back(
          {ident(s->name), s->value ? expr(s->value) : objective(s->objective)});
    return decl;
  }

  /// `minimize(loss)` as the call it reads as, so that sema checks every
  /// objective alike.
  ast::ExprPtr objective(P::LossObjectiveContext *ctx) {
    std::vector<ast::Arg> arg(1);
    arg[0].value = std::make_unique<ast::NameExpr>(map.range(ctx->metric), "loss");
    return std::make_unique<ast::CallExpr>(range(ctx), ctx->direction->getText(),
                                           map.range(ctx->direction), std::move(arg));
  }

  ast::ExprPtr expr(P::ExprContext *ctx) {
    // Deep expressions are rejected rather than recursed into: every later
    // pass walks the tree recursively too.
    if (depth >= kMaxExpressionDepth || tooDeep) {
      if (!tooDeep)
        diags.report(range(ctx), DiagID::err_expression_too_deep, kMaxExpressionDepth);
      tooDeep = true;
      return std::make_unique<ast::NumberExpr>(range(ctx), 0, true);
    }
    ++depth;
    ast::ExprPtr result = exprImpl(ctx);
    --depth;
    return result;
  }

  ast::ExprPtr exprImpl(P::ExprContext *ctx) {
    llvm::SMRange r = range(ctx);
    if (auto *e = dynamic_cast<P::ParenExprContext *>(ctx))
      return expr(e->expr());
    if (auto *e = dynamic_cast<P::NumberExprContext *>(ctx)) {
      std::string text = e->getText();
      bool isInteger = text.find_first_of(".eE") == std::string::npos;
      double value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      // Models compute in float32: a literal beyond its range would be inf.
      if (ec != std::errc() || std::fabs(value) > std::numeric_limits<float>::max())
        diags.report(r, DiagID::err_invalid_value,
                     "number " + text + " is out of range for a 32-bit float");
      return std::make_unique<ast::NumberExpr>(r, value, isInteger);
    }
    if (auto *e = dynamic_cast<P::BoolExprContext *>(ctx))
      return std::make_unique<ast::BoolExpr>(r, e->getText() == "true");
    if (auto *e = dynamic_cast<P::NameExprContext *>(ctx))
      return std::make_unique<ast::NameExpr>(r, e->getText());
    if (auto *e = dynamic_cast<P::MemberExprContext *>(ctx))
      return std::make_unique<ast::MemberExpr>(r, e->population->getText(),
                                               map.range(e->population), e->name->getText(),
                                               map.range(e->name));
    if (auto *e = dynamic_cast<P::NegExprContext *>(ctx))
      return std::make_unique<ast::NegExpr>(r, expr(e->expr()));
    if (auto *e = dynamic_cast<P::TransposeExprContext *>(ctx))
      return std::make_unique<ast::TransposeExpr>(r, expr(e->expr()));
    if (auto *e = dynamic_cast<P::CallExprContext *>(ctx))
      return std::make_unique<ast::CallExpr>(r, e->callee->getText(), map.range(e->callee),
                                             args(e->argList()));
    if (auto *e = dynamic_cast<P::PowExprContext *>(ctx))
      return binary(r, ast::BinaryOp::Pow, e->children[1], e->expr(0), e->expr(1));
    if (auto *e = dynamic_cast<P::MulExprContext *>(ctx)) {
      std::string op = e->op->getText();
      auto kind = op == "*"   ? ast::BinaryOp::Mul
                  : op == "/" ? ast::BinaryOp::Div
                              : ast::BinaryOp::MatMul;
      return binary(r, kind, e->children[1], e->expr(0), e->expr(1));
    }
    if (auto *e = dynamic_cast<P::AddExprContext *>(ctx)) {
      auto kind = e->op->getText() == "+" ? ast::BinaryOp::Add : ast::BinaryOp::Sub;
      return binary(r, kind, e->children[1], e->expr(0), e->expr(1));
    }
    if (auto *e = dynamic_cast<P::CompareExprContext *>(ctx)) {
      static const std::pair<const char *, ast::BinaryOp> ops[] = {
          {"<", ast::BinaryOp::Lt},  {"<=", ast::BinaryOp::Le}, {">", ast::BinaryOp::Gt},
          {">=", ast::BinaryOp::Ge}, {"==", ast::BinaryOp::Eq}, {"!=", ast::BinaryOp::Ne}};
      ast::BinaryOp kind = ast::BinaryOp::Eq;
      for (auto [spelling, op] : ops)
        if (e->op->getText() == spelling)
          kind = op;
      return binary(r, kind, e->children[1], e->expr(0), e->expr(1));
    }
    return std::make_unique<ast::NumberExpr>(r, 0, true); // unreachable after a clean parse
  }

  ast::ExprPtr binary(llvm::SMRange r, ast::BinaryOp op, antlr4::tree::ParseTree *opNode,
                      P::ExprContext *lhs, P::ExprContext *rhs) {
    llvm::SMRange opRange = r;
    if (auto *terminal = dynamic_cast<antlr4::tree::TerminalNode *>(opNode))
      opRange = map.range(terminal->getSymbol());
    ast::ExprPtr left = expr(lhs); // in source order, so errors come in source order
    ast::ExprPtr right = expr(rhs);
    return std::make_unique<ast::BinaryExpr>(r, op, opRange, std::move(left), std::move(right));
  }

  DiagnosticEngine &diags;
  const CodePointMap &map;
  unsigned depth = 0;
  bool tooDeep = false;
};

} // namespace

std::unique_ptr<ast::ModelFile> parseModel(DiagnosticEngine &diags) {
  return parseBuffer(diags, diags.getSourceMgr().getMainFileID());
}

std::unique_ptr<ast::ModelFile> parseBuffer(DiagnosticEngine &diags, unsigned bufferID) {
  llvm::SourceMgr &sm = diags.getSourceMgr();
  const llvm::MemoryBuffer *buffer = sm.getMemoryBuffer(bufferID);
  llvm::StringRef source = buffer->getBuffer();

  CodePointMap map;
  if (!map.build(source, diags) || !checkComments(source, diags))
    return nullptr;

  antlr4::ANTLRInputStream input(source.data(), source.size());
  BdlLexer lexer(&input);
  DiagnosticListener listener(diags, map, source);
  lexer.removeErrorListeners();
  lexer.addErrorListener(&listener);
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();
  if (diags.hasErrors())
    return nullptr;

  std::vector<antlr4::Token *> all = tokens.getTokens();
  if (all.size() <= 1) {
    llvm::SMLoc start = llvm::SMLoc::getFromPointer(source.data());
    diags.report({start, start}, DiagID::err_empty_file);
    return nullptr;
  }
  if (!checkNesting(all, map, diags))
    return nullptr;

  BdlParser parser(&tokens);
  parser.removeErrorListeners();
  parser.addErrorListener(&listener);
  parser.setErrorHandler(std::make_shared<SyntaxErrorStrategy>());
  P::FileContext *tree = parser.file();
  if (diags.hasErrors())
    return nullptr;

  ASTBuilder builder(diags, map);
  auto model = builder.build(tree);
  if (diags.hasErrors())
    return nullptr;
  if (model)
    model->path = buffer->getBufferIdentifier().str();
  return model;
}

} // namespace bdl
