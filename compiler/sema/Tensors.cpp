//===- Tensors.cpp - Tensor dimensions and initialisers ---------------------===//
#include "sema/Checker.h"
#include "support/Format.h"

#include "llvm/Support/Casting.h"

#include <cmath>

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

void Checker::checkTensors() {
  for (const ast::TensorDecl &t : file.tensors) {
    CheckedTensor ct{&t};
    bool isData = t.kind == ast::TensorKind::Input || t.kind == ast::TensorKind::Target;
    std::vector<ir::Dim> dims;
    for (const ast::ExprPtr &d : t.dims)
      dims.push_back(checkDim(d.get()));
    bool image = t.kind == ast::TensorKind::Input && dims.size() == 3;
    bool kernel = !isData && dims.size() == 4;
    if (t.kind == ast::TensorKind::Target && dims.size() != 1) {
      diags.report(t.name.range, DiagID::err_invalid_value,
                   "a target is one example's vector: give exactly one dimension");
    } else if (t.kind == ast::TensorKind::Input && dims.size() != 1 && !image) {
      diags.report(t.name.range, DiagID::err_invalid_value,
                   "an input is one example's vector [n] or image [channels, height, width]: "
                   "give one or three dimensions");
    } else if (!isData && dims.size() != 1 && dims.size() != 2 && !kernel) {
      diags.report(t.dims[std::min<size_t>(2, dims.size() - 1)]->getRange(),
                   DiagID::err_invalid_value,
                   "a weight is a vector, a matrix or a convolution kernel [out, in, height, "
                   "width]: give one, two or four dimensions");
    } else if ((image || kernel) && !allConstant(t, dims)) {
      dims.assign(dims.size(), ir::Dim::constant(1));
    }
    if (dims.size() == 1) {
      ct.rows = ir::Dim::constant(1), ct.cols = dims[0];
    } else if (kernel) { // stored [out, in * height * width], as im2col's patches
      ct.rows = dims[0];
      ct.cols = ir::Dim::constant(dims[1].value * dims[2].value * dims[3].value);
    } else if (image) { // one row per pixel (ir::Window)
      ct.rows = ir::Dim::batch(dims[1].value * dims[2].value), ct.cols = dims[0];
    } else if (dims.size() >= 2) {
      ct.rows = dims[0], ct.cols = dims[1];
    }
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
      if (dims.size() > 2 && !image && !kernel)
        s.shape.dims.resize(2);
    }
    int index = (int)model->tensors.size();
    if (t.kind == ast::TensorKind::Input && model->input < 0)
      model->input = index;
    else if (t.kind == ast::TensorKind::Input)
      reportDuplicate(t, file.tensors[model->input]);
    if (t.kind == ast::TensorKind::Target && model->target < 0)
      model->target = index;
    else if (t.kind == ast::TensorKind::Target)
      reportDuplicate(t, file.tensors[model->target]);
    model->tensors.push_back(ct);
  }
  if (model->input < 0)
    diags.report(file.name.range, DiagID::err_missing_declaration, file.name.name,
                 "input (e.g. 'input x[784]')");
  if (model->target < 0)
    diags.report(file.name.range, DiagID::err_missing_declaration, file.name.name,
                 "target (e.g. 'target t[10]')");
}

bool Checker::allConstant(const ast::TensorDecl &t, const std::vector<ir::Dim> &dims) {
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i].kind != ir::Dim::Kind::Const) {
      diags.report(t.dims[i]->getRange(), DiagID::err_image,
                   std::string("the extents of ") +
                       (t.kind == ast::TensorKind::Input ? "an image" : "a convolution kernel") +
                       " are constants (its windows are fixed when it is compiled), not a param");
      return false;
    }
  return true;
}

void Checker::reportDuplicate(const ast::TensorDecl &second, const ast::TensorDecl &first) {
  diags.report(second.name.range, DiagID::err_duplicate_declaration, ast::spelling(second.kind));
  diags.report(first.name.range, DiagID::note_previous_definition);
}

ir::Dim Checker::checkDim(const ast::Expr *e) {
  if (auto *n = dyn_cast<ast::NameExpr>(e)) {
    const Symbol *s = lookup(n);
    if (!s)
      return ir::Dim::constant(1);
    if (s->kind == Symbol::Kind::Param) {
      ir::Param &p = model->params[s->index];
      bool integral = p.value == std::floor(p.value) && p.value >= 1;
      if (integral && p.type != ir::ParamType::Bool &&
          (p.tune == ir::TuneKind::None || p.tune == ir::TuneKind::Int ||
           (p.tune == ir::TuneKind::Choice && p.type == ir::ParamType::Int && p.lo >= 1))) {
        p.type = ir::ParamType::Int;
        return ir::Dim::param(s->index);
      }
      diags.report(e->getRange(), DiagID::err_invalid_dim,
                   "param '" + n->name + "', which is not a positive integer param");
      diags.report(s->declRange, DiagID::note_declared_here, n->name);
      return ir::Dim::constant(1);
    }
  }
  Constant c = evaluate(e, /*report=*/true);
  if (c.status == Constant::Invalid)
    return ir::Dim::constant(1);
  bool known = c.status == Constant::Known;
  if (known && c.value >= 1 && c.value == std::floor(c.value) && c.value < (1ll << 31))
    return ir::Dim::constant((int64_t)c.value);
  std::string what = known ? formatNumber(c.value) : std::string("a computed value");
  diags.report(e->getRange(), DiagID::err_invalid_dim, what);
  return ir::Dim::constant(1);
}

void Checker::checkInit(const ast::Expr *init, CheckedTensor &ct) {
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
  static const InitForm forms[] = {{"zeros", ir::InitKind::Zero, 0, "no arguments"},
                                   {"xavier", ir::InitKind::Xavier, 0, "no arguments"},
                                   {"kaiming", ir::InitKind::Kaiming, 0, "no arguments"},
                                   {"eye", ir::InitKind::Eye, 0, "no arguments"},
                                   {"uniform", ir::InitKind::Uniform, 2, "2 arguments (lo, hi)"},
                                   {"normal", ir::InitKind::Normal, 2, "2 arguments (mean, std)"}};
  const InitForm *form = nullptr;
  for (const InitForm &f : forms)
    if (call->callee == f.name)
      form = &f;
  if (!form) {
    diags.report(call->calleeRange, DiagID::err_invalid_initializer,
                 "unknown initialiser '" + call->callee +
                     "'; expected zeros(), xavier(), kaiming(), eye(), uniform(lo, hi), "
                     "normal(mean, std) or a constant");
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
    // An argument may depend on params (guerguiev_weight(lambda_max, hidden)):
    // it is then computed at run time, after --set.
    std::optional<double> v;
    if (evaluate(a.value.get(), /*report=*/false).status == Constant::NotConstant &&
        usesParam(a.value.get())) {
      v = paramExpression(a.value.get(), "an initialiser argument", false);
      (values.empty() ? ct.initAExpr : ct.initBExpr) = a.value.get();
    } else {
      v = constant(a.value.get(), "an initialiser argument");
    }
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

} // namespace bdl::sema
