//===- Loops.cpp - Counted loops in LLVM IR -------------------------------===//
#include "Loops.h"

#include "llvm/IR/Function.h"

using namespace llvm;

namespace bdl::codegen {

Value *emitLoop(IRBuilder<> &b, Value *begin, Value *end, const Twine &name, Value *init,
                function_ref<Value *(Value *, Value *)> body, unsigned vectorWidth) {
  LLVMContext &ctx = b.getContext();
  BasicBlock *pre = b.GetInsertBlock();
  Function *f = pre->getParent();
  BasicBlock *loop = BasicBlock::Create(ctx, name + ".loop", f);
  BasicBlock *exit = BasicBlock::Create(ctx, name + ".exit", f);
  b.CreateCondBr(b.CreateICmpSLT(begin, end), loop, exit);

  b.SetInsertPoint(loop);
  PHINode *iv = b.CreatePHI(b.getInt64Ty(), 2, name);
  iv->addIncoming(begin, pre);
  PHINode *carry = nullptr;
  if (init) {
    carry = b.CreatePHI(init->getType(), 2, name + ".acc");
    carry->addIncoming(init, pre);
  }
  Value *next = body(iv, carry);
  Value *ivNext = b.CreateAdd(iv, b.getInt64(1), name + ".next",
                              /*HasNUW=*/false, /*HasNSW=*/true);
  BasicBlock *latch = b.GetInsertBlock();
  BranchInst *back = b.CreateCondBr(b.CreateICmpSLT(ivNext, end), loop, exit);
  if (vectorWidth) {
    Metadata *width[] = {MDString::get(ctx, "llvm.loop.vectorize.width"),
                         ConstantAsMetadata::get(b.getInt32(vectorWidth))};
    Metadata *fold[] = {MDString::get(ctx, "llvm.loop.vectorize.predicate.enable"),
                        ConstantAsMetadata::get(b.getTrue())};
    MDNode *id =
        MDNode::getDistinct(ctx, {nullptr, MDNode::get(ctx, width), MDNode::get(ctx, fold)});
    id->replaceOperandWith(0, id);
    back->setMetadata(LLVMContext::MD_loop, id);
  }
  iv->addIncoming(ivNext, latch);
  // Keep the exit block after the loop body in the function's block list.
  exit->moveAfter(latch);

  b.SetInsertPoint(exit);
  if (!init)
    return nullptr;
  carry->addIncoming(next, latch);
  PHINode *result = b.CreatePHI(init->getType(), 2, name + ".result");
  result->addIncoming(init, pre);
  result->addIncoming(next, latch);
  return result;
}

} // namespace bdl::codegen
