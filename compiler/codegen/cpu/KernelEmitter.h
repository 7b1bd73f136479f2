//===- KernelEmitter.h - CPU loop nests around element functions -*- C++ -*-===//
#ifndef BDL_CODEGEN_CPU_KERNELEMITTER_H
#define BDL_CODEGEN_CPU_KERNELEMITTER_H

#include "codegen/CodeGen.h"
#include "ir/IR.h"

#include "llvm/IR/Function.h"

namespace bdl::codegen::cpu {

/// Emits the exported kernel `symbol` (a BdlKernelFn) for a verified
/// KernelOp:
///  - `<symbol>.elem`: the element function (ElementEmitter.h);
///  - `<symbol>.loops` (internal, always inlined): the loop nest over
///    rows [rowBegin, rowEnd) and columns [0, cols), taking every tensor base
///    pointer as a noalias argument, so that once inlined the vectoriser
///    needs no runtime alias checks;
///  - `<symbol>`: loads the base pointers from the tensor table and calls
///    the loop nest.
/// Map kernels that read nothing per row or per column, and draw nothing, run one flat loop
/// over [rowBegin * cols, rowEnd * cols). RowReduce keeps one accumulator per
/// row (sum from 0 / max from -inf, reassociable so that it vectorises);
/// ColReduce zeroes its [1, cols] output, then adds row after row.
llvm::Function *emitKernel(llvm::Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                           llvm::StringRef symbol, const EmitOptions &opts);

} // namespace bdl::codegen::cpu

#endif // BDL_CODEGEN_CPU_KERNELEMITTER_H
