//===- Math.h - Vectorisable scalar math for kernel bodies ------*- C++ -*-===//
//
// Builders for the transcendental functions of kernel expressions, written
// with plain IR operations (no libm calls) so that the loop vectoriser can
// vectorise them and a GPU backend can compile them unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CODEGEN_MATH_H
#define BDL_CODEGEN_MATH_H

#include "llvm/IR/IRBuilder.h"

namespace bdl::codegen {

/// e^x for float x: Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2,
/// a degree-7 polynomial for e^r (Cephes expf) and a scaling by 2^k through
/// the exponent field. Relative error < 1e-7 (about 1 ulp) down to 1.7e-38;
/// results below 2^-125.5 (subnormals and the lowest normals) flush to 0;
/// x > 88.72 gives +inf; NaN gives NaN.
llvm::Value *emitExpF32(llvm::IRBuilder<> &b, llvm::Value *x);

/// 1 / (1 + e^-x), with `exp` computing e^y (0 below x = -88.7, where the
/// true value is < 3e-39).
llvm::Value *emitSigmoid(llvm::IRBuilder<> &b, llvm::Value *x,
                         llvm::function_ref<llvm::Value *(llvm::Value *)> exp);

/// tanh(x): an odd polynomial for |x| <= 0.625 (Cephes tanhf), otherwise
/// sign(x) * (1 - 2 / (e^(2|x|) + 1)), which saturates to +-1 without
/// overflow trouble (e^(2|x|) = inf gives exactly 1).
llvm::Value *emitTanh(llvm::IRBuilder<> &b, llvm::Value *x,
                      llvm::function_ref<llvm::Value *(llvm::Value *)> exp);

} // namespace bdl::codegen

#endif // BDL_CODEGEN_MATH_H
