//===- Sema.cpp - Name resolution and shape checking ----------------------===//
#include "sema/Sema.h"
#include "ir/Format.h"
#include "sema/Builtins.h"
#include "support/Format.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Casting.h"

#include <array>
#include <cmath>

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

const char *describe(Symbol::Kind kind) {
  switch (kind) {
  case Symbol::Kind::Param:
    return "param";
  case Symbol::Kind::Const:
    return "const";
  case Symbol::Kind::Tensor:
    return "tensor";
  case Symbol::Kind::Layer:
    return "layer";
  case Symbol::Kind::Let:
    return "learning-rule value";
  case Symbol::Kind::Runtime:
    return "runtime value";
  }
  return "name";
}

std::string describe(const Shape &shape, const std::vector<ir::Param> &params) {
  std::string s = shape.batched ? "a per-example " : "a ";
  if (shape.isScalar())
    return s + "scalar";
  s += shape.isVector() ? "vector " : "matrix ";
  return s + ir::formatDims(shape.dims, params);
}

std::optional<double> CheckedModel::constantValue(const ast::Expr *e) const {
  if (auto *n = dyn_cast<ast::NumberExpr>(e))
    return n->value;
  if (auto *b = dyn_cast<ast::BoolExpr>(e))
    return b->value ? 1.0 : 0.0;
  if (auto *n = dyn_cast<ast::NameExpr>(e)) {
    auto it = globals.find(n->name);
    if (it != globals.end() && it->second.kind == Symbol::Kind::Const)
      return it->second.constValue;
    return std::nullopt;
  }
  if (auto *n = dyn_cast<ast::NegExpr>(e)) {
    if (auto v = constantValue(n->operand.get()))
      return -*v;
    return std::nullopt;
  }
  if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
    auto l = constantValue(b->lhs.get()), r = constantValue(b->rhs.get());
    if (!l || !r)
      return std::nullopt;
    switch (b->op) {
    case ast::BinaryOp::Add:
      return *l + *r;
    case ast::BinaryOp::Sub:
      return *l - *r;
    case ast::BinaryOp::Mul:
      return *l * *r;
    case ast::BinaryOp::Div:
      return *l / *r;
    case ast::BinaryOp::Pow:
      return std::pow(*l, *r);
    case ast::BinaryOp::MatMul:
      return std::nullopt;
    }
  }
  return std::nullopt;
}

namespace {

const char *const kDatasets[] = {"fashion_mnist", "mnist", "cifar10"};
const char *const kSettings[] = {"epochs", "batch", "validation", "predict"};

class Checker {
public:
  Checker(const ast::ModelFile &file, DiagnosticEngine &diags) : file(file), diags(diags) {
    model = std::make_unique<CheckedModel>();
    model->file = &file;
  }

  std::unique_ptr<CheckedModel> run() {
    declareGlobals();
    checkParams();
    checkConsts();
    checkTensors();
    checkLayers();
    checkLearn();
    checkTrain();
    if (diags.hasErrors())
      return nullptr;
    return std::move(model);
  }

private:
  //===-- Declarations ----------------------------------------------------===//

  bool declare(const ast::Ident &name, Symbol symbol) {
    symbol.declRange = name.range;
    auto [it, inserted] = model->globals.try_emplace(name.name, symbol);
    if (!inserted) {
      diags.report(name.range, DiagID::err_redefinition, name.name);
      diags.report(it->second.declRange, DiagID::note_previous_definition);
      return false;
    }
    return true;
  }

  // Every global is entered first, so that a use before the definition is
  // reported as such rather than as an unknown name.
  void declareGlobals() {
    for (size_t i = 0; i < file.params.size(); ++i)
      declare(file.params[i].name, {Symbol::Kind::Param, (int)i});
    for (const ast::ConstDecl &c : file.consts)
      declare(c.name, {Symbol::Kind::Const});
    for (size_t i = 0; i < file.tensors.size(); ++i) {
      Symbol s{Symbol::Kind::Tensor, (int)i};
      s.tensor = &file.tensors[i];
      declare(file.tensors[i].name, s);
    }
    for (size_t i = 0; i < file.layers.size(); ++i)
      declare(file.layers[i].name, {Symbol::Kind::Layer, (int)i});
  }

  void checkParams() {
    for (const ast::ParamDecl &p : file.params) {
      ir::Param param;
      param.name = p.name.name;
      std::optional<double> value = constant(p.value.get(), "a param's default value");
      param.value = value.value_or(0);
      if (isa<ast::BoolExpr>(p.value.get()))
        param.type = ir::ParamType::Bool;
      if (p.tune)
        checkTune(p, param);
      model->params.push_back(param);
    }
  }

  void checkTune(const ast::ParamDecl &p, ir::Param &param) {
    const ast::TuneSpec &t = *p.tune;
    std::string kind = t.kind ? t.kind->name : "";
    if (kind.empty())
      param.tune = ir::TuneKind::Linear;
    else if (kind == "log")
      param.tune = ir::TuneKind::Log;
    else if (kind == "int")
      param.tune = ir::TuneKind::Int, param.type = ir::ParamType::Int;
    else if (kind == "bool")
      param.tune = ir::TuneKind::Bool, param.type = ir::ParamType::Bool;
    else {
      diags.report(t.kind->range, DiagID::err_invalid_tune,
                   "unknown tune kind '" + kind + "'; expected 'log', 'int' or 'bool'");
      return;
    }
    if (param.tune == ir::TuneKind::Bool) {
      if (t.lo)
        diags.report(t.range, DiagID::err_invalid_tune, "a bool param takes no range");
      param.lo = 0, param.hi = 1;
      return;
    }
    if (!t.lo) {
      diags.report(t.range, DiagID::err_invalid_tune, "'tune' needs a range: tune [lo, hi]");
      return;
    }
    auto lo = constant(t.lo.get(), "a tune bound"), hi = constant(t.hi.get(), "a tune bound");
    if (!lo || !hi)
      return;
    param.lo = *lo, param.hi = *hi;
    if (!(*lo < *hi))
      diags.report(t.range, DiagID::err_invalid_tune,
                   "empty range: the lower bound must be below the upper bound");
    else if (param.tune == ir::TuneKind::Log && *lo <= 0)
      diags.report(t.lo->getRange(), DiagID::err_invalid_tune,
                   "a log-scale range must be positive");
    else if (param.tune == ir::TuneKind::Int && (*lo != std::floor(*lo) || *hi != std::floor(*hi)))
      diags.report(t.range, DiagID::err_invalid_tune, "an int range needs integer bounds");
    else if (param.value < *lo || param.value > *hi)
      diags.report(p.value->getRange(), DiagID::err_invalid_tune,
                   "default " + formatNumber(param.value) + " lies outside the tune range");
  }

  void checkConsts() {
    for (const ast::ConstDecl &c : file.consts) {
      std::optional<double> v = constant(c.value.get(), "a const");
      if (v)
        model->globals[c.name.name].constValue = *v;
    }
  }

  std::optional<double> constant(const ast::Expr *e, const char *what) {
    // Names must be known to give a useful error for `const a = b`.
    if (!resolveNamesOnly(e))
      return std::nullopt;
    std::optional<double> v = model->constantValue(e);
    if (!v)
      diags.report(e->getRange(), DiagID::err_not_constant, what);
    return v;
  }

  bool resolveNamesOnly(const ast::Expr *e) {
    if (auto *n = dyn_cast<ast::NameExpr>(e))
      return lookup(n) != nullptr;
    if (auto *n = dyn_cast<ast::NegExpr>(e))
      return resolveNamesOnly(n->operand.get());
    if (auto *b = dyn_cast<ast::BinaryExpr>(e))
      return resolveNamesOnly(b->lhs.get()) && resolveNamesOnly(b->rhs.get());
    return true;
  }

  void checkTensors() {
    for (const ast::TensorDecl &t : file.tensors) {
      CheckedTensor ct{&t};
      bool isData = t.kind == ast::TensorKind::Input || t.kind == ast::TensorKind::Target;
      if (isData && t.dims.size() != 1) {
        diags.report(t.name.range, DiagID::err_invalid_value,
                     std::string("an ") + ast::spelling(t.kind) +
                         " is one example's vector: give exactly one dimension");
      } else if (t.dims.size() > 2) {
        diags.report(t.dims[2]->getRange(), DiagID::err_invalid_value,
                     "tensors have at most two dimensions");
      }
      std::vector<ir::Dim> dims;
      for (const ast::ExprPtr &d : t.dims)
        dims.push_back(checkDim(d.get()));
      if (dims.size() == 1)
        ct.rows = ir::Dim::constant(1), ct.cols = dims[0];
      else if (dims.size() >= 2)
        ct.rows = dims[0], ct.cols = dims[1];
      if (t.init) {
        if (isData)
          diags.report(t.init->getRange(), DiagID::err_invalid_initializer,
                       std::string("an ") + ast::spelling(t.kind) +
                           " is filled with data; it takes no initialiser");
        else
          checkInit(t.init.get(), ct);
      }
      Symbol &s = model->globals[t.name.name];
      if (s.tensor == &t) {
        s.shape.batched = isData;
        s.shape.dims = dims;
        if (dims.size() > 2)
          s.shape.dims.resize(2);
      }
      int index = (int)model->tensors.size();
      if (t.kind == ast::TensorKind::Input && model->input < 0)
        model->input = index;
      else if (t.kind == ast::TensorKind::Input)
        diags.report(t.name.range, DiagID::err_duplicate_declaration, "input");
      if (t.kind == ast::TensorKind::Target && model->target < 0)
        model->target = index;
      else if (t.kind == ast::TensorKind::Target)
        diags.report(t.name.range, DiagID::err_duplicate_declaration, "target");
      model->tensors.push_back(ct);
    }
    if (model->input < 0)
      diags.report(file.name.range, DiagID::err_missing_declaration, file.name.name,
                   "input (e.g. 'input x[784]')");
    if (model->target < 0)
      diags.report(file.name.range, DiagID::err_missing_declaration, file.name.name,
                   "target (e.g. 'target t[10]')");
  }

  ir::Dim checkDim(const ast::Expr *e) {
    if (auto *n = dyn_cast<ast::NameExpr>(e)) {
      const Symbol *s = lookup(n);
      if (!s)
        return ir::Dim::constant(1);
      if (s->kind == Symbol::Kind::Param) {
        ir::Param &p = model->params[s->index];
        bool integral = p.value == std::floor(p.value) && p.value >= 1;
        if (integral && p.type != ir::ParamType::Bool &&
            (p.tune == ir::TuneKind::None || p.tune == ir::TuneKind::Int)) {
          p.type = ir::ParamType::Int;
          return ir::Dim::param(s->index);
        }
        diags.report(e->getRange(), DiagID::err_invalid_dim,
                     "param '" + n->name + "', which is not a positive integer param");
        diags.report(s->declRange, DiagID::note_declared_here, n->name);
        return ir::Dim::constant(1);
      }
    }
    if (!resolveNamesOnly(e))
      return ir::Dim::constant(1);
    std::optional<double> v = model->constantValue(e);
    if (v && *v >= 1 && *v == std::floor(*v) && *v < (1ll << 31))
      return ir::Dim::constant((int64_t)*v);
    std::string what = v ? formatNumber(*v) : std::string("a computed value");
    diags.report(e->getRange(), DiagID::err_invalid_dim, what);
    return ir::Dim::constant(1);
  }

  void checkInit(const ast::Expr *init, CheckedTensor &ct) {
    if (!isa<ast::CallExpr>(init)) {
      if (auto v = constant(init, "an initial value")) {
        ct.init = *v == 0 ? ir::InitKind::Zero : ir::InitKind::Const;
        ct.initA = (float)*v;
      }
      return;
    }
    auto *call = cast<ast::CallExpr>(init);
    struct InitForm {
      const char *name;
      ir::InitKind kind;
      unsigned arity;
      const char *arguments;
    };
    static const InitForm forms[] = {
        {"zeros", ir::InitKind::Zero, 0, "no arguments"},
        {"xavier", ir::InitKind::Xavier, 0, "no arguments"},
        {"kaiming", ir::InitKind::Kaiming, 0, "no arguments"},
        {"uniform", ir::InitKind::Uniform, 2, "2 arguments (lo, hi)"},
        {"normal", ir::InitKind::Normal, 2, "2 arguments (mean, std)"}};
    const InitForm *form = nullptr;
    for (const InitForm &f : forms)
      if (call->callee == f.name)
        form = &f;
    if (!form) {
      diags.report(call->calleeRange, DiagID::err_invalid_initializer,
                   "unknown initialiser '" + call->callee +
                       "'; expected zeros(), xavier(), kaiming(), uniform(lo, hi), normal(mean, "
                       "std) or a constant");
      return;
    }
    if (call->args.size() != form->arity) {
      diags.report(call->getRange(), DiagID::err_argument_count, call->callee, form->arguments,
                   std::to_string(call->args.size()));
      return;
    }
    ct.init = form->kind;
    std::vector<double> values;
    for (const ast::Arg &a : call->args) {
      if (!a.key.empty()) {
        diags.report(a.keyRange, DiagID::err_unknown_argument, call->callee, a.key);
        return;
      }
      auto v = constant(a.value.get(), "an initialiser argument");
      if (!v)
        return;
      values.push_back(*v);
    }
    if (form->arity == 2) {
      ct.initA = (float)values[0], ct.initB = (float)values[1];
      if (form->kind == ir::InitKind::Uniform && !(values[0] < values[1]))
        diags.report(call->getRange(), DiagID::err_invalid_initializer,
                     "uniform(lo, hi) needs lo < hi");
      if (form->kind == ir::InitKind::Normal && values[1] < 0)
        diags.report(call->args[1].value->getRange(), DiagID::err_invalid_initializer,
                     "a standard deviation cannot be negative");
    }
  }

  //===-- Expressions -----------------------------------------------------===//

  const Symbol *lookup(const ast::NameExpr *n) {
    if (auto it = model->lets.find(n->name); it != model->lets.end() && inLearn) {
      transientSymbol = Symbol{Symbol::Kind::Let, -1, it->second};
      return &transientSymbol;
    }
    auto it = model->globals.find(n->name);
    if (it != model->globals.end())
      return &it->second;
    if (auto later = laterLets.find(n->name); later != laterLets.end() && inLearn) {
      diags.report(n->getRange(), DiagID::err_use_before_definition, n->name);
      diags.report(later->second, DiagID::note_declared_here, n->name);
      return nullptr;
    }
    if (int slot = runtimeScalarSlot(n->name); slot >= 0) {
      transientSymbol = Symbol{Symbol::Kind::Runtime, slot, Shape::scalar()};
      return &transientSymbol;
    }
    std::string best;
    unsigned bestDistance = 3;
    auto consider = [&](llvm::StringRef candidate) {
      unsigned d = llvm::StringRef(n->name).edit_distance(candidate, true, bestDistance);
      if (d < bestDistance || (d == bestDistance && best.empty() && d < 3)) {
        bestDistance = d;
        best = candidate.str();
      }
    };
    for (const auto &entry : model->globals)
      consider(entry.getKey());
    if (inLearn)
      for (const auto &entry : model->lets)
        consider(entry.getKey());
    if (!best.empty() && bestDistance <= std::max<size_t>(1, n->name.size() / 3))
      diags.report(n->getRange(), DiagID::err_undeclared_suggest, n->name, best);
    else
      diags.report(n->getRange(), DiagID::err_undeclared, n->name);
    return nullptr;
  }

  /// Computes and records the shape of `e`; nullopt after an error.
  std::optional<Shape> shape(const ast::Expr *e) {
    std::optional<Shape> s = shapeImpl(e);
    if (s)
      model->shapes[e] = *s;
    return s;
  }

  std::optional<Shape> shapeImpl(const ast::Expr *e) {
    switch (e->getKind()) {
    case ast::Expr::Kind::Number:
    case ast::Expr::Kind::Bool:
      return Shape::scalar();
    case ast::Expr::Kind::Name:
      return nameShape(cast<ast::NameExpr>(e));
    case ast::Expr::Kind::Neg:
      return shape(cast<ast::NegExpr>(e)->operand.get());
    case ast::Expr::Kind::Transpose:
      return transposeShape(cast<ast::TransposeExpr>(e));
    case ast::Expr::Kind::Binary:
      return binaryShape(cast<ast::BinaryExpr>(e));
    case ast::Expr::Kind::Call:
      return callShape(cast<ast::CallExpr>(e));
    }
    return std::nullopt;
  }

  std::optional<Shape> nameShape(const ast::NameExpr *n) {
    const Symbol *s = lookup(n);
    if (!s)
      return std::nullopt;
    switch (s->kind) {
    case Symbol::Kind::Param:
    case Symbol::Kind::Const:
    case Symbol::Kind::Runtime:
      return Shape::scalar();
    case Symbol::Kind::Tensor:
    case Symbol::Kind::Let:
      return s->shape;
    case Symbol::Kind::Layer:
      if (!inLearn && s->index >= currentLayer) {
        diags.report(n->getRange(), DiagID::err_use_before_definition, n->name);
        diags.report(s->declRange, DiagID::note_declared_here, n->name);
        return std::nullopt;
      }
      if (!layerShapes[s->index])
        return std::nullopt; // its own definition was in error
      return layerShapes[s->index];
    }
    return std::nullopt;
  }

  std::optional<Shape> transposeShape(const ast::TransposeExpr *t) {
    std::optional<Shape> s = shape(t->operand.get());
    if (!s)
      return std::nullopt;
    if (!s->isMatrix() || s->batched || !isTensorName(t->operand.get())) {
      diags.report(t->getRange(), DiagID::err_transpose_operand,
                   "only a weight matrix can be transposed, not " + describe(*s, model->params));
      return std::nullopt;
    }
    if (t != matmulOperands[0] && t != matmulOperands[1]) {
      diags.report(t->getRange(), DiagID::err_transpose_operand,
                   "a transposed matrix can only be multiplied with '@', as in W' @ v");
      return std::nullopt;
    }
    return Shape{false, {s->dims[1], s->dims[0]}};
  }

  bool isTensorName(const ast::Expr *e) {
    auto *n = dyn_cast<ast::NameExpr>(e);
    if (!n)
      return false;
    auto it = model->globals.find(n->name);
    return it != model->globals.end() && it->second.kind == Symbol::Kind::Tensor;
  }

  /// Elementwise broadcasting: equal dims, or one side a scalar.
  std::optional<Shape> broadcast(const Shape &l, const Shape &r, const char *verb,
                                 llvm::SMRange range, const ast::Expr *lhs = nullptr,
                                 const ast::Expr *rhs = nullptr) {
    if (l.isScalar() || r.isScalar() || l.dims == r.dims) {
      Shape out = l.isScalar() ? r : l;
      out.batched = l.batched || r.batched;
      return out;
    }
    diags.report(range, DiagID::err_shape_mismatch, verb, describe(l, model->params),
                 describe(r, model->params));
    noteDeclaration(lhs);
    noteDeclaration(rhs);
    return std::nullopt;
  }

  /// Points at where a named operand got its shape.
  void noteDeclaration(const ast::Expr *e) {
    auto *n = e ? dyn_cast<ast::NameExpr>(e) : nullptr;
    if (!n)
      return;
    auto it = model->globals.find(n->name);
    if (it != model->globals.end() && it->second.declRange.isValid())
      diags.report(it->second.declRange, DiagID::note_declared_here, n->name);
  }

  std::optional<Shape> binaryShape(const ast::BinaryExpr *b) {
    if (b->op == ast::BinaryOp::MatMul)
      matmulOperands = {b->lhs.get(), b->rhs.get()};
    std::optional<Shape> l = shape(b->lhs.get());
    if (b->op == ast::BinaryOp::MatMul)
      matmulOperands = {b->lhs.get(), b->rhs.get()};
    std::optional<Shape> r = shape(b->rhs.get());
    if (!l || !r)
      return std::nullopt;
    switch (b->op) {
    case ast::BinaryOp::Add:
      return broadcast(*l, *r, "add", b->opRange, b->lhs.get(), b->rhs.get());
    case ast::BinaryOp::Sub:
      return broadcast(*l, *r, "subtract", b->opRange, b->lhs.get(), b->rhs.get());
    case ast::BinaryOp::Mul:
      return broadcast(*l, *r, "multiply", b->opRange, b->lhs.get(), b->rhs.get());
    case ast::BinaryOp::Div:
      return broadcast(*l, *r, "divide", b->opRange, b->lhs.get(), b->rhs.get());
    case ast::BinaryOp::Pow:
      if (!r->isScalar() || r->batched) {
        diags.report(b->rhs->getRange(), DiagID::err_operand_type, "^", "a scalar exponent",
                     describe(*r, model->params));
        return std::nullopt;
      }
      return l;
    case ast::BinaryOp::MatMul:
      return matmulShape(b, *l, *r);
    }
    return std::nullopt;
  }

  std::optional<Shape> matmulShape(const ast::BinaryExpr *b, const Shape &l, const Shape &r) {
    auto fail = [&](const char *why) -> std::optional<Shape> {
      diags.report(b->opRange, DiagID::err_matmul_shape, describe(l, model->params),
                   describe(r, model->params), why);
      noteDeclaration(b->lhs.get());
      noteDeclaration(b->rhs.get());
      return std::nullopt;
    };
    if (!l.isMatrix() || l.batched)
      return fail("the left operand must be a weight matrix");
    if (r.isScalar() || (r.isMatrix() && r.batched))
      return fail("the right operand must be a vector or a matrix");
    if (l.dims[1] != r.dims[0])
      return fail("the inner dimensions differ");
    if (r.isVector())
      return Shape{r.batched, {l.dims[0]}};
    return Shape{false, {l.dims[0], r.dims[1]}};
  }

  std::optional<Shape> callShape(const ast::CallExpr *call) {
    const Builtin *builtin = findBuiltin(call->callee);
    if (!builtin) {
      diags.report(call->calleeRange, DiagID::err_unknown_function, call->callee);
      return std::nullopt;
    }
    if (builtin->form == Builtin::Form::Initialiser) {
      diags.report(call->calleeRange, DiagID::err_invalid_initializer,
                   "'" + call->callee + "' initialises a weight and can only follow its '='");
      return std::nullopt;
    }
    if (call->args.size() != builtin->arity) {
      diags.report(call->getRange(), DiagID::err_argument_count, call->callee,
                   builtin->arity == 1 ? "1 argument"
                                       : std::to_string(builtin->arity) + " arguments",
                   std::to_string(call->args.size()));
      return std::nullopt;
    }
    std::vector<Shape> args;
    for (const ast::Arg &a : call->args) {
      if (!a.key.empty()) {
        diags.report(a.keyRange, DiagID::err_unknown_argument, call->callee, a.key);
        return std::nullopt;
      }
      std::optional<Shape> s = shape(a.value.get());
      if (!s)
        return std::nullopt;
      args.push_back(*s);
    }
    auto expect = [&](size_t i, bool ok, const char *what) {
      if (!ok)
        diags.report(call->args[i].value->getRange(), DiagID::err_operand_type, call->callee, what,
                     describe(args[i], model->params));
      return ok;
    };
    switch (builtin->form) {
    case Builtin::Form::Elementwise:
      if (args.size() == 2)
        return broadcast(args[0], args[1], "combine", call->getRange());
      return args[0];
    case Builtin::Form::RowToRow:
      if (!expect(0, args[0].isVector(), "a vector"))
        return std::nullopt;
      return args[0];
    case Builtin::Form::RowToScalar:
      if (!expect(0, args[0].isVector(), "a vector"))
        return std::nullopt;
      if (args.size() == 2) {
        if (!expect(1, args[1].isVector(), "a vector"))
          return std::nullopt;
        if (!broadcast(args[0], args[1], "compare", call->getRange()))
          return std::nullopt;
      }
      return Shape::scalar(args[0].batched || (args.size() == 2 && args[1].batched));
    case Builtin::Form::Outer:
      if (!expect(0, args[0].isVector(), "a vector") || !expect(1, args[1].isVector(), "a vector"))
        return std::nullopt;
      return Shape{args[0].batched || args[1].batched, {args[0].dims[0], args[1].dims[0]}};
    case Builtin::Form::Initialiser:
      break;
    }
    return std::nullopt;
  }

  /// Per-example matrices (outer products) only make sense averaged into a
  /// weight update.
  bool rejectBatchedMatrix(const ast::Expr *e, const Shape &s, const std::string &name) {
    if (s.isMatrix() && s.batched) {
      diags.report(e->getRange(), DiagID::err_operand_type, name,
                   "a per-example vector or scalar (a per-example matrix can only be the "
                   "right-hand side of a weight update)",
                   describe(s, model->params));
      return true;
    }
    return false;
  }

  //===-- Layers, learning rule, training ---------------------------------===//

  void checkLayers() {
    layerShapes.resize(file.layers.size());
    for (size_t i = 0; i < file.layers.size(); ++i) {
      const ast::LayerDecl &layer = file.layers[i];
      currentLayer = (int)i;
      std::optional<Shape> s = shape(layer.value.get());
      if (s && rejectBatchedMatrix(layer.value.get(), *s, layer.name.name))
        s.reset();
      if (s && layer.isLoss && !(s->isScalar() && s->batched)) {
        diags.report(layer.value->getRange(), DiagID::err_loss_shape, layer.name.name,
                     describe(*s, model->params));
        s.reset();
      }
      layerShapes[i] = s;
      if (s)
        model->globals[layer.name.name].shape = *s;
      if (layer.isLoss && model->loss.empty())
        model->loss = layer.name.name;
    }
    currentLayer = (int)file.layers.size();
  }

  void checkLearn() {
    if (file.learns.empty())
      return;
    for (size_t i = 1; i < file.learns.size(); ++i)
      diags.report(file.learns[i].keywordRange, DiagID::err_duplicate_declaration, "learn");
    const ast::LearnDecl &learn = file.learns[0];
    model->learn = &learn;
    inLearn = true;
    checkOptimizer(learn);
    llvm::StringMap<llvm::SMRange> updated;
    llvm::StringMap<llvm::SMRange> letRanges;
    for (const ast::LearnStmt &stmt : learn.stmts)
      if (stmt.kind == ast::LearnStmt::Kind::Let && !model->globals.count(stmt.name.name))
        laterLets.try_emplace(stmt.name.name, stmt.name.range);
    for (const ast::LearnStmt &stmt : learn.stmts) {
      if (stmt.kind == ast::LearnStmt::Kind::Let) {
        std::optional<Shape> s = shape(stmt.value.get());
        if (s && rejectBatchedMatrix(stmt.value.get(), *s, stmt.name.name))
          s.reset();
        if (auto g = model->globals.find(stmt.name.name); g != model->globals.end()) {
          diags.report(stmt.name.range, DiagID::err_redefinition, stmt.name.name);
          diags.report(g->second.declRange, DiagID::note_previous_definition);
          continue;
        }
        if (auto l = letRanges.find(stmt.name.name); l != letRanges.end()) {
          diags.report(stmt.name.range, DiagID::err_redefinition, stmt.name.name);
          diags.report(l->second, DiagID::note_previous_definition);
          continue;
        }
        letRanges[stmt.name.name] = stmt.name.range;
        laterLets.erase(stmt.name.name);
        if (s)
          model->lets[stmt.name.name] = *s;
        continue;
      }
      checkUpdate(stmt, updated);
    }
    inLearn = false;
  }

  void checkOptimizer(const ast::LearnDecl &learn) {
    if (learn.optimizer.name != "sgd") {
      diags.report(learn.optimizer.range, DiagID::err_unknown_optimizer, learn.optimizer.name);
      return;
    }
    size_t positional = 0;
    llvm::StringMap<llvm::SMRange> given;
    for (const ast::Arg &a : learn.args) {
      std::string key = a.key.empty() ? (positional == 0 ? "lr" : "") : a.key;
      llvm::SMRange where = a.key.empty() ? a.value->getRange() : a.keyRange;
      if (!key.empty()) {
        if (auto [it, inserted] = given.try_emplace(key, where); !inserted) {
          diags.report(where, DiagID::err_redefinition, key);
          diags.report(it->second, DiagID::note_previous_definition);
          continue;
        }
      }
      const ast::Expr **slot = nullptr;
      if (a.key.empty())
        slot = positional++ == 0 ? &model->optimizer.lr : nullptr;
      else if (a.key == "lr")
        slot = &model->optimizer.lr;
      else if (a.key == "momentum")
        slot = &model->optimizer.momentum;
      else {
        diags.report(a.keyRange, DiagID::err_unknown_argument, "sgd", a.key);
        continue;
      }
      if (!slot) {
        diags.report(a.value->getRange(), DiagID::err_argument_count, "sgd",
                     "1 positional argument (lr)", std::to_string(positional));
        continue;
      }
      std::optional<Shape> s = shape(a.value.get());
      if (s && (!s->isScalar() || s->batched))
        diags.report(a.value->getRange(), DiagID::err_operand_type, "sgd", "a scalar",
                     describe(*s, model->params));
      *slot = a.value.get();
    }
    if (!model->optimizer.lr)
      diags.report(learn.optimizer.range, DiagID::err_argument_count, "sgd",
                   "a learning rate: sgd(lr) or sgd(lr, momentum = m)", "none is");
  }

  void checkUpdate(const ast::LearnStmt &stmt, llvm::StringMap<llvm::SMRange> &updated) {
    std::optional<Shape> rhs = shape(stmt.value.get());
    auto g = model->globals.find(stmt.name.name);
    if (g == model->globals.end()) {
      if (runtimeScalarSlot(stmt.name.name) >= 0) {
        diags.report(stmt.name.range, DiagID::err_invalid_update, stmt.name.name,
                     "it is a value the runtime sets; only weights are learned");
        return;
      }
      ast::NameExpr probe(stmt.name.range, stmt.name.name);
      lookup(&probe);
      return;
    }
    const Symbol &target = g->second;
    auto refuse = [&](const std::string &why) {
      diags.report(stmt.name.range, DiagID::err_invalid_update, stmt.name.name, why);
      diags.report(target.declRange, DiagID::note_declared_here, stmt.name.name);
    };
    if (target.kind != Symbol::Kind::Tensor) {
      refuse(std::string("it is a ") + describe(target.kind) + "; only weights are learned");
      return;
    }
    if (target.tensor->kind != ast::TensorKind::Weight) {
      refuse(std::string("it is ") + (target.tensor->kind == ast::TensorKind::Fixed
                                          ? "a fixed tensor, never learned"
                                          : "data, not a weight"));
      return;
    }
    if (auto [it, inserted] = updated.try_emplace(stmt.name.name, stmt.name.range); !inserted) {
      diags.report(stmt.name.range, DiagID::err_invalid_update, stmt.name.name,
                   "it is already updated in this block; combine the two updates");
      diags.report(it->second, DiagID::note_previous_definition);
      return;
    }
    if (!rhs)
      return;
    if (!rhs->isScalar() && rhs->dims != target.shape.dims) {
      diags.report(stmt.value->getRange(), DiagID::err_update_shape, stmt.name.name,
                   describe(target.shape, model->params), describe(*rhs, model->params));
      return;
    }
    checkLinearInOuter(stmt.value.get());
  }

  /// Lowering turns each outer product of an update into one matrix product,
  /// so per-example matrices may only be added, negated and scaled.
  void checkLinearInOuter(const ast::Expr *e) {
    const Shape &s = model->shapeOf(e);
    if (!(s.isMatrix() && s.batched))
      return;
    if (auto *b = dyn_cast<ast::BinaryExpr>(e)) {
      const Shape &l = model->shapeOf(b->lhs.get()), &r = model->shapeOf(b->rhs.get());
      bool lScalar = l.isScalar() && !l.batched, rScalar = r.isScalar() && !r.batched;
      if (b->op == ast::BinaryOp::Add || b->op == ast::BinaryOp::Sub) {
        checkLinearInOuter(b->lhs.get());
        checkLinearInOuter(b->rhs.get());
        return;
      }
      if (b->op == ast::BinaryOp::Mul && (lScalar || rScalar)) {
        checkLinearInOuter(lScalar ? b->rhs.get() : b->lhs.get());
        return;
      }
      if (b->op == ast::BinaryOp::Div && rScalar) {
        checkLinearInOuter(b->lhs.get());
        return;
      }
    } else if (auto *n = dyn_cast<ast::NegExpr>(e)) {
      checkLinearInOuter(n->operand.get());
      return;
    } else if (auto *c = dyn_cast<ast::CallExpr>(e); c && c->callee == "outer") {
      return;
    }
    diags.report(e->getRange(), DiagID::err_invalid_update, "this expression",
                 "a per-example matrix in an update must be outer(a, b) terms, added, negated "
                 "or scaled by model-wide scalars");
  }

  void checkTrain() {
    if (file.trains.empty())
      return defaultPredict(nullptr);
    for (size_t i = 1; i < file.trains.size(); ++i)
      diags.report(file.trains[i].keywordRange, DiagID::err_duplicate_declaration, "train");
    const ast::TrainDecl &train = file.trains[0];
    bool known = false;
    for (const char *d : kDatasets)
      known |= train.dataset.name == d;
    if (!known)
      diags.report(train.dataset.range, DiagID::err_unknown_dataset, train.dataset.name,
                   "fashion_mnist, mnist, cifar10");
    model->dataset = train.dataset.name;
    const ast::Setting *predict = nullptr;
    llvm::StringMap<llvm::SMRange> seen;
    for (const ast::Setting &s : train.settings) {
      if (auto [it, inserted] = seen.try_emplace(s.name.name, s.name.range); !inserted) {
        diags.report(s.name.range, DiagID::err_redefinition, s.name.name);
        diags.report(it->second, DiagID::note_previous_definition);
        continue;
      }
      if (s.name.name == "predict") {
        predict = &s;
        continue;
      }
      int *slot = s.name.name == "epochs"       ? &model->epochs
                  : s.name.name == "batch"      ? &model->batch
                  : s.name.name == "validation" ? &model->validation
                                                : nullptr;
      if (!slot) {
        diags.report(s.name.range, DiagID::err_unknown_setting, s.name.name,
                     llvm::join(std::begin(kSettings), std::end(kSettings), ", "));
        continue;
      }
      std::optional<double> v = constant(s.value.get(), "a training setting");
      if (!v)
        continue;
      int minimum = s.name.name == "validation" ? 0 : 1;
      if (*v != std::floor(*v) || *v < minimum || *v > 1e9)
        diags.report(s.value->getRange(), DiagID::err_invalid_value,
                     "'" + s.name.name + "' must be an integer >= " + std::to_string(minimum));
      else
        *slot = (int)*v;
    }
    defaultPredict(predict);
  }

  /// A prediction is the argmax of one vector per example.
  bool canPredictWith(const std::string &name) const {
    auto it = model->globals.find(name);
    return it != model->globals.end() && it->second.kind == Symbol::Kind::Layer &&
           it->second.shape.isVector() && it->second.shape.batched;
  }

  void defaultPredict(const ast::Setting *predict) {
    if (predict) {
      auto *n = dyn_cast<ast::NameExpr>(predict->value.get());
      if (n && !model->globals.count(n->name))
        lookup(n); // reports the unknown name
      else if (!n || !canPredictWith(n->name))
        diags.report(predict->value->getRange(), DiagID::err_invalid_value,
                     "'predict' names a layer with one vector per example");
      else
        model->predict = n->name;
      return;
    }
    // The loss compares a prediction with the target: its first argument;
    // failing that, the last layer that can be a prediction.
    for (const ast::LayerDecl &layer : file.layers) {
      auto *call = dyn_cast<ast::CallExpr>(layer.value.get());
      if (!layer.isLoss || !call || call->args.empty())
        continue;
      if (auto *n = dyn_cast<ast::NameExpr>(call->args[0].value.get());
          n && canPredictWith(n->name)) {
        model->predict = n->name;
        return;
      }
    }
    for (auto it = file.layers.rbegin(); it != file.layers.rend(); ++it)
      if (!it->isLoss && canPredictWith(it->name.name)) {
        model->predict = it->name.name;
        return;
      }
    if (!diags.hasErrors())
      diags.report(file.name.range, DiagID::err_missing_declaration, file.name.name,
                   "layer to predict with (a vector per example; name it with 'predict = LAYER' "
                   "in the train block)");
  }

  const ast::ModelFile &file;
  DiagnosticEngine &diags;
  std::unique_ptr<CheckedModel> model;
  std::vector<std::optional<Shape>> layerShapes;
  int currentLayer = 0;
  bool inLearn = false;
  // What lookup() returns for names that have no entry in `globals`: learn
  // block locals and runtime scalars. Valid until the next lookup.
  Symbol transientSymbol{Symbol::Kind::Let};
  // The operands of the innermost '@' being checked: the only place W' may be.
  std::array<const ast::Expr *, 2> matmulOperands{};
  // Learn-block locals not yet defined at the statement being checked.
  llvm::StringMap<llvm::SMRange> laterLets;
};

} // namespace

std::unique_ptr<CheckedModel> check(const ast::ModelFile &file, DiagnosticEngine &diags) {
  return Checker(file, diags).run();
}

} // namespace bdl::sema
