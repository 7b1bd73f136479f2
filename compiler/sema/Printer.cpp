//===- Printer.cpp - What sema concluded, for bdlc --emit=sema -------------===//
//
// One line per declaration in source order within each kind: every name
// with its shape (or a param's type and value), then the expression as
// written. Lowering reads nothing from here; it is for people and tests.
//
//===----------------------------------------------------------------------===//
#include "ir/Format.h"
#include "sema/Sema.h"
#include "support/Format.h"

#include "llvm/Support/raw_ostream.h"

namespace bdl::sema {
namespace {

class Printer {
public:
  Printer(const CheckedModel &model, llvm::raw_ostream &os)
      : model(model), file(*model.file), os(os) {}

  void run() {
    os << "model " << file.name.name << "\n";
    for (size_t i = 0; i < file.params.size(); ++i)
      param(model.params[i],
            model.derivations.count((int)i) ? model.derivations.at((int)i) : nullptr);
    for (const ast::ConstDecl &c : file.consts)
      os << "const " << c.name.name << " = "
         << formatNumber(model.globals.lookup(c.name.name).constValue) << "\n";
    for (size_t i = 0; i < file.tensors.size(); ++i)
      tensor(file.tensors[i], model.tensors[i]);
    for (const CheckedPopulation &p : model.populations)
      population(p);
    for (const CheckedPhase &p : model.phases)
      phase(p);
    if (model.evaluate.decl)
      evaluate(model.evaluate);
    for (const ast::LayerDecl &l : file.layers)
      os << (l.isLoss ? "loss " : "layer ") << l.name.name << " : " << shape(l.value.get()) << " = "
         << text(l.value.get()) << "\n";
    for (const CheckedLearn &l : model.learns)
      learn(l);
    if (model.predict >= 0) // a model with populations predicts in its evaluate block
      os << "predict " << file.layers[model.predict].name.name << "\n";
    if (model.loss >= 0)
      os << "loss " << file.layers[model.loss].name.name << "\n";
    os << "train " << model.dataset << " epochs " << model.epochs << " batch " << model.batch
       << " validation " << model.validation;
    if (model.warmup)
      os << " warmup " << model.warmup;
    os << " objective " << ir::spelling(model.objective) << "\n";
  }

private:
  void param(const ir::Param &p, const ast::Expr *derivation) {
    os << "param " << p.name << " : " << ir::spelling(p.type) << " = "
       << (p.type == ir::ParamType::Bool ? (p.value ? "true" : "false") : formatNumber(p.value));
    if (derivation)
      os << " derived = " << text(derivation);
    if (p.tune == ir::TuneKind::Bool)
      os << " tune bool";
    else if (p.tune == ir::TuneKind::Choice) {
      os << " tune choice [";
      for (size_t i = 0; i < p.choices.size(); ++i)
        os << (i ? ", " : "") << formatNumber(p.choices[i]);
      os << "]";
    } else if (p.tune != ir::TuneKind::None)
      os << " tune " << ir::spelling(p.tune) << " [" << formatNumber(p.lo) << ", "
         << formatNumber(p.hi) << "]";
    os << "\n";
  }

  void tensor(const ast::TensorDecl &decl, const CheckedTensor &t) {
    os << ast::spelling(decl.kind) << " " << decl.name.name << " : "
       << describe(model.globals.lookup(decl.name.name).shape);
    bool isData = decl.kind == ast::TensorKind::Input || decl.kind == ast::TensorKind::Target;
    if (!isData)
      os << " = " << init(t);
    os << "\n";
  }

  static std::string init(const CheckedTensor &t) {
    switch (t.init) {
    case ir::InitKind::Zero:
      return "zeros()";
    case ir::InitKind::Const:
      return formatNumber(t.initA);
    case ir::InitKind::Uniform:
      return "uniform(" + formatNumber(t.initA) + ", " + formatNumber(t.initB) + ")";
    case ir::InitKind::Normal:
      return "normal(" + formatNumber(t.initA) + ", " + formatNumber(t.initB) + ")";
    case ir::InitKind::Xavier:
      return "xavier()";
    case ir::InitKind::Kaiming:
      return "kaiming()";
    case ir::InitKind::Eye:
      return "eye()";
    }
    return "?";
  }

  /// The statements in step order; a member's history and the ODE's method
  /// where they are decided.
  void population(const CheckedPopulation &p) {
    const std::string memberShape = describe(Shape{true, {p.size}});
    os << "population " << p.decl->name.name << " : " << memberShape << "\n";
    for (const ast::PopulationStmt &s : p.decl->stmts) {
      auto it = p.byName.find(s.name.name);
      if (it == p.byName.end())
        continue;
      const CheckedMember &m = p.members[it->second];
      switch (s.kind) {
      case ast::PopulationStmt::Kind::State:
        os << "  state " << m.name << " = " << formatNumber(m.init);
        break;
      case ast::PopulationStmt::Kind::Ode:
        os << "  d" << m.name << "/dt : " << shape(s.value.get()) << " = " << text(s.value.get())
           << " method " << spelling(m.solver) << (m.solverChosen ? " (chosen)" : "") << "\n";
        continue;
      case ast::PopulationStmt::Kind::Value:
        if (m.isState) { // assigns the state
          os << "  " << m.name << " : " << shape(s.value.get()) << " = " << text(s.value.get())
             << "\n";
          continue;
        }
        os << "  " << (s.valueKind.empty() ? "value" : s.valueKind) << " " << m.name << " = "
           << text(s.value.get()) << " : " << shape(s.value.get());
        break;
      }
      os << " history " << m.history << (m.replayable ? " draw" : "") << "\n";
    }
  }

  void phase(const CheckedPhase &p) {
    os << "phase " << p.decl->name.name << " steps " << formatNumber(p.steps) << " = "
       << text(p.decl->steps.get()) << "\n";
    // In source order, as the phase's statements were written.
    for (const ast::PhaseStmt &s : p.decl->stmts) {
      if (s.kind == ast::PhaseStmt::Kind::Override)
        os << "  override " << s.population.name << "." << s.name.name;
      else
        os << "  record " << s.name.name;
      os << " : " << shape(s.value.get()) << " = " << text(s.value.get()) << "\n";
    }
  }

  void evaluate(const CheckedEvaluate &e) {
    os << "evaluate\n";
    for (size_t i = 0; i < e.phases.size(); ++i)
      os << "  phase " << model.phases[e.phases[i]].decl->name.name << " steps "
         << formatNumber(e.steps[i]) << "\n";
    if (e.reset)
      os << "  reset state\n";
    if (e.predictValue)
      os << "  predict argmax : " << shape(e.predictValue) << " = " << text(e.predictValue) << "\n";
  }

  void learn(const CheckedLearn &checked) {
    const ast::LearnDecl &learn = *checked.decl;
    os << "learn " << (learn.name ? learn.name->name + " " : "") << learn.optimizer.name
       << (checked.afterWarmup ? " after warmup" : "") << "\n";
    for (const OptimizerArgument &arg : kOptimizerArguments)
      if (const ast::Expr *e = checked.optimizer.*(arg.slot))
        os << "  " << arg.name << " : " << shape(e) << " = " << text(e) << "\n";
    size_t next = 0; // the next of checked.updates, which are in source order
    for (const ast::LearnStmt &s : learn.stmts) {
      if (s.kind != ast::LearnStmt::Kind::Update) {
        os << (s.kind == ast::LearnStmt::Kind::Let ? "  let " : "  monitor ") << s.name.name
           << " : " << shape(s.value.get()) << " = " << text(s.value.get()) << "\n";
        continue;
      }
      const CheckedTensor &weight = model.tensors[checked.updates[next++].tensor];
      os << "  update " << s.name.name << " : "
         << describe(model.globals.lookup(weight.decl->name.name).shape)
         << (s.subtract ? " -= " : " += ") << text(s.value.get()) << " : " << shape(s.value.get())
         << "\n";
    }
  }

  std::string describe(const Shape &s) const {
    std::string out = s.batched ? "per-example " : "";
    return out + (s.isScalar() ? "scalar" : ir::formatDims(s.dims, model.params));
  }

  std::string shape(const ast::Expr *e) const { return describe(model.shapeOf(e)); }

  /// The expression as written, on one line and without comments.
  static std::string text(const ast::Expr *e) {
    llvm::SMRange r = e->getRange();
    llvm::StringRef rest(r.Start.getPointer(), r.End.getPointer() - r.Start.getPointer());
    std::string out;
    bool space = false;
    while (!rest.empty()) {
      if (rest.starts_with("//") || rest.starts_with("/*")) {
        size_t end = rest.starts_with("//") ? rest.find('\n') : rest.find("*/");
        rest = end == llvm::StringRef::npos ? "" : rest.drop_front(end + 1);
        space = !out.empty();
        continue;
      }
      char c = rest.front();
      rest = rest.drop_front();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        space = !out.empty();
        continue;
      }
      if (space)
        out += ' ';
      space = false;
      out += c;
    }
    return out;
  }

  const CheckedModel &model;
  const ast::ModelFile &file;
  llvm::raw_ostream &os;
};

} // namespace

void print(const CheckedModel &model, llvm::raw_ostream &os) { Printer(model, os).run(); }

void printSolvers(const CheckedModel &model, llvm::raw_ostream &os) {
  for (const CheckedPopulation &pop : model.populations)
    for (const CheckedMember &m : pop.members)
      if (m.isState && m.update && m.update->kind == ast::PopulationStmt::Kind::Ode)
        os << pop.decl->name.name << "." << m.name << "  " << spelling(m.solver)
           << (m.solverChosen
                   ? "  (chosen: the equation is " +
                         std::string(m.solver == Solver::Exact ? "linear" : "nonlinear") + " in " +
                         m.name + ")"
                   : "  (written)")
           << "\n";
}

} // namespace bdl::sema
