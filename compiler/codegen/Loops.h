//===- Loops.h - Counted loops in LLVM IR -----------------------*- C++ -*-===//
#ifndef BDL_CODEGEN_LOOPS_H
#define BDL_CODEGEN_LOOPS_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/IR/IRBuilder.h"

namespace bdl::codegen {

/// `for (iv = begin; iv < end; ++iv) carry = body(iv, carry);` in rotated
/// form (guard, bottom test) at b's insertion point; b is left in the exit
/// block. `init` may be null (no carried value). Returns the final carried
/// value (init when the loop runs zero times), or null. A nonzero
/// `vectorWidth` asks the loop vectoriser for that width, with the last
/// partial vectors done under a mask: without it the remainder runs scalar,
/// which for a draw (Philox, expNeg) took most of a 500-column row's time.
llvm::Value *emitLoop(llvm::IRBuilder<> &b, llvm::Value *begin, llvm::Value *end,
                      const llvm::Twine &name, llvm::Value *init,
                      llvm::function_ref<llvm::Value *(llvm::Value *, llvm::Value *)> body,
                      unsigned vectorWidth = 0);

} // namespace bdl::codegen

#endif // BDL_CODEGEN_LOOPS_H
