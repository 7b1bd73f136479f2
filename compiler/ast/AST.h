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
  enum class Kind { Number, Bool, Name, Neg, Binary, Transpose, Call };
  Expr(Kind kind, SMRange range) : kind(kind), range(range) {}
  virtual ~Expr() = default;
  Kind getKind() const { return kind; }
  SMRange getRange() const { return range; }

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

class NegExpr : public Expr {
public:
  NegExpr(SMRange r, ExprPtr operand) : Expr(Kind::Neg, r), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->getKind() == Kind::Neg; }
  ExprPtr operand;
};

enum class BinaryOp { Add, Sub, Mul, Div, MatMul, Pow };
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

//===-- Declarations ------------------------------------------------------===//

/// A declared name with where it was written.
struct Ident {
  std::string name;
  SMRange range;
};

struct TuneSpec {
  std::optional<Ident> kind; // linear when absent; "log", "int", "bool"
  ExprPtr lo, hi;            // absent for bool
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
  enum class Kind { Let, Update };
  Kind kind;
  Ident name;
  bool subtract = true; // Update: `-=` or `+=`
  SMRange opRange;
  ExprPtr value;
};

struct LearnDecl {
  SMRange keywordRange;
  Ident optimizer;
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

/// One .bdl file: a model and its declarations in source order.
struct ModelFile {
  Ident name;
  std::string path;
  std::vector<ParamDecl> params;
  std::vector<ConstDecl> consts;
  std::vector<TensorDecl> tensors;
  std::vector<LayerDecl> layers;
  std::vector<LearnDecl> learns; // sema allows one
  std::vector<TrainDecl> trains; // sema allows one
};

} // namespace bdl::ast

#endif
