//===- KernelEmitter.cpp - CPU loop nests around element functions -------===//
#include "KernelEmitter.h"

#include "codegen/ElementEmitter.h"
#include "codegen/Loops.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace llvm;

namespace bdl::codegen::cpu {
namespace {

/// The vector width of a row's pass with deferred draws. The cost model
/// picks 4 lanes on AVX2 and AVX-512 (priced by Philox's 64-bit products);
/// 16 (two ymm or one zmm per value) give the long multiply chains enough
/// independent work: 2.6 instead of 3.4 ns per draw (bench/README.md).
/// Fewer columns, known, take the narrowest width that holds them.
unsigned deferredDrawWidth(const ir::Dim &cols) {
  constexpr unsigned kWidth = 16;
  if (cols.kind == ir::Dim::Kind::Const && cols.value < kWidth)
    return std::max<unsigned>(2, PowerOf2Ceil(uint64_t(std::max<int64_t>(cols.value, 1))));
  return kWidth;
}

} // namespace

Function *emitKernel(Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                     StringRef symbol, const EmitOptions &opts) {
  LLVMContext &ctx = llvmModule.getContext();
  ElementFunction ef = emitElementFunction(llvmModule, m, k, symbol, opts);
  bool reduce = k.kind != ir::KernelOp::Kind::Map;
  ir::TensorId outTensor = k.outputs.back().tensor;

  // Tensors of the loop nest: the element function's plus a reduced output.
  std::vector<ir::TensorId> tensors = ef.tensors;
  if (reduce && !std::binary_search(tensors.begin(), tensors.end(), outTensor))
    tensors.insert(std::upper_bound(tensors.begin(), tensors.end(), outTensor), outTensor);
  auto argIndex = [&](ir::TensorId t) {
    return 3 + (std::lower_bound(tensors.begin(), tensors.end(), t) - tensors.begin());
  };

  Type *i64 = Type::getInt64Ty(ctx), *f32 = Type::getFloatTy(ctx),
       *ptr = PointerType::getUnqual(ctx);

  // The loop nest: (rowBegin, rowEnd, cols, tensors..., hp, ctx).
  std::vector<Type *> params{i64, i64, i64};
  params.insert(params.end(), tensors.size() + 2, ptr);
  Function *loops = Function::Create(FunctionType::get(Type::getVoidTy(ctx), params, false),
                                     GlobalValue::InternalLinkage, symbol + ".loops", &llvmModule);
  loops->addFnAttr(Attribute::AlwaysInline);
  loops->addFnAttr(Attribute::NoUnwind);
  for (unsigned a = 3; a < loops->arg_size(); ++a) {
    loops->getArg(a)->addAttr(Attribute::NoAlias);
    loops->getArg(a)->addAttr(Attribute::NoCapture);
    if (a + 2 < loops->arg_size())
      loops->getArg(a)->setName(m.tensors[tensors[a - 3]].name);
  }
  Argument *hp = loops->getArg(loops->arg_size() - 2);
  hp->setName("hp");
  hp->addAttr(Attribute::ReadOnly);
  Argument *context = loops->getArg(loops->arg_size() - 1);
  context->setName("ctx");
  context->addAttr(Attribute::ReadOnly);

  IRBuilder<> b(BasicBlock::Create(ctx, "entry", loops));
  Value *rowBegin = loops->getArg(0), *rowEnd = loops->getArg(1);
  rowBegin->setName("rowBegin");
  rowEnd->setName("rowEnd");
  loops->getArg(2)->setName("cols");
  // A constant extent lets LLVM see the trip count (and drop a unit loop).
  Value *cols = k.cols.kind == ir::Dim::Kind::Const ? static_cast<Value *>(b.getInt64(k.cols.value))
                                                    : loops->getArg(2);

  // The flags of this copy of the loop nest (ElementFunction::invariants).
  std::vector<Value *> flags;
  auto call = [&](Function *callee, Value *r, Value *c, Value *i) -> Value * {
    std::vector<Value *> args{r, c, i};
    for (ir::TensorId t : ef.tensors)
      args.push_back(loops->getArg(argIndex(t)));
    args.push_back(hp);
    args.push_back(context);
    args.insert(args.end(), flags.begin(), flags.end());
    return b.CreateCall(callee, args);
  };
  auto callElem = [&](Value *r, Value *c, Value *i) { return call(ef.fn, r, c, i); };
  auto rowStart = [&](Value *r) {
    return b.CreateMul(r, cols, "rowStart", /*HasNUW=*/false, /*HasNSW=*/true);
  };

  Value *zero64 = b.getInt64(0);
  auto emitNest = [&] {
    switch (k.kind) {
    case ir::KernelOp::Kind::Map:
      if (!ef.usesRow && !ef.usesCol && !ef.draws) {
        // One flat loop over the rows' elements.
        emitLoop(b, rowStart(rowBegin), rowStart(rowEnd), "i", nullptr, [&](Value *i, Value *) {
          callElem(zero64, zero64, i);
          return nullptr;
        });
        break;
      }
      if (ef.tail) {
        // Deferred draws: the vectorisable pass over the row, then, where it
        // left markers (an or-reduction of fn's results), the scalar tail.
        emitLoop(b, rowBegin, rowEnd, "r", nullptr, [&](Value *r, Value *) {
          Value *start = rowStart(r);
          Value *any = emitLoop(
              b, zero64, cols, "c", b.getFalse(),
              [&](Value *c, Value *acc) {
                return b.CreateOr(acc, callElem(r, c, b.CreateAdd(start, c, "i", false, true)));
              },
              deferredDrawWidth(k.cols));
          Function *f = b.GetInsertBlock()->getParent();
          BasicBlock *tail = BasicBlock::Create(ctx, "tail", f),
                     *next = BasicBlock::Create(ctx, "tail.exit", f);
          b.CreateCondBr(any, tail, next);
          b.SetInsertPoint(tail);
          emitLoop(b, zero64, cols, "t", nullptr, [&](Value *c, Value *) {
            call(ef.tail, r, c, b.CreateAdd(start, c, "i", false, true));
            return nullptr;
          });
          b.CreateBr(next);
          b.SetInsertPoint(next);
          return nullptr;
        });
        break;
      }
      emitLoop(b, rowBegin, rowEnd, "r", nullptr, [&](Value *r, Value *) {
        Value *start = rowStart(r);
        emitLoop(b, zero64, cols, "c", nullptr, [&](Value *c, Value *) {
          callElem(r, c, b.CreateAdd(start, c, "i", false, true));
          return nullptr;
        });
        return nullptr;
      });
      break;

    case ir::KernelOp::Kind::RowReduce: {
      bool isMax = k.reduce == ir::KernelOp::Reduce::Max;
      Value *init = ConstantFP::get(f32, isMax ? -std::numeric_limits<float>::infinity() : 0.0);
      Value *out = loops->getArg(argIndex(outTensor));
      emitLoop(b, rowBegin, rowEnd, "r", nullptr, [&](Value *r, Value *) {
        Value *start = rowStart(r);
        Value *acc = emitLoop(b, zero64, cols, "c", init, [&](Value *c, Value *acc) {
          Value *v = callElem(r, c, b.CreateAdd(start, c, "i", false, true));
          // Reassociable, so the vectoriser may keep partial accumulators
          // (the order is fixed at compile time: results are reproducible).
          FastMathFlags fmf;
          fmf.setAllowReassoc();
          Value *next;
          if (isMax) {
            // LLVM 19 vectorises maxnum reductions only under nnan nsz.
            fmf.setNoNaNs();
            fmf.setNoSignedZeros();
            next = b.CreateBinaryIntrinsic(Intrinsic::maxnum, acc, v);
          } else {
            next = b.CreateFAdd(acc, v);
          }
          if (auto *inst = dyn_cast<Instruction>(next))
            inst->setFastMathFlags(fmf);
          return next;
        });
        b.CreateAlignedStore(acc, b.CreateInBoundsGEP(f32, out, r), Align(4));
        return nullptr;
      });
      break;
    }

    case ir::KernelOp::Kind::ColReduce: {
      Value *out = loops->getArg(argIndex(outTensor));
      Value *fzero = ConstantFP::get(f32, 0.0);
      emitLoop(b, zero64, cols, "z", nullptr, [&](Value *c, Value *) {
        b.CreateAlignedStore(fzero, b.CreateInBoundsGEP(f32, out, c), Align(4));
        return nullptr;
      });
      emitLoop(b, rowBegin, rowEnd, "r", nullptr, [&](Value *r, Value *) {
        Value *start = rowStart(r);
        emitLoop(b, zero64, cols, "c", nullptr, [&](Value *c, Value *) {
          Value *v = callElem(r, c, b.CreateAdd(start, c, "i", false, true));
          Value *p = b.CreateInBoundsGEP(f32, out, c);
          Value *sum = b.CreateFAdd(b.CreateAlignedLoad(f32, p, Align(4)), v);
          b.CreateAlignedStore(sum, p, Align(4));
          return nullptr;
        });
        return nullptr;
      });
      break;
    }
    }
  };

  // Loop unswitching on model flags: one copy of the nest per combination of
  // the invariant conditions, each with the flags as constants.
  if (ef.invariants.empty()) {
    emitNest();
  } else {
    Value *combination = b.getInt32(0);
    for (size_t j = 0; j < ef.invariants.size(); ++j) {
      Value *flag = emitParamCondition(b, *ef.invariants[j], hp, opts);
      combination =
          b.CreateOr(combination, b.CreateShl(b.CreateZExt(flag, b.getInt32Ty()), uint64_t(j)));
    }
    BasicBlock *done = BasicBlock::Create(ctx, "unswitch.done", loops);
    unsigned copies = 1u << ef.invariants.size();
    SwitchInst *dispatch = b.CreateSwitch(combination, done, copies);
    for (unsigned mask = 0; mask < copies; ++mask) {
      BasicBlock *copy = BasicBlock::Create(ctx, "unswitch." + Twine(mask), loops);
      dispatch->addCase(b.getInt32(mask), copy);
      b.SetInsertPoint(copy);
      flags.clear();
      for (size_t j = 0; j < ef.invariants.size(); ++j)
        flags.push_back(b.getInt1((mask >> j) & 1));
      emitNest();
      b.CreateBr(done);
    }
    done->moveAfter(b.GetInsertBlock());
    b.SetInsertPoint(done);
  }
  b.CreateRetVoid();

  // The exported BdlKernelFn.
  Function *fn = declareKernelEntry(llvmModule, symbol);
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", fn));
  std::vector<Value *> args{fn->getArg(0), fn->getArg(1), fn->getArg(2)};
  for (ir::TensorId t : tensors)
    args.push_back(b.CreateAlignedLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, fn->getArg(3), t),
                                       Align(8), m.tensors[t].name));
  args.push_back(fn->getArg(4));
  args.push_back(fn->getArg(5));
  b.CreateCall(loops, args);
  b.CreateRetVoid();
  return fn;
}

} // namespace bdl::codegen::cpu
