//===- KernelEmitter.cpp - GPU kernels around element functions ----------===//
#include "KernelEmitter.h"

#include "codegen/ElementEmitter.h"
#include "codegen/Loops.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/IntrinsicsNVPTX.h"
#include "llvm/IR/Module.h"

#include <algorithm>
#include <limits>

using namespace llvm;

namespace bdl::codegen::cuda {
namespace {

/// The number of threads with work: elements, rows or columns.
Value *points(IRBuilder<> &b, const ir::KernelOp &k, Value *rowBegin, Value *rowEnd, Value *cols) {
  Value *rows = b.CreateSub(rowEnd, rowBegin, "rows");
  switch (k.kind) {
  case ir::KernelOp::Kind::Map:
    return b.CreateMul(rows, cols, "points");
  case ir::KernelOp::Kind::RowReduce:
    return rows;
  case ir::KernelOp::Kind::ColReduce:
    return cols;
  }
  return rows;
}

/// The kernel's columns: its constant extent when it has one.
Value *columns(IRBuilder<> &b, const ir::KernelOp &k, Value *colsArg) {
  return k.cols.kind == ir::Dim::Kind::Const ? static_cast<Value *>(b.getInt64(k.cols.value))
                                             : colsArg;
}

/// `<symbol>.thread(g, rowBegin, rowEnd, cols, tensors, hp, ctx)`.
Function *emitThread(Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                     StringRef symbol, const EmitOptions &opts) {
  LLVMContext &ctx = llvmModule.getContext();
  EmitOptions elementOptions = opts;
  elementOptions.deferDraws = false; // no second pass over a row on a GPU
  ElementFunction ef = emitElementFunction(llvmModule, m, k, symbol, elementOptions);
  ir::TensorId outTensor = k.outputs.back().tensor;

  Type *i64 = Type::getInt64Ty(ctx), *f32 = Type::getFloatTy(ctx),
       *ptr = PointerType::getUnqual(ctx);
  Function *fn = Function::Create(
      FunctionType::get(Type::getVoidTy(ctx), {i64, i64, i64, i64, ptr, ptr, ptr}, false),
      GlobalValue::InternalLinkage, symbol + ".thread", &llvmModule);
  fn->addFnAttr(Attribute::AlwaysInline);
  fn->addFnAttr(Attribute::NoUnwind);
  const char *names[] = {"g", "rowBegin", "rowEnd", "cols", "tensors", "hp", "ctx"};
  for (unsigned a = 0; a < 7; ++a)
    fn->getArg(a)->setName(names[a]);
  Value *g = fn->getArg(0), *rowBegin = fn->getArg(1), *rowEnd = fn->getArg(2);
  Value *tensors = fn->getArg(4), *hp = fn->getArg(5), *context = fn->getArg(6);

  IRBuilder<> b(BasicBlock::Create(ctx, "entry", fn));
  Value *cols = columns(b, k, fn->getArg(3));
  auto base = [&](ir::TensorId t) {
    return b.CreateAlignedLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, tensors, t), Align(8),
                               m.tensors[t].name);
  };
  std::vector<Value *> tail;
  for (ir::TensorId t : ef.tensors)
    tail.push_back(base(t));
  tail.push_back(hp);
  tail.push_back(context);
  for (const ir::Expr *cond : ef.invariants)
    tail.push_back(emitParamCondition(b, *cond, hp, opts));
  auto callElem = [&](Value *r, Value *c) {
    std::vector<Value *> args{r, c, b.CreateAdd(b.CreateMul(r, cols), c, "i")};
    args.insert(args.end(), tail.begin(), tail.end());
    return b.CreateCall(ef.fn, args);
  };

  BasicBlock *work = BasicBlock::Create(ctx, "work", fn),
             *done = BasicBlock::Create(ctx, "done", fn);
  b.CreateCondBr(b.CreateICmpSLT(g, points(b, k, rowBegin, rowEnd, cols)), work, done);
  b.SetInsertPoint(work);
  switch (k.kind) {
  case ir::KernelOp::Kind::Map:
    callElem(b.CreateAdd(rowBegin, b.CreateSDiv(g, cols), "r"), b.CreateSRem(g, cols, "c"));
    break;
  case ir::KernelOp::Kind::RowReduce: {
    bool isMax = k.reduce == ir::KernelOp::Reduce::Max;
    Value *init = ConstantFP::get(f32, isMax ? -std::numeric_limits<float>::infinity() : 0.0);
    Value *r = b.CreateAdd(rowBegin, g, "r");
    Value *acc = emitLoop(b, b.getInt64(0), cols, "c", init, [&](Value *c, Value *acc) {
      Value *v = callElem(r, c);
      return isMax ? b.CreateBinaryIntrinsic(Intrinsic::maxnum, acc, v) : b.CreateFAdd(acc, v);
    });
    b.CreateAlignedStore(acc, b.CreateInBoundsGEP(f32, base(outTensor), r), Align(4));
    break;
  }
  case ir::KernelOp::Kind::ColReduce: {
    // Rows in order from 0, as the CPU's kernel adds them.
    Value *acc = emitLoop(b, rowBegin, rowEnd, "r", ConstantFP::get(f32, 0.0),
                          [&](Value *r, Value *acc) { return b.CreateFAdd(acc, callElem(r, g)); });
    b.CreateAlignedStore(acc, b.CreateInBoundsGEP(f32, base(outTensor), g), Align(4));
    break;
  }
  }
  b.CreateBr(done);
  b.SetInsertPoint(done);
  b.CreateRetVoid();
  return fn;
}

Value *callThread(IRBuilder<> &b, Function *thread, Function *entry, Value *g) {
  return b.CreateCall(thread, {g, entry->getArg(0), entry->getArg(1), entry->getArg(2),
                               entry->getArg(3), entry->getArg(4), entry->getArg(5)});
}

} // namespace

Function *emitPtxKernel(Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                        StringRef symbol, const EmitOptions &opts) {
  Function *thread = emitThread(llvmModule, m, k, symbol, opts);
  Function *fn = declareKernelEntry(llvmModule, symbol);
  fn->setCallingConv(CallingConv::PTX_Kernel);
  IRBuilder<> b(BasicBlock::Create(llvmModule.getContext(), "entry", fn));
  auto sreg = [&](Intrinsic::ID id) {
    return b.CreateZExt(b.CreateIntrinsic(id, {}, {}), b.getInt64Ty());
  };
  Value *first = b.CreateAdd(b.CreateMul(sreg(Intrinsic::nvvm_read_ptx_sreg_ctaid_x),
                                         sreg(Intrinsic::nvvm_read_ptx_sreg_ntid_x)),
                             sreg(Intrinsic::nvvm_read_ptx_sreg_tid_x), "first");
  Value *stride = b.CreateMul(sreg(Intrinsic::nvvm_read_ptx_sreg_nctaid_x),
                              sreg(Intrinsic::nvvm_read_ptx_sreg_ntid_x), "stride");
  Value *n = points(b, k, fn->getArg(0), fn->getArg(1), columns(b, k, fn->getArg(2)));
  // Grid-stride: g = first, first + stride, ... below n.
  LLVMContext &ctx = llvmModule.getContext();
  BasicBlock *pre = b.GetInsertBlock(), *loop = BasicBlock::Create(ctx, "g.loop", fn),
             *exit = BasicBlock::Create(ctx, "g.exit", fn);
  b.CreateCondBr(b.CreateICmpSLT(first, n), loop, exit);
  b.SetInsertPoint(loop);
  PHINode *g = b.CreatePHI(b.getInt64Ty(), 2, "g");
  g->addIncoming(first, pre);
  callThread(b, thread, fn, g);
  Value *next = b.CreateAdd(g, stride, "g.next");
  g->addIncoming(next, b.GetInsertBlock());
  b.CreateCondBr(b.CreateICmpSLT(next, n), loop, exit);
  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  return fn;
}

Function *emitHostGridKernel(Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                             StringRef symbol, const EmitOptions &opts) {
  Function *thread = emitThread(llvmModule, m, k, symbol, opts);
  Function *fn = declareKernelEntry(llvmModule, symbol);
  IRBuilder<> b(BasicBlock::Create(llvmModule.getContext(), "entry", fn));
  Value *n = points(b, k, fn->getArg(0), fn->getArg(1), columns(b, k, fn->getArg(2)));
  Value *block = b.getInt64(kHostGridBlock);
  Value *blocks = b.CreateSDiv(b.CreateAdd(n, b.getInt64(kHostGridBlock - 1)), block, "blocks");
  emitLoop(b, b.getInt64(0), blocks, "ctaid", nullptr, [&](Value *ctaid, Value *) {
    emitLoop(b, b.getInt64(0), block, "tid", nullptr, [&](Value *tid, Value *) {
      callThread(b, thread, fn, b.CreateAdd(b.CreateMul(ctaid, block), tid, "g"));
      return nullptr;
    });
    return nullptr;
  });
  b.CreateRetVoid();
  return fn;
}

} // namespace bdl::codegen::cuda
