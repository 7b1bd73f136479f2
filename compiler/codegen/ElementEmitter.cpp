//===- ElementEmitter.cpp - A kernel body as a function of one element ---===//
#include "ElementEmitter.h"

#include "Math.h"
#include "Sampler.h"

#include "ir/ExprInfo.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

#include <algorithm>
#include <functional>
#include <map>

using namespace llvm;

namespace bdl::codegen {
namespace {

void collect(const ir::Expr &e, std::vector<ir::TensorId> &tensors, ElementFunction &ef) {
  if (e.op == ir::ExprOp::Load) {
    tensors.push_back(e.index);
    ef.usesRow |= e.access == ir::Access::Row;
    ef.usesCol |= e.access == ir::Access::Col;
  }
  ef.draws |= ir::isDraw(e.op);
  for (const ir::ExprPtr &o : e.operands)
    collect(*o, tensors, ef);
}

bool isReduction(const ir::KernelOp &k) { return k.kind != ir::KernelOp::Kind::Map; }

/// Whether the sign bit of `v` is set: a deferred draw's marker (see
/// emitPoissonFast; an integer test, so that a flush-to-zero mode cannot
/// hide one).
Value *isMarker(IRBuilder<> &b, Value *v) {
  return b.CreateICmpSLT(b.CreateBitCast(v, b.getInt32Ty()), b.getInt32(0), "marker");
}

/// Whether `e` has the same value after the kernel's first pass as during
/// it: no draws, no locals, no loads of the tensors the kernel stores.
bool isReEvaluable(const ir::Expr &e, const std::vector<ir::TensorId> &stored) {
  if (ir::isDraw(e.op) || e.op == ir::ExprOp::Local)
    return false;
  if (e.op == ir::ExprOp::Load && std::count(stored.begin(), stored.end(), e.index))
    return false;
  for (const ir::ExprPtr &o : e.operands)
    if (!isReEvaluable(*o, stored))
      return false;
  return true;
}

/// A Poisson draw, or selects with re-evaluable conditions between such
/// draws and draw-free values: where the tail can tell, from the element
/// alone, which draw (if any) the stored value came from.
bool isDeferrable(const ir::Expr &e, const std::vector<ir::TensorId> &stored) {
  if (e.op == ir::ExprOp::Poisson)
    return true;
  if (e.op != ir::ExprOp::Select || !ir::containsDraw(e) || !isReEvaluable(*e.operands[0], stored))
    return false;
  for (int a = 1; a <= 2; ++a)
    if (ir::containsDraw(*e.operands[a]) && !isDeferrable(*e.operands[a], stored))
      return false;
  return true;
}

/// Whether `e` reads `t` other than at the current element, or reads it (or
/// Local(o)) at all when `any` is set.
bool reads(const ir::Expr &e, ir::TensorId t, size_t o, bool any) {
  if (e.op == ir::ExprOp::Load && e.index == t && (any || e.access != ir::Access::Full))
    return true;
  if (any && e.op == ir::ExprOp::Local && size_t(e.index) == o)
    return true;
  for (const ir::ExprPtr &op : e.operands)
    if (reads(*op, t, o, any))
      return true;
  return false;
}

/// The outputs of a Map whose draws can wait for the tail: stored, of a
/// deferrable value, into a tensor that no other output stores and that
/// nothing reads after it (nor, anywhere, at another element), so that a
/// marker is never seen before the tail replaces it.
std::vector<size_t> deferredOutputs(const ir::KernelOp &k) {
  std::vector<size_t> deferred;
  if (isReduction(k))
    return deferred;
  std::vector<ir::TensorId> stored;
  for (const ir::KernelOutput &out : k.outputs)
    if (out.stored)
      stored.push_back(out.tensor);
  for (size_t o = 0; o < k.outputs.size(); ++o) {
    const ir::KernelOutput &out = k.outputs[o];
    if (!out.stored || std::count(stored.begin(), stored.end(), out.tensor) != 1 ||
        !ir::containsDraw(*out.value) || !isDeferrable(*out.value, stored))
      continue;
    bool read = false;
    for (size_t q = 0; q < k.outputs.size(); ++q)
      read |= reads(*k.outputs[q].value, out.tensor, o, q > o);
    if (!read)
      deferred.push_back(o);
  }
  return deferred;
}

size_t exprSize(const ir::Expr &e) {
  size_t n = 1;
  for (const ir::ExprPtr &o : e.operands)
    n += exprSize(*o);
  return n;
}

/// The kernel's param-only select conditions worth a loop copy each
/// (ElementFunction::invariants): weighted by the size of the arms they
/// choose between, a draw counting as a large arm.
std::vector<const ir::Expr *> invariantConditions(const ir::KernelOp &k) {
  std::vector<std::pair<const ir::Expr *, size_t>> found;
  std::function<void(const ir::Expr &)> visit = [&](const ir::Expr &e) {
    if (e.op == ir::ExprOp::Select && !e.operands[0]->isConst() &&
        ir::readsOnlyParams(*e.operands[0])) {
      size_t weight =
          exprSize(*e.operands[1]) + exprSize(*e.operands[2]) + (ir::containsDraw(e) ? 1000 : 0);
      auto same = std::find_if(found.begin(), found.end(), [&](const auto &f) {
        return ir::sameExpr(*f.first, *e.operands[0]);
      });
      if (same == found.end())
        found.push_back({e.operands[0].get(), weight});
      else
        same->second += weight;
    }
    for (const ir::ExprPtr &o : e.operands)
      visit(*o);
  };
  for (const ir::KernelOutput &out : k.outputs)
    visit(*out.value);
  std::stable_sort(found.begin(), found.end(),
                   [](const auto &x, const auto &y) { return x.second > y.second; });
  std::vector<const ir::Expr *> conds;
  for (size_t j = 0; j < found.size() && j < kMaxInvariantConditions; ++j)
    conds.push_back(found[j].first);
  return conds;
}

/// Emits expression trees at one element (or, with no tensors, host-side
/// scalars: step counts and derived parameters).
class ExprEmitter {
public:
  ExprEmitter(IRBuilder<> &b, const EmitOptions &opts, Value *r, Value *c, Value *i, Value *hp,
              Value *ctx, const std::map<ir::TensorId, Value *> &ptrs,
              const std::vector<Value *> &locals)
      : b(b), opts(opts), r(r), c(c), i(i), hp(hp), ctx(ctx), ptrs(ptrs), locals(locals) {}

  /// Conditions given as i1 values (ElementFunction::invariants).
  std::vector<std::pair<const ir::Expr *, Value *>> invariantArgs;

  /// Loads the draw keys; must be called in the entry block before any draw.
  void prepareDraws() { draws = emitDrawBase(b, ctx, r, c); }

  /// The function Wald draws call (bdl_draw_wald); null where they cannot occur.
  Function *wald = nullptr;

  Value *emit(const ir::Expr &e) {
    switch (e.op) {
    case ir::ExprOp::Const:
      return ConstantFP::get(b.getFloatTy(), e.value);
    case ir::ExprOp::Slot:
      return b.CreateAlignedLoad(b.getFloatTy(),
                                 b.CreateConstInBoundsGEP1_64(b.getFloatTy(), hp, e.index),
                                 Align(4), "hp" + Twine(e.index));
    case ir::ExprOp::Load:
      return emitLoad(e);
    case ir::ExprOp::Local:
      return locals[e.index];
    case ir::ExprOp::Context: {
      ContextIndex f = static_cast<ir::ContextField>(e.index) == ir::ContextField::Steps
                           ? ContextIndex::Steps
                           : ContextIndex::Step;
      return b.CreateSIToFP(loadContextField(b, ctx, f), b.getFloatTy());
    }
    case ir::ExprOp::Select:
      return emitSelect(e);
    case ir::ExprOp::Bernoulli:
      return emitBernoulli(b, draws, e.index, emit(*e.operands[0]));
    case ir::ExprOp::Poisson:
      return emitPoisson(b, draws, e.index, emit(*e.operands[0]));
    case ir::ExprOp::Normal:
      return emitNormal(b, draws, e.index);
    case ir::ExprOp::Wald: {
      Value *mean = emit(*e.operands[0]);
      Value *scale = emit(*e.operands[1]);
      return b.CreateCall(wald, {ctx, b.getInt32(e.index), mean, scale}, "wald");
    }
    default:
      break;
    }
    Value *x = emit(*e.operands[0]);
    if (ir::arity(e.op) == 1)
      return emitUnary(e.op, x);
    // Pow with a constant exponent 2 (squares are common: losses, norms).
    if (e.op == ir::ExprOp::Pow && e.operands[1]->isConst()) {
      float p = e.operands[1]->value;
      if (p == 2.0f)
        return b.CreateFMul(x, x);
      if (p == 1.0f)
        return x;
    }
    return emitBinary(e.op, x, emit(*e.operands[1]));
  }

  /// A deferred output's value (isDeferrable): its Poisson leaves take the
  /// fast path and may leave a marker for emitTail.
  Value *emitDeferred(const ir::Expr &e) {
    if (e.op == ir::ExprOp::Poisson)
      return emitPoissonFast(b, draws, e.index, emit(*e.operands[0]));
    return emitSelect(e, [&](const ir::Expr &arm) {
      return ir::containsDraw(arm) ? emitDeferred(arm) : emit(arm);
    });
  }

  /// Finishes a deferred output stored at `out[i]`: follows the selects as
  /// the first pass did (their conditions read nothing the kernel writes)
  /// to the Poisson leaf it took, and where that left a marker, stores the
  /// reference's count.
  void emitTail(const ir::Expr &e, Value *out) {
    Function *f = b.GetInsertBlock()->getParent();
    LLVMContext &ctx = b.getContext();
    if (e.op == ir::ExprOp::Poisson) {
      Value *p = b.CreateInBoundsGEP(b.getFloatTy(), out, i);
      Value *v = b.CreateAlignedLoad(b.getFloatTy(), p, Align(4));
      BasicBlock *fix = BasicBlock::Create(ctx, "tail.fix", f),
                 *done = BasicBlock::Create(ctx, "tail.done", f);
      b.CreateCondBr(isMarker(b, v), fix, done);
      b.SetInsertPoint(fix);
      b.CreateAlignedStore(emitPoisson(b, draws, e.index, b.CreateFNeg(v)), p, Align(4));
      b.CreateBr(done);
      b.SetInsertPoint(done);
      return;
    }
    BasicBlock *thenBB = BasicBlock::Create(ctx, "tail.then", f),
               *elseBB = BasicBlock::Create(ctx, "tail.else", f),
               *merge = BasicBlock::Create(ctx, "tail.end", f);
    b.CreateCondBr(emitCondition(e), thenBB, elseBB);
    for (auto [bb, arm] : {std::pair{thenBB, e.operands[1].get()}, {elseBB, e.operands[2].get()}}) {
      b.SetInsertPoint(bb);
      if (ir::containsDraw(*arm))
        emitTail(*arm, out);
      b.CreateBr(merge);
    }
    b.SetInsertPoint(merge);
  }

private:
public:
  Value *emitCondition(const ir::Expr &select) {
    for (auto [cond, arg] : invariantArgs)
      if (ir::sameExpr(*cond, *select.operands[0]))
        return arg;
    return b.CreateFCmpUNE(emit(*select.operands[0]), ConstantFP::get(b.getFloatTy(), 0.0));
  }

private:
  /// cond != 0 ? a : b (NaN counts as true, as in C). A branch that draws is
  /// only evaluated when taken, so an unselected draw costs nothing (draws
  /// are pure functions of their keys: skipping one changes no other).
  Value *emitSelect(const ir::Expr &e) {
    return emitSelect(e, [&](const ir::Expr &arm) { return emit(arm); });
  }

  Value *emitSelect(const ir::Expr &e, function_ref<Value *(const ir::Expr &)> emitArm) {
    Value *cond = emitCondition(e);
    if (!ir::containsDraw(*e.operands[1]) && !ir::containsDraw(*e.operands[2]))
      return b.CreateSelect(cond, emit(*e.operands[1]), emit(*e.operands[2]));
    Function *f = b.GetInsertBlock()->getParent();
    LLVMContext &ctx = b.getContext();
    BasicBlock *thenBB = BasicBlock::Create(ctx, "select.then", f),
               *elseBB = BasicBlock::Create(ctx, "select.else", f),
               *merge = BasicBlock::Create(ctx, "select.end", f);
    b.CreateCondBr(cond, thenBB, elseBB);
    b.SetInsertPoint(thenBB);
    Value *a = emitArm(*e.operands[1]);
    BasicBlock *aEnd = b.GetInsertBlock();
    b.CreateBr(merge);
    b.SetInsertPoint(elseBB);
    Value *v = emitArm(*e.operands[2]);
    BasicBlock *vEnd = b.GetInsertBlock();
    b.CreateBr(merge);
    b.SetInsertPoint(merge);
    PHINode *phi = b.CreatePHI(b.getFloatTy(), 2, "select");
    phi->addIncoming(a, aEnd);
    phi->addIncoming(v, vEnd);
    return phi;
  }

  Value *emitLoad(const ir::Expr &e) {
    Value *base = ptrs.at(e.index);
    Value *index = nullptr;
    switch (e.access) {
    case ir::Access::Full:
      index = i;
      break;
    case ir::Access::Row:
      index = r;
      break;
    case ir::Access::Col:
      index = c;
      break;
    case ir::Access::Scalar:
      index = nullptr;
      break;
    }
    Value *p = index ? b.CreateInBoundsGEP(b.getFloatTy(), base, index) : base;
    return b.CreateAlignedLoad(b.getFloatTy(), p, Align(4));
  }

  Value *exp(Value *x) {
    if (opts.inlineExp)
      return emitExpF32(b, x);
    return b.CreateUnaryIntrinsic(Intrinsic::exp, x);
  }

  Value *emitUnary(ir::ExprOp op, Value *x) {
    Value *zero = ConstantFP::get(b.getFloatTy(), 0.0);
    Value *one = ConstantFP::get(b.getFloatTy(), 1.0);
    switch (op) {
    case ir::ExprOp::Neg:
      return b.CreateFNeg(x);
    case ir::ExprOp::Exp:
      return exp(x);
    case ir::ExprOp::Log:
      return b.CreateUnaryIntrinsic(Intrinsic::log, x);
    case ir::ExprOp::Tanh:
      return emitTanh(b, x, [&](Value *y) { return exp(y); });
    case ir::ExprOp::Sigmoid:
      return emitSigmoid(b, x, [&](Value *y) { return exp(y); });
    case ir::ExprOp::Relu: // x < 0 ? 0 : x, so that NaN stays NaN
      return b.CreateSelect(b.CreateFCmpOLT(x, zero), zero, x);
    case ir::ExprOp::Step:
      return b.CreateSelect(b.CreateFCmpOGT(x, zero), one, zero);
    case ir::ExprOp::Abs:
      return b.CreateUnaryIntrinsic(Intrinsic::fabs, x);
    case ir::ExprOp::Sqrt:
      return b.CreateUnaryIntrinsic(Intrinsic::sqrt, x);
    case ir::ExprOp::Acos: // libm's acosf on the CPU, libdevice's on the GPU
      return b.CreateUnaryIntrinsic(Intrinsic::acos, x);
    default:
      break;
    }
    llvm_unreachable("not a unary op");
  }

  Value *emitBinary(ir::ExprOp op, Value *x, Value *y) {
    switch (op) {
    case ir::ExprOp::Add:
      return b.CreateFAdd(x, y);
    case ir::ExprOp::Sub:
      return b.CreateFSub(x, y);
    case ir::ExprOp::Mul:
      return b.CreateFMul(x, y);
    case ir::ExprOp::Div:
      return b.CreateFDiv(x, y);
    case ir::ExprOp::Pow:
      return b.CreateBinaryIntrinsic(Intrinsic::pow, x, y);
    case ir::ExprOp::Max:
      return b.CreateBinaryIntrinsic(Intrinsic::maxnum, x, y);
    case ir::ExprOp::Min:
      return b.CreateBinaryIntrinsic(Intrinsic::minnum, x, y);
    // Ordered comparisons (false on NaN) but for Ne, which is true on NaN.
    case ir::ExprOp::Lt:
      return toFloat(b.CreateFCmpOLT(x, y));
    case ir::ExprOp::Le:
      return toFloat(b.CreateFCmpOLE(x, y));
    case ir::ExprOp::Gt:
      return toFloat(b.CreateFCmpOGT(x, y));
    case ir::ExprOp::Ge:
      return toFloat(b.CreateFCmpOGE(x, y));
    case ir::ExprOp::Eq:
      return toFloat(b.CreateFCmpOEQ(x, y));
    case ir::ExprOp::Ne:
      return toFloat(b.CreateFCmpUNE(x, y));
    default:
      break;
    }
    llvm_unreachable("not a binary op");
  }

  Value *toFloat(Value *bit) {
    return b.CreateSelect(bit, ConstantFP::get(b.getFloatTy(), 1.0),
                          ConstantFP::get(b.getFloatTy(), 0.0));
  }

  IRBuilder<> &b;
  const EmitOptions &opts;
  Value *r, *c, *i, *hp, *ctx;
  DrawBase draws;
  const std::map<ir::TensorId, Value *> &ptrs;
  const std::vector<Value *> &locals;
};

} // namespace

ElementFunction emitElementFunction(Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                                    StringRef name, const EmitOptions &opts) {
  LLVMContext &ctx = llvmModule.getContext();
  ElementFunction ef;
  ef.returnsValue = isReduction(k);
  size_t numOutputs = k.outputs.size();
  size_t numMapped = ef.returnsValue ? numOutputs - 1 : numOutputs;

  // The tensors the body touches: loads, and stored outputs except the
  // reduced one (which the caller writes).
  std::vector<ir::TensorId> tensors;
  for (size_t o = 0; o < numOutputs; ++o) {
    collect(*k.outputs[o].value, tensors, ef);
    if (o < numMapped && k.outputs[o].stored)
      tensors.push_back(k.outputs[o].tensor);
  }
  std::sort(tensors.begin(), tensors.end());
  tensors.erase(std::unique(tensors.begin(), tensors.end()), tensors.end());
  ef.tensors = tensors;

  Type *i64 = Type::getInt64Ty(ctx), *ptr = PointerType::getUnqual(ctx);
  ef.invariants = invariantConditions(k);
  std::vector<Type *> params{i64, i64, i64};
  params.insert(params.end(), tensors.size() + 2, ptr); // tensors..., hp, ctx
  params.insert(params.end(), ef.invariants.size(), Type::getInt1Ty(ctx));
  std::vector<size_t> deferred;
  if (opts.deferDraws)
    deferred = deferredOutputs(k);
  Type *ret = ef.returnsValue    ? Type::getFloatTy(ctx)
              : deferred.empty() ? Type::getVoidTy(ctx)
                                 : Type::getInt1Ty(ctx);

  // The element function and the tail share a signature; `body` fills one.
  auto define = [&](Type *ret, const Twine &suffix, auto body) {
    Function *fn = Function::Create(FunctionType::get(ret, params, false),
                                    GlobalValue::InternalLinkage, name + suffix, &llvmModule);
    fn->addFnAttr(Attribute::AlwaysInline);
    fn->addFnAttr(Attribute::NoUnwind);
    fn->addFnAttr(Attribute::WillReturn);
    fn->setMemoryEffects(MemoryEffects::argMemOnly());
    Value *r = fn->getArg(0), *c = fn->getArg(1), *i = fn->getArg(2);
    r->setName("r");
    c->setName("c");
    i->setName("i");
    std::map<ir::TensorId, Value *> ptrs;
    for (size_t t = 0; t < tensors.size(); ++t) {
      Argument *a = fn->getArg(3 + t);
      a->setName(m.tensors[tensors[t]].name);
      a->addAttr(Attribute::NoCapture);
      ptrs[tensors[t]] = a;
    }
    Argument *hp = fn->getArg(3 + tensors.size());
    hp->setName("hp");
    hp->addAttr(Attribute::NoCapture);
    hp->addAttr(Attribute::ReadOnly);
    Argument *context = fn->getArg(4 + tensors.size());
    context->setName("ctx");
    context->addAttr(Attribute::NoCapture);
    context->addAttr(Attribute::ReadOnly);

    IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
    std::vector<Value *> locals;
    ExprEmitter ee(b, opts, r, c, i, hp, context, ptrs, locals);
    for (size_t j = 0; j < ef.invariants.size(); ++j) {
      Argument *a = fn->getArg(5 + tensors.size() + j);
      a->setName("flag" + Twine(j));
      ee.invariantArgs.push_back({ef.invariants[j], a});
    }
    if (ef.draws)
      ee.prepareDraws();
    body(b, ee, ptrs, i, locals);
    return fn;
  };

  ef.fn = define(
      ret, ".elem",
      [&](IRBuilder<> &b, ExprEmitter &ee, auto &ptrs, Value *i, std::vector<Value *> &locals) {
        Value *anyMarker = b.getFalse();
        for (size_t o = 0; o < numOutputs; ++o) {
          const ir::KernelOutput &out = k.outputs[o];
          bool defer = std::count(deferred.begin(), deferred.end(), o);
          Value *v = defer ? ee.emitDeferred(*out.value) : ee.emit(*out.value);
          locals.push_back(v);
          if (o < numMapped && out.stored)
            b.CreateAlignedStore(v, b.CreateInBoundsGEP(b.getFloatTy(), ptrs.at(out.tensor), i),
                                 Align(4));
          if (defer)
            anyMarker = b.CreateOr(anyMarker, isMarker(b, v));
        }
        if (ef.returnsValue)
          b.CreateRet(locals.back());
        else if (!deferred.empty())
          b.CreateRet(anyMarker);
        else
          b.CreateRetVoid();
      });
  if (!deferred.empty())
    ef.tail = define(Type::getVoidTy(ctx), ".tail",
                     [&](IRBuilder<> &b, ExprEmitter &ee, auto &ptrs, Value *, auto &) {
                       for (size_t o : deferred)
                         ee.emitTail(*k.outputs[o].value, ptrs.at(k.outputs[o].tensor));
                       b.CreateRetVoid();
                     });
  return ef;
}

Function *emitStepsFunction(Module &llvmModule, const ir::Expr &steps, StringRef name,
                            const EmitOptions &opts) {
  LLVMContext &ctx = llvmModule.getContext();
  Type *i32 = Type::getInt32Ty(ctx), *f32 = Type::getFloatTy(ctx),
       *ptr = PointerType::getUnqual(ctx);
  Function *fn = Function::Create(FunctionType::get(i32, {ptr, ptr}, false),
                                  GlobalValue::InternalLinkage, name, &llvmModule);
  fn->addFnAttr(Attribute::NoUnwind);
  Argument *hp = fn->getArg(0), *context = fn->getArg(1);
  hp->setName("hp");
  context->setName("ctx");
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  std::map<ir::TensorId, Value *> noTensors;
  std::vector<Value *> noLocals;
  Value *zero = b.getInt64(0);
  ExprEmitter ee(b, opts, zero, zero, zero, hp, context, noTensors, noLocals);
  // float bdl_draw_wald(const BdlContext *, int32_t site, float mean, float scale)
  ee.wald = cast<Function>(
      llvmModule
          .getOrInsertFunction("bdl_draw_wald", FunctionType::get(f32, {ptr, i32, f32, f32}, false))
          .getCallee());
  Value *v = ee.emit(steps);
  // Toward zero, clamped to [0, INT32_MAX]. fptosi only sees values in
  // [1, 2^31) (it is poison outside its range); !(v >= 1) covers NaN.
  Value *one = ConstantFP::get(f32, 1.0), *big = ConstantFP::get(f32, 2147483648.0);
  Value *atLeastOne = b.CreateFCmpOGE(v, one), *tooBig = b.CreateFCmpOGE(v, big);
  Value *inRange = b.CreateAnd(atLeastOne, b.CreateNot(tooBig));
  Value *n = b.CreateFPToSI(b.CreateSelect(inRange, v, one), i32);
  n = b.CreateSelect(inRange, n, b.getInt32(0));
  n = b.CreateSelect(tooBig, b.getInt32(INT32_MAX), n);
  b.CreateRet(n);
  return fn;
}

Function *declareKernelEntry(Module &llvmModule, StringRef symbol) {
  LLVMContext &ctx = llvmModule.getContext();
  Type *i64 = Type::getInt64Ty(ctx), *ptr = PointerType::getUnqual(ctx);
  Function *fn = Function::Create(
      FunctionType::get(Type::getVoidTy(ctx), {i64, i64, i64, ptr, ptr, ptr}, false),
      GlobalValue::ExternalLinkage, symbol, &llvmModule);
  fn->addFnAttr(Attribute::NoUnwind);
  const char *names[] = {"rowBegin", "rowEnd", "cols", "tensors", "hp", "ctx"};
  for (unsigned a = 0; a < 6; ++a)
    fn->getArg(a)->setName(names[a]);
  for (unsigned a = 3; a < 6; ++a) {
    fn->getArg(a)->addAttr(Attribute::NoCapture);
    fn->getArg(a)->addAttr(Attribute::ReadOnly);
  }
  return fn;
}

Value *emitParamCondition(IRBuilder<> &b, const ir::Expr &cond, Value *hp,
                          const EmitOptions &opts) {
  std::map<ir::TensorId, Value *> noTensors;
  std::vector<Value *> noLocals;
  Value *zero = b.getInt64(0);
  Value *noContext = ConstantPointerNull::get(PointerType::getUnqual(b.getContext()));
  ExprEmitter ee(b, opts, zero, zero, zero, hp, noContext, noTensors, noLocals);
  return b.CreateFCmpUNE(ee.emit(cond), ConstantFP::get(b.getFloatTy(), 0.0), "flag");
}

Function *emitDeriveFunction(Module &llvmModule, const ir::Module &m, const EmitOptions &opts) {
  bool any = false;
  for (const ir::Param &p : m.params)
    any |= p.derivation != nullptr;
  if (!any)
    return nullptr;
  LLVMContext &ctx = llvmModule.getContext();
  Type *ptr = PointerType::getUnqual(ctx);
  Function *fn = Function::Create(FunctionType::get(Type::getVoidTy(ctx), {ptr}, false),
                                  GlobalValue::InternalLinkage, "bdl_derive", &llvmModule);
  fn->addFnAttr(Attribute::NoUnwind);
  Argument *hp = fn->getArg(0);
  hp->setName("hp");
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  std::map<ir::TensorId, Value *> noTensors;
  std::vector<Value *> noLocals;
  Value *zero = b.getInt64(0);
  Value *noContext = ConstantPointerNull::get(PointerType::getUnqual(ctx));
  ExprEmitter ee(b, opts, zero, zero, zero, hp, noContext, noTensors, noLocals);
  for (size_t i = 0; i < m.params.size(); ++i)
    if (m.params[i].derivation) {
      Value *v = ee.emit(*m.params[i].derivation);
      b.CreateAlignedStore(
          v, b.CreateConstInBoundsGEP1_64(b.getFloatTy(), hp, ir::kFirstParamSlot + i), Align(4));
    }
  b.CreateRetVoid();
  return fn;
}

} // namespace bdl::codegen
