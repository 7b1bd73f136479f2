//===- Shapes.cpp - The shape of every expression ---------------------------===//
#include "sema/Builtins.h"
#include "sema/Checker.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Casting.h"

namespace bdl::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

std::optional<Shape> Checker::shape(const ast::Expr *e) {
  std::optional<Shape> s = shapeImpl(e);
  if (s)
    model->shapes[e] = *s;
  return s;
}

std::optional<Shape> Checker::shapeImpl(const ast::Expr *e) {
  switch (e->getKind()) {
  case ast::Expr::Kind::Number:
  case ast::Expr::Kind::Bool:
    return Shape::scalar();
  case ast::Expr::Kind::Name:
    return nameShape(cast<ast::NameExpr>(e));
  case ast::Expr::Kind::Member:
    return memberExprShape(cast<ast::MemberExpr>(e));
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

std::optional<Shape> Checker::nameShape(const ast::NameExpr *n) {
  const Symbol *s = lookup(n);
  if (!s)
    return std::nullopt;
  switch (s->kind) {
  case Symbol::Kind::Param:
  case Symbol::Kind::Const:
  case Symbol::Kind::Runtime:
    return Shape::scalar();
  case Symbol::Kind::Tensor:
    return s->shape;
  case Symbol::Kind::Let:
    return letShapes[s->index]; // nullopt: its own definition was in error
  case Symbol::Kind::Member:
    return memberShape(n, s->index, s->member);
  case Symbol::Kind::Population:
    diags.report(n->getRange(), DiagID::err_not_a_value,
                 "population '" + n->name + "' is not a value; name one of its values, as in " +
                     n->name + "." +
                     (model->populations[s->index].members.empty()
                          ? std::string("x")
                          : model->populations[s->index].members[0].name));
    return std::nullopt;
  case Symbol::Kind::Record: {
    const CheckedRecord &r = model->records[s->index];
    // A prediction sees only the phases its evaluate block runs.
    bool notEvaluated =
        place == Place::Predict && !llvm::is_contained(model->evaluate.phases, r.phase);
    bool tooEarly = (place == Place::Step && (currentPhase < 0 || r.phase >= currentPhase)) ||
                    (place == Place::Record && r.phase >= currentPhase) || place == Place::Steps ||
                    notEvaluated;
    if (tooEarly) {
      diags.report(n->getRange(), DiagID::err_record_before_phase, n->name,
                   file.phases[r.phase].name.name,
                   place == Place::Record ? "in a record of the same or an earlier phase"
                   : notEvaluated         ? "in 'predict', whose evaluate block does not run it"
                                          : "inside the time steps");
      diags.report(s->declRange, DiagID::note_declared_here, n->name);
      return std::nullopt;
    }
    return recordShapes[s->index];
  }
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

std::optional<Shape> Checker::transposeShape(const ast::TransposeExpr *t) {
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

bool Checker::isTensorName(const ast::Expr *e) {
  auto *n = dyn_cast<ast::NameExpr>(e);
  auto it = n ? model->resolved.find(n) : model->resolved.end();
  return it != model->resolved.end() && it->second->kind == Symbol::Kind::Tensor;
}

std::optional<Shape> Checker::broadcast(const Shape &l, const Shape &r, const char *verb,
                                        llvm::SMRange range, const ast::Expr *lhs,
                                        const ast::Expr *rhs) {
  if (l.isImage() || r.isImage()) {
    std::optional<Shape> s = imageBroadcast(l, r, verb, range);
    if (!s) {
      noteDeclaration(lhs);
      noteDeclaration(rhs);
    }
    return s;
  }
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

void Checker::noteDeclaration(const ast::Expr *e) {
  auto *n = e ? dyn_cast<ast::NameExpr>(e) : nullptr;
  auto it = n ? model->resolved.find(n) : model->resolved.end();
  if (it != model->resolved.end() && it->second->declRange.isValid())
    diags.report(it->second->declRange, DiagID::note_declared_here, n->name);
}

std::optional<Shape> Checker::binaryShape(const ast::BinaryExpr *b) {
  if (b->op == ast::BinaryOp::MatMul)
    matmulOperands = {b->lhs.get(), b->rhs.get()};
  std::optional<Shape> l = shape(b->lhs.get());
  if (b->op == ast::BinaryOp::MatMul)
    matmulOperands = {b->lhs.get(), b->rhs.get()};
  std::optional<Shape> r = shape(b->rhs.get());
  if (!l || !r || !checkFolded(b))
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
  case ast::BinaryOp::Lt:
  case ast::BinaryOp::Le:
  case ast::BinaryOp::Gt:
  case ast::BinaryOp::Ge:
  case ast::BinaryOp::Eq:
  case ast::BinaryOp::Ne:
    return broadcast(*l, *r, "compare", b->opRange, b->lhs.get(), b->rhs.get());
  }
  return std::nullopt;
}

bool Checker::checkFolded(const ast::BinaryExpr *b) {
  if (b->op == ast::BinaryOp::MatMul)
    return true;
  Constant r = evaluate(b->rhs.get(), /*report=*/false);
  if (b->op == ast::BinaryOp::Div && r.status == Constant::Known &&
      static_cast<float>(r.value) == 0) {
    diags.report(b->getRange(), DiagID::err_division_by_zero);
    return false;
  }
  Constant l = evaluate(b->lhs.get(), /*report=*/false);
  if (l.status != Constant::Known || r.status != Constant::Known)
    return true;
  // Lowering folds this step, which must stay a finite float.
  return fold(b, l.value, r.value, /*report=*/true).status == Constant::Known;
}

std::optional<Shape> Checker::matmulShape(const ast::BinaryExpr *b, const Shape &l,
                                          const Shape &r) {
  auto fail = [&](const char *why) -> std::optional<Shape> {
    diags.report(b->opRange, DiagID::err_matmul_shape, describe(l, model->params),
                 describe(r, model->params), why);
    noteDeclaration(b->lhs.get());
    noteDeclaration(b->rhs.get());
    return std::nullopt;
  };
  if (!l.isMatrix() || l.batched)
    return fail("the left operand must be a weight matrix");
  if (r.isImage())
    return fail("an image must be flattened first, as in W @ flatten(x)");
  if (r.isScalar() || (r.isMatrix() && r.batched) || r.dims.size() > 2)
    return fail("the right operand must be a vector or a matrix");
  if (l.dims[1] != r.dims[0])
    return fail("the inner dimensions differ");
  if (r.isVector())
    return Shape{r.batched, {l.dims[0]}};
  return Shape{false, {l.dims[0], r.dims[1]}};
}

std::optional<Shape> Checker::callShape(const ast::CallExpr *call) {
  if (call->callee == "mean" && call->args.size() == 1 && inLearn)
    return statisticShape(call); // mean(x, last K) is a record's, in dynamics
  bool handled = false;
  std::optional<Shape> dynamic = dynamicsCallShape(call, handled);
  if (handled)
    return dynamic;
  const Builtin *builtin = findBuiltin(call->callee);
  if (!builtin) {
    diags.report(call->calleeRange, DiagID::err_unknown_function, call->callee);
    return std::nullopt;
  }
  if (call->callee == "normal" && inLearn && call->args.size() == 2)
    return normalDrawShape(call);
  if (builtin->form == Builtin::Form::Initialiser) {
    diags.report(call->calleeRange, DiagID::err_invalid_initializer,
                 "'" + call->callee + "' initialises a weight and can only follow its '='");
    return std::nullopt;
  }
  if (builtin->form == Builtin::Form::Gradient && call->args.size() == 2)
    return gradShape(call);
  if (builtin->form == Builtin::Form::Image)
    return imageCallShape(call);
  if (builtin->form == Builtin::Form::Statistic && call->args.size() == builtin->arity)
    return statisticShape(call);
  if (call->args.size() != builtin->arity) {
    diags.report(call->getRange(), DiagID::err_argument_count, call->callee,
                 builtin->arity == 1 ? "1 argument" : std::to_string(builtin->arity) + " arguments",
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
  case Builtin::Form::Gradient:
  case Builtin::Form::Statistic:
  case Builtin::Form::Initialiser:
  case Builtin::Form::Image:
    break;
  }
  return std::nullopt;
}

std::optional<Shape> Checker::statisticShape(const ast::CallExpr *call) {
  const std::string &f = call->callee;
  // Values over the whole batch: the learning rule's and its monitors',
  // never a layer's (which must not depend on the other examples).
  if (!inLearn) {
    diags.report(call->calleeRange, DiagID::err_misplaced_call,
                 "'" + f + "' summarises a whole batch: use it in the 'learn' block");
    return std::nullopt;
  }
  for (const ast::Arg &a : call->args)
    if (!a.key.empty()) {
      diags.report(a.keyRange, DiagID::err_unknown_argument, f, a.key);
      return std::nullopt;
    }
  if (f == "update") {
    const ast::Expr *arg = call->args[0].value.get();
    if (!inMonitor) {
      diags.report(call->calleeRange, DiagID::err_misplaced_call,
                   "update(W) is the learning rule's step for W: only a monitor reads it");
      return std::nullopt;
    }
    if (!shape(arg))
      return std::nullopt;
    auto *n = dyn_cast<ast::NameExpr>(arg);
    const Symbol *w = n ? model->resolved.lookup(n) : nullptr;
    if (!w || w->kind != Symbol::Kind::Tensor) {
      diags.report(arg->getRange(), DiagID::err_monitor,
                   "update(W) takes a weight the learn block updates");
      return std::nullopt;
    }
    for (const CheckedUpdate &u : learn->updates)
      if (u.tensor == w->index)
        return Shape{false, w->shape.dims};
    diags.report(arg->getRange(), DiagID::err_monitor,
                 "'" + n->name + "' has no update in this learn block");
    noteDeclaration(arg);
    return std::nullopt;
  }
  std::vector<Shape> args;
  for (const ast::Arg &a : call->args) {
    std::optional<Shape> s = shape(a.value.get());
    if (!s)
      return std::nullopt;
    args.push_back(*s);
  }
  if (f == "angle" && (args[0].dims != args[1].dims || args[0].batched != args[1].batched)) {
    diags.report(call->getRange(), DiagID::err_operand_type, f, "two values of the same shape",
                 describe(args[0], model->params) + " and " + describe(args[1], model->params));
    return std::nullopt;
  }
  return Shape::scalar(false);
}

std::optional<Shape> Checker::normalDrawShape(const ast::CallExpr *call) {
  std::optional<Shape> mean = shape(call->args[0].value.get());
  std::optional<Shape> std = shape(call->args[1].value.get());
  if (!mean || !std)
    return std::nullopt;
  std::optional<Shape> s = broadcast(*mean, *std, "combine", call->getRange());
  if (s && !s->batched) {
    // One draw per element and example: without a per-example operand
    // there would be one draw for the whole batch.
    diags.report(call->getRange(), DiagID::err_operand_type, "normal",
                 "a per-example mean or std (normal(h, sigma) draws h + sigma * N(0, 1) for "
                 "every element of h)",
                 describe(*s, model->params));
    return std::nullopt;
  }
  return s;
}

std::optional<Shape> Checker::gradShape(const ast::CallExpr *call) {
  if (!inLearn) {
    diags.report(call->calleeRange, DiagID::err_grad_context,
                 "grad() is a value of the learning rule: use it in the 'learn' block");
    return std::nullopt;
  }
  if (model->hasDynamics()) {
    diags.report(call->calleeRange, DiagID::err_grad_context,
                 "grad() differentiates rate models; this model has populations, and "
                 "differentiating through their time steps is not supported yet");
    return std::nullopt;
  }
  for (const ast::Arg &a : call->args)
    if (!a.key.empty()) {
      diags.report(a.keyRange, DiagID::err_unknown_argument, call->callee, a.key);
      return std::nullopt;
    }
  const ast::Expr *lossArg = call->args[0].value.get(), *weightArg = call->args[1].value.get();
  std::optional<Shape> lossShape = shape(lossArg), weightShape = shape(weightArg);
  if (!lossShape || !weightShape)
    return std::nullopt;
  auto symbolOf = [&](const ast::Expr *e) -> const Symbol * {
    auto *n = dyn_cast<ast::NameExpr>(e);
    return n ? model->resolved.lookup(n) : nullptr;
  };
  auto refuse = [&](const ast::Expr *e, const std::string &why) {
    diags.report(e->getRange(), DiagID::err_grad_argument, why);
    noteDeclaration(e);
    return std::nullopt;
  };
  const Symbol *l = symbolOf(lossArg);
  if (!l || (l->kind != Symbol::Kind::Layer && l->kind != Symbol::Kind::Let))
    return refuse(lossArg, "its first argument must name the loss, a layer or a value of the "
                           "learn block, not an expression");
  if (!lossShape->isScalar())
    return refuse(lossArg, "'" + cast<ast::NameExpr>(lossArg)->name + "' is " +
                               describe(*lossShape, model->params) + ", not a scalar");
  const Symbol *w = symbolOf(weightArg);
  if (!w || w->kind != Symbol::Kind::Tensor || w->tensor->kind != ast::TensorKind::Weight)
    return refuse(weightArg, "its second argument must name a weight");
  return Shape{false, weightShape->dims};
}

bool Checker::rejectBatchedMatrix(const ast::Expr *e, const Shape &s, const std::string &name) {
  if (s.isMatrix() && s.batched) {
    diags.report(e->getRange(), DiagID::err_operand_type, name,
                 "a per-example vector or scalar (a per-example matrix can only be the "
                 "right-hand side of a weight update)",
                 describe(s, model->params));
    return true;
  }
  return false;
}

} // namespace bdl::sema
