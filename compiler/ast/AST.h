//===- AST.h - The .bdl abstract syntax tree ------------------*- C++ -*-===//
//
// A faithful, location-carrying picture of what the user wrote. Names are
// not resolved and shapes not known here; sema/ does that.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_AST_AST_H
#define BDL_AST_AST_H

#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bdl::ast {

using llvm::SMLoc;
using llvm::SMRange;

//===-- Expressions -------------------------------------------------------===//

class Expr {
public:
  enum class Kind { Number, Bool, Name, Member, Neg, Binary, Transpose, Call };
  Expr(Kind kind, SMRange range) : kind(kind), range(range) {}
  virtual ~Expr() = default;
  Kind getKind() const { return kind; }
  SMRange getRange() const { return range; }
  /// Where an expansion stands in the source (sema/Defs.cpp: a def's body
  /// takes the place, and the range, of its call).
  void setRange(SMRange r) { range = r; }

private:
  Kind kind;
  SMRange range;
};
using ExprPtr = std::unique_ptr<Expr>;

class NumberExpr : public Expr {
public:
  NumberExpr(SMRange r, double value, bool isInteger)
      : Expr(Kind::Number, r), value(value), isInteger(isInteger) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Number; }
  double value;
  bool isInteger;
};

class BoolExpr : public Expr {
public:
  BoolExpr(SMRange r, bool value) : Expr(Kind::Bool, r), value(value) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Bool; }
  bool value;
};

class NameExpr : public Expr {
public:
  NameExpr(SMRange r, std::string name) : Expr(Kind::Name, r), name(std::move(name)) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Name; }
  std::string name;
};

/// `pop.name`: a value or state of a population.
class MemberExpr : public Expr {
public:
  MemberExpr(SMRange r, std::string population, SMRange populationRange, std::string name,
             SMRange nameRange)
      : Expr(Kind::Member, r), population(std::move(population)), populationRange(populationRange),
        name(std::move(name)), nameRange(nameRange) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Member; }
  std::string population;
  SMRange populationRange;
  std::string name;
  SMRange nameRange;
};

class NegExpr : public Expr {
public:
  NegExpr(SMRange r, ExprPtr operand) : Expr(Kind::Neg, r), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Neg; }
  ExprPtr operand;
};

enum class BinaryOp { Add, Sub, Mul, Div, MatMul, Pow, Lt, Le, Gt, Ge, Eq, Ne };
const char *spelling(BinaryOp op);

class BinaryExpr : public Expr {
public:
  BinaryExpr(SMRange r, BinaryOp op, SMRange opRange, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, r), op(op), opRange(opRange), lhs(std::move(lhs)), rhs(std::move(rhs)) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Binary; }
  BinaryOp op;
  SMRange opRange;
  ExprPtr lhs, rhs;
};

class TransposeExpr : public Expr {
public:
  TransposeExpr(SMRange r, ExprPtr operand)
      : Expr(Kind::Transpose, r), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Transpose; }
  ExprPtr operand;
};

struct Arg {
  std::string key; // empty for a positional argument
  SMRange keyRange;
  ExprPtr value;
  bool window = false; // `last K`: value is K
  SMRange windowRange; // the `last` keyword
};

class CallExpr : public Expr {
public:
  CallExpr(SMRange r, std::string callee, SMRange calleeRange, std::vector<Arg> args)
      : Expr(Kind::Call, r), callee(std::move(callee)), calleeRange(calleeRange),
        args(std::move(args)) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Call; }
  std::string callee;
  SMRange calleeRange;
  std::vector<Arg> args;
};

/// A deep copy with the same source ranges.
ExprPtr clone(const Expr &e);

//===-- Declarations ------------------------------------------------------===//

/// A declared name with where it was written.
struct Ident {
  std::string name;
  SMRange range;
};

struct TuneSpec {
  std::optional<Ident> kind;   // linear when absent; "log", "int", "bool", "choice"
  std::vector<ExprPtr> values; // [lo, hi], or a choice's values; none for bool
  SMRange range;
};

struct ParamDecl {
  Ident name;
  ExprPtr value;
  std::optional<TuneSpec> tune;
};

struct ConstDecl {
  Ident name;
  ExprPtr value;
};

enum class TensorKind { Input, Target, Weight, Fixed };
const char *spelling(TensorKind kind);

struct TensorDecl {
  TensorKind kind;
  SMRange kindRange;
  Ident name;
  std::vector<ExprPtr> dims;
  ExprPtr init; // may be null
};

/// `layer h = ...` or `loss L = ...`.
struct LayerDecl {
  Ident name;
  ExprPtr value;
  bool isLoss = false;
};

struct LearnStmt {
  enum class Kind { Let, Update, Monitor };
  Kind kind;
  Ident name;
  std::optional<Ident> population; // `pop.x = ...`, `pop.x -= ...`: an error
  bool subtract = true;            // Update: `-=` or `+=`
  SMRange opRange;
  ExprPtr value;
};

struct LearnDecl {
  SMRange keywordRange;
  std::optional<Ident> name; // `learn forward sgd(...)`; unnamed when the model has one rule
  Ident optimizer;
  std::optional<Ident> schedule; // `after warmup`
  std::vector<Arg> args;
  std::vector<LearnStmt> stmts;
};

struct Setting {
  Ident name;
  ExprPtr value;
};

struct TrainDecl {
  SMRange keywordRange;
  Ident dataset;
  std::vector<Setting> settings;
};

/// `def name(a, b) = value`: expanded at every call (sema/Defs.cpp).
struct DefDecl {
  Ident name;
  std::vector<Ident> params;
  ExprPtr value;
};

/// One statement of a population body, run every time step in order.
struct PopulationStmt {
  enum class Kind {
    State, // `state C = 0`: declares a state and its initial (reset) value
    Ode,   // `dC/dt = ...`: integrates a state over one step
    Value  // `[compartment|current|rate|spikes|trace] x = ...`; a state's name
           // here assigns the state
  };
  Kind kind;
  Ident name; // the state or value
  ExprPtr value;
  SMRange range;               // the whole statement
  std::string valueKind;       // Value: the optional keyword ("compartment", ...)
  std::optional<Ident> solver; // Ode: `method = euler`
};

struct PopulationDecl {
  Ident name;
  ExprPtr size;
  std::vector<PopulationStmt> stmts;
};

struct PhaseStmt {
  enum class Kind { Override, Record };
  Kind kind;
  Ident population; // Override: `population.name = value`
  Ident name;
  ExprPtr value;
  SMRange range;
};

struct PhaseDecl {
  Ident name;
  ExprPtr steps;
  std::vector<PhaseStmt> stmts;
};

struct EvaluatePhase {
  Ident name;
  ExprPtr steps; // null: the phase's own
};

struct EvaluateDecl {
  SMRange keywordRange;
  std::vector<EvaluatePhase> phases;
  std::optional<SMRange> reset;
  ExprPtr predict; // may be null
  SMRange predictRange;
};

struct ImportDecl {
  std::string name; // "std.neurons"
  SMRange range;
};

/// One .bdl file: a model (or a library) and its declarations in source order.
struct ModelFile {
  Ident name;
  bool isLibrary = false;
  std::string path;
  std::vector<ImportDecl> imports;
  std::vector<DefDecl> defs;
  std::vector<PopulationDecl> populations;
  std::vector<PhaseDecl> phases;
  std::vector<EvaluateDecl> evaluates;     // sema allows one
  std::vector<PhaseStmt> strayAssignments; // `pop.x = ...` outside a phase: an error
  std::vector<ParamDecl> params;
  std::vector<ConstDecl> consts;
  std::vector<TensorDecl> tensors;
  std::vector<LayerDecl> layers;
  std::vector<LearnDecl> learns;
  std::vector<TrainDecl> trains; // sema allows one
};

} // namespace bdl::ast

#endif
