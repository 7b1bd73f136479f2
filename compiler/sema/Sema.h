//===- Sema.h - Name resolution and shape checking ------------*- C++ -*-===//
//
// Resolves every name, computes the shape of every expression, checks the
// declarations and the learning rule, and records what lowering needs in a
// CheckedModel. Never throws: every problem becomes a diagnostic.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_SEMA_SEMA_H
#define BDL_SEMA_SEMA_H

#include "ast/AST.h"
#include "ir/IR.h"
#include "support/Diagnostics.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <map>
#include <optional>

namespace bdl::sema {

/// The shape of a value: a scalar (no dims), a vector [n] or a matrix [m, n],
/// either one value for the whole model or one per example (`batched`).
struct Shape {
  bool batched = false;
  std::vector<ir::Dim> dims;

  static Shape scalar(bool batched = false) { return {batched, {}}; }
  bool isScalar() const { return dims.empty(); }
  bool isVector() const { return dims.size() == 1; }
  bool isMatrix() const { return dims.size() == 2; }
  /// A per-example [channels, height, width] (sema/Images.cpp).
  bool isImage() const { return batched && dims.size() == 3; }
};

/// What a name refers to. Sema resolves every name once; lowering reads the
/// result (CheckedModel::symbolOf) and never looks a name up itself.
struct Symbol {
  enum class Kind { Param, Const, Tensor, Layer, Let, Runtime, Member, Record, Population };
  Kind kind;
  int index = -1; // Param: CheckedModel::params; Const: ModelFile::consts;
                  // Tensor: CheckedModel::tensors; Layer: ModelFile::layers;
                  // Let: its statement in LearnDecl::stmts; Runtime: the hp slot;
                  // Member, Population: CheckedModel::populations;
                  // Record: CheckedModel::records
  Shape shape;
  double constValue = 0; // Const
  llvm::SMRange declRange;
  const ast::TensorDecl *tensor = nullptr;
  int member = -1; // Member: CheckedPopulation::members
};

const char *describe(Symbol::Kind kind);

struct CheckedTensor {
  const ast::TensorDecl *decl;
  ir::Dim rows, cols; // vectors are [1, n]
  ir::InitKind init = ir::InitKind::Zero;
  float initA = 0, initB = 0;
  // Initialiser arguments that depend on params (computed at run time); the
  // floats above hold their values at the defaults.
  const ast::Expr *initAExpr = nullptr, *initBExpr = nullptr;
};

/// ODE integration methods (docs/language.md, "Solvers").
enum class Solver { Euler, ExpEuler, RK4, Exact };
const char *spelling(Solver s);

/// A state or value of a population: one tensor per example row, [batch, n],
/// plus `history - 1` older copies when something reads it steps later.
struct CheckedMember {
  std::string name;
  bool isState = false;
  double init = 0;                             // State: initial and reset value
  const ast::PopulationStmt *update = nullptr; // the statement that computes it (null: never)
  int updateIndex = -1;                        // its index in the population's statements
  int history = 1;                             // buffers: the value and history-1 older ones
  Solver solver = Solver::Euler;               // Ode
  bool solverChosen = false;                   // chosen by bdlc, not written
  bool replayable = false;                     // computed by a random draw: --replay may feed it
};

struct CheckedPopulation {
  const ast::PopulationDecl *decl;
  ir::Dim size;
  std::vector<CheckedMember> members;
  llvm::StringMap<int> byName;
};

/// How a read of a member is lowered: the buffer `lag` steps back from what
/// its tensor holds when the read runs (0: the tensor itself).
struct MemberRead {
  int population = -1, member = -1;
  int lag = 0;
};

struct CheckedRecord {
  const ast::PhaseStmt *stmt;
  int phase; // index into CheckedModel::phases
};

struct CheckedPhase {
  const ast::PhaseDecl *decl;
  /// (population, member) -> the phase's replacement for its value.
  std::map<std::pair<int, int>, const ast::PhaseStmt *> overrides;
  std::vector<int> records;
  double steps = 0; // at the default params, wald() at its mean (--emit=sema)
};

struct CheckedEvaluate {
  const ast::EvaluateDecl *decl = nullptr;
  std::vector<int> phases;   // index into CheckedModel::phases, per EvaluateDecl::phases
  std::vector<double> steps; // per phase, as CheckedPhase::steps
  bool reset = false;
  const ast::Expr *predictValue = nullptr; // the predict expression, argmax() removed
};

/// The learn block's optimiser and its arguments as written; a null
/// argument takes its default (docs/language.md#optimisers).
struct Optimizer {
  enum class Kind { Sgd, Adam } kind = Kind::Sgd;
  const ast::Expr *lr = nullptr;
  const ast::Expr *momentum = nullptr;    // sgd; null: none
  const ast::Expr *beta1 = nullptr;       // adam; null: 0.9
  const ast::Expr *beta2 = nullptr;       // adam; null: 0.999
  const ast::Expr *eps = nullptr;         // adam; null: 1e-8
  const ast::Expr *weightDecay = nullptr; // null: none
  const ast::Expr *clip = nullptr;        // a global norm; null: no clipping
  const char *name() const { return kind == Kind::Adam ? "adam" : "sgd"; }
};

/// What a constant optimiser argument must be (a param's value is the
/// user's to choose, as for any runtime scalar).
using ArgumentRange = ir::ParamRange;

/// The arguments of each optimiser: the one table sema checks them against
/// and --emit=sema prints them by.
struct OptimizerArgument {
  const char *name;
  const ast::Expr *Optimizer::*slot;
  bool sgd, adam; // which optimisers take it
  ArgumentRange range;
};
inline constexpr OptimizerArgument kOptimizerArguments[] = {
    {"lr", &Optimizer::lr, true, true, ArgumentRange::Any},
    {"momentum", &Optimizer::momentum, true, false, ArgumentRange::Any},
    {"beta1", &Optimizer::beta1, false, true, ArgumentRange::Fraction},
    {"beta2", &Optimizer::beta2, false, true, ArgumentRange::Fraction},
    {"eps", &Optimizer::eps, false, true, ArgumentRange::Positive},
    {"weight_decay", &Optimizer::weightDecay, true, true, ArgumentRange::NonNegative},
    {"clip", &Optimizer::clip, true, true, ArgumentRange::Positive},
};

/// A weight update of the learning rule: `weight -= stmt.value`.
struct CheckedUpdate {
  const ast::LearnStmt *stmt;
  int tensor; // index into CheckedModel::tensors
};

/// One `learn` block. Every block of a batch reads the values from before
/// any block's steps (lowering keeps that, docs/language.md#learning-rules).
struct CheckedLearn {
  const ast::LearnDecl *decl = nullptr;
  /// The IR block's name: "learn", or "learn.NAME" for a named block.
  std::string blockName;
  bool afterWarmup = false; // `after warmup`: skipped in the warm-up epochs
  Optimizer optimizer;
  /// The block's values (names local to it; Symbol::index is the statement).
  llvm::StringMap<Symbol> lets;
  std::vector<CheckedUpdate> updates;           // in source order
  std::vector<const ast::LearnStmt *> monitors; // in source order
};

/// Everything lowering needs, beside the AST itself.
struct CheckedModel {
  const ast::ModelFile *file = nullptr;
  std::vector<ir::Param> params;
  std::vector<CheckedTensor> tensors;
  llvm::StringMap<Symbol> globals;
  /// The predeclared runtime scalars the model reads (`epoch`).
  llvm::StringMap<Symbol> runtime;
  /// The symbol every name expression resolved to.
  llvm::DenseMap<const ast::NameExpr *, const Symbol *> resolved;
  llvm::DenseMap<const ast::Expr *, Shape> shapes;
  /// Member reads (MemberExpr, a population's own names, prev(...)) and
  /// what they lower to.
  llvm::DenseMap<const ast::Expr *, MemberRead> memberReads;
  std::vector<CheckedPopulation> populations;
  /// The symbols of each population's own names (what `resolved` points to).
  std::vector<std::vector<Symbol>> memberSymbols;
  std::vector<CheckedPhase> phases;
  std::vector<CheckedRecord> records;
  CheckedEvaluate evaluate;
  /// Derived params (an expression of other params): by param index.
  std::map<int, const ast::Expr *> derivations;
  /// The window of every conv2d and maxpool2d call.
  llvm::DenseMap<const ast::CallExpr *, ir::Window> windows;
  bool hasDynamics() const { return !populations.empty(); }

  std::vector<CheckedLearn> learns; // in source order
  /// Every learn block's monitors, in source order (the runtime's order).
  std::vector<const ast::LearnStmt *> monitors() const {
    std::vector<const ast::LearnStmt *> all;
    for (const CheckedLearn &l : learns)
      all.insert(all.end(), l.monitors.begin(), l.monitors.end());
    return all;
  }
  /// Whether any learn block has a value named `name`.
  bool isLet(llvm::StringRef name) const {
    for (const CheckedLearn &l : learns)
      if (l.lets.count(name))
        return true;
    return false;
  }
  std::string dataset = "fashion_mnist";
  int epochs = 5, batch = 32, validation = 0;
  int warmup = 0; // the first epochs, in which `after warmup` blocks are skipped
  ir::Objective objective;
  int predict = -1;            // the layer to predict with (index into ModelFile::layers)
  int loss = -1;               // the loss layer, or -1
  int input = -1, target = -1; // indices into tensors

  const Shape &shapeOf(const ast::Expr *e) const { return shapes.find(e)->second; }
  const Symbol &symbolOf(const ast::NameExpr *n) const { return *resolved.find(n)->second; }
};

/// Replaces every call of a `def` by its body (before check). False after
/// reporting an error.
bool expandDefinitions(ast::ModelFile &file, DiagnosticEngine &diags);

/// Returns null if any error was reported.
std::unique_ptr<CheckedModel> check(const ast::ModelFile &file, DiagnosticEngine &diags);

/// Prints every checked declaration with its shape (bdlc --emit=sema).
void print(const CheckedModel &model, llvm::raw_ostream &os);

/// One line per ODE: population.state, its method, and whether bdlc chose
/// it (bdlc --print-solvers).
void printSolvers(const CheckedModel &model, llvm::raw_ostream &os);

/// "a per-example vector [hidden]", "a matrix [10, 784]", ...
std::string describe(const Shape &shape, const std::vector<ir::Param> &params);

} // namespace bdl::sema

#endif
