//===- Checker.h - The semantic checker's state, shared by its parts -*- C++ -*-===//
//
// Sema is one pass over the AST, split by concern: Names.cpp (declaring and
// resolving), Constants.cpp (params, consts, compile-time values),
// Tensors.cpp (dimensions, initialisers), Shapes.cpp (expressions),
// Model.cpp (layers, loss, training settings, the prediction) and Learn.cpp
// (the learning rule). Internal to compiler/sema.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_SEMA_CHECKER_H
#define BDL_SEMA_CHECKER_H

#include "sema/Sema.h"

#include "llvm/ADT/StringMap.h"

#include <array>
#include <optional>

namespace bdl::sema {

/// A compile-time value, if the expression has one.
struct Constant {
  enum Status { Known, NotConstant, Invalid /* an error, reported */ };
  Status status;
  double value = 0;
};

/// The population statement that declares a member: a state's `state`
/// statement, a value's definition.
const ast::PopulationStmt *declarationOf(const CheckedPopulation &pop, const CheckedMember &m);

class Checker {
public:
  Checker(const ast::ModelFile &file, DiagnosticEngine &diags);
  std::unique_ptr<CheckedModel> run();

private:
  //===-- Names.cpp -------------------------------------------------------===//
  bool declare(const ast::Ident &name, Symbol symbol);
  // Every global is entered first, so that a use before the definition is
  // reported as such rather than as an unknown name.
  void declareGlobals();
  /// Resolves `n` and records the result for lowering; null after an error.
  const Symbol *lookup(const ast::NameExpr *n);
  /// Resolves a name used at `use` (a declaration's target, a setting).
  const Symbol *resolveName(const std::string &name, llvm::SMRange use);

  //===-- Constants.cpp ---------------------------------------------------===//
  void checkParams();
  void checkTune(const ast::ParamDecl &p, ir::Param &param);
  void checkChoices(const ast::ParamDecl &p, ir::Param &param);
  void checkConsts();
  /// Whether `e` names a param anywhere (a derived param's definition).
  bool usesParam(const ast::Expr *e);
  /// The value of `e`, which must be a compile-time constant (`what` says
  /// where one is needed); nullopt after reporting why not.
  std::optional<double> constant(const ast::Expr *e, const char *what);
  /// Evaluates `e` if it is a constant expression. With `report`, names are
  /// resolved and errors reported; without, only names resolved before are
  /// read and nothing is reported.
  Constant evaluate(const ast::Expr *e, bool report);
  /// One step of a constant expression: a division by zero or a result
  /// beyond float32 is an error.
  Constant fold(const ast::BinaryExpr *b, double l, double r, bool report);
  /// The value of the const `file.consts[index]`, evaluated on first use.
  Constant constValue(size_t index, const ast::NameExpr *use);

  //===-- Tensors.cpp -----------------------------------------------------===//
  void checkTensors();
  /// A second input or target.
  void reportDuplicate(const ast::TensorDecl &second, const ast::TensorDecl &first);
  ir::Dim checkDim(const ast::Expr *e);
  void checkInit(const ast::Expr *init, CheckedTensor &ct);

  //===-- Shapes.cpp ------------------------------------------------------===//
  /// Computes and records the shape of `e`; nullopt after an error.
  std::optional<Shape> shape(const ast::Expr *e);
  std::optional<Shape> shapeImpl(const ast::Expr *e);
  std::optional<Shape> nameShape(const ast::NameExpr *n);
  std::optional<Shape> transposeShape(const ast::TransposeExpr *t);
  bool isTensorName(const ast::Expr *e);
  /// Elementwise broadcasting: equal dims, or one side a scalar.
  std::optional<Shape> broadcast(const Shape &l, const Shape &r, const char *verb,
                                 llvm::SMRange range, const ast::Expr *lhs = nullptr,
                                 const ast::Expr *rhs = nullptr);
  /// Points at where a named operand got its shape.
  void noteDeclaration(const ast::Expr *e);
  std::optional<Shape> binaryShape(const ast::BinaryExpr *b);
  /// A division by a constant zero, or a constant step that is not a finite
  /// float, is an error even where the expression is computed at run time.
  bool checkFolded(const ast::BinaryExpr *b);
  std::optional<Shape> matmulShape(const ast::BinaryExpr *b, const Shape &l, const Shape &r);
  std::optional<Shape> callShape(const ast::CallExpr *call);
  std::optional<Shape> gradShape(const ast::CallExpr *call);
  /// `normal(mean, std)` in a learn block: a draw per element and example.
  std::optional<Shape> normalDrawShape(const ast::CallExpr *call);
  // Images (sema/Images.cpp).
  bool allConstant(const ast::TensorDecl &t, const std::vector<ir::Dim> &dims);
  std::optional<Shape> imageCallShape(const ast::CallExpr *call);
  std::optional<Shape> imageBroadcast(const Shape &l, const Shape &r, const char *verb,
                                      llvm::SMRange range);
  std::optional<int64_t> windowArgument(const ast::CallExpr *call, const char *key,
                                        std::optional<int64_t> fallback, int64_t lo);
  std::optional<Shape> statisticShape(const ast::CallExpr *call);
  void checkMonitor(const ast::LearnStmt &stmt, llvm::StringMap<llvm::SMRange> &names);
  /// Per-example matrices (outer products) only make sense averaged into a
  /// weight update.
  bool rejectBatchedMatrix(const ast::Expr *e, const Shape &s, const std::string &name);

  //===-- Learn.cpp -------------------------------------------------------===//
  void checkLearn();
  void checkLearnBlock(const ast::LearnDecl &decl, llvm::StringMap<llvm::SMRange> &updated,
                       llvm::StringMap<llvm::SMRange> &monitorNames);
  /// Enters a learn-block value; false after reporting why it cannot be.
  bool declareLet(const ast::LearnStmt &stmt, int index);
  void checkOptimizer(const ast::LearnDecl &learn);
  /// A constant argument outside what its optimiser can use (clip <= 0,
  /// beta1 = 1, ...).
  void checkArgumentRange(const OptimizerArgument &arg, const char *optimizer,
                          const ast::Expr *value);
  void checkUpdate(const ast::LearnStmt &stmt, llvm::StringMap<llvm::SMRange> &updated);
  const CheckedPopulation *updatedPopulation(const ast::LearnStmt &stmt);
  /// Lowering turns each outer product of an update into one matrix product,
  /// so per-example matrices may only be added, negated and scaled.
  void checkLinearInOuter(const ast::Expr *e);

  //===-- Model.cpp -------------------------------------------------------===//
  void checkLayers();
  void checkTrain();
  void checkObjective(const ast::Setting &s);
  /// A prediction is the argmax of one vector per example.
  bool canPredictWith(const Symbol *s) const;
  void defaultPredict(const ast::Setting *predict);

  //===-- Populations.cpp -------------------------------------------------===//
  void declarePopulations();
  void checkPopulations();
  /// The population statement being checked: reads are ordered against it.
  struct StepPosition {
    int population = -1;
    int stmt = -1;
  };
  std::optional<Shape> memberShape(const ast::Expr *use, int population, int member);
  std::optional<Shape> memberExprShape(const ast::MemberExpr *m);
  /// Where a read of a population member is: inside a step, or after it.
  StepPosition position;
  bool inPopulationStep() const { return position.population >= 0; }
  /// The member of the population being checked named `name`, or null.
  const Symbol *lookupMember(const std::string &name);

  //===-- DynamicsCalls.cpp -----------------------------------------------===//
  /// prev(x), fir(x, taps), iota(n), mean(x, last K), if(c, a, b), the draws.
  std::optional<Shape> dynamicsCallShape(const ast::CallExpr *call, bool &handled);
  /// A scalar of params and consts only (phase lengths, windows), possibly
  /// with wald() draws when `allowDraws`; its value at the defaults.
  std::optional<double> paramExpression(const ast::Expr *e, const char *what, bool allowDraws);
  /// Where draws, windows and prev() are allowed.
  enum class Place { Model, Step, Record, Steps, Learn, Predict } place = Place::Model;
  int prevDepth = 0;   // > 0 inside prev(...)
  int windowDepth = 0; // > 0 inside mean(x, last K)

  //===-- Phases.cpp ------------------------------------------------------===//
  void checkPhases();
  void checkEvaluate();
  /// The whole number of steps a phase runs at the default params (wald()
  /// at its mean); nullopt after reporting why it cannot run.
  std::optional<double> phaseLength(const ast::Expr *steps, const std::string &phase);
  int currentPhase = -1;
  // The phase a window belongs to, for the window-length check (0: unknown).
  std::string windowPhaseName;
  double windowPhaseSteps = 0;
  const ast::Expr *windowPhaseExpr = nullptr; // its length as written
  /// Says that a value in a message is the one at the default params.
  void noteAtDefaults(const ast::Expr *e);
  std::vector<std::optional<Shape>> recordShapes;

  //===-- State -----------------------------------------------------------===//
  const ast::ModelFile &file;
  DiagnosticEngine &diags;
  std::unique_ptr<CheckedModel> model;
  std::vector<std::optional<Shape>> layerShapes;
  std::vector<std::optional<Shape>> letShapes; // by statement of the learn block
  int currentLayer = 0;
  bool inLearn = false;
  CheckedLearn *learn = nullptr; // the learn block being checked
  bool inMonitor = false;        // checking a monitor's expression (update(W) is allowed)
  struct ConstState {
    enum Status { Pending, Evaluating, Known, Invalid } status = Pending;
    double value = 0;
  };
  std::vector<ConstState> constStates; // by index into file.consts
  // Values of binary expressions evaluated without reporting, so that
  // checking every node of a deep expression stays linear.
  llvm::DenseMap<const ast::BinaryExpr *, Constant> silentValues;
  // The operands of the innermost '@' being checked: the only place W' may be.
  std::array<const ast::Expr *, 2> matmulOperands{};
  // Learn-block locals not yet defined at the statement being checked.
  llvm::StringMap<llvm::SMRange> laterLets;
};

} // namespace bdl::sema

#endif
