//===- KernelEmitter.h - GPU kernels around element functions --*- C++ -*-===//
//
// A GPU kernel is the element function (ElementEmitter.h) run by one thread
// per point of its index space: the elements of rows [rowBegin, rowEnd) for
// a Map, those rows for a RowReduce, the columns for a ColReduce. The part
// that maps a global thread index to a point is target independent:
//
//   void @<symbol>.thread(i64 g, i64 rowBegin, i64 rowEnd, i64 cols,
//                         ptr tensors, ptr hp, ptr ctx)
//
// computes point g when g is inside the index space and does nothing
// otherwise. Two wrappers call it:
//  - emitPtxKernel: `ptx_kernel @<symbol>` with the BdlKernelFn signature, a
//    grid-stride loop from ctaid.x * ntid.x + tid.x, so that any launch
//    shape covers the space (the runtime launches ceil(points / block)
//    blocks);
//  - emitHostGridKernel: the exported BdlKernelFn `@<symbol>` for the host,
//    looping over blocks and threads of the launch a GPU would get
//    (kHostGridBlock threads per block, the last block partly outside the
//    space), so that the GPU's kernel bodies run, and are tested, on a
//    machine without a GPU (`bdlc --target=cuda-host`).
//
// Reductions keep one thread per row (column) summing in column (row)
// order; Poisson draws take the inline search (no deferred second pass);
// flags (ElementFunction::invariants) are evaluated by every thread and
// passed as values: a branch every thread of a warp takes the same way.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_CODEGEN_CUDA_KERNELEMITTER_H
#define BDL_CODEGEN_CUDA_KERNELEMITTER_H

#include "codegen/CodeGen.h"
#include "ir/IR.h"

#include "llvm/IR/Function.h"

namespace bdl::codegen::cuda {

/// Threads per block of the host-grid emulation (and the runtime's launches).
constexpr int64_t kHostGridBlock = 256;

/// `<symbol>.thread` and the `ptx_kernel @<symbol>` entry.
llvm::Function *emitPtxKernel(llvm::Module &llvmModule, const ir::Module &m, const ir::KernelOp &k,
                              llvm::StringRef symbol, const EmitOptions &opts);

/// `<symbol>.thread` and the host BdlKernelFn `@<symbol>` that runs it over
/// the grid and block indices a launch would have.
llvm::Function *emitHostGridKernel(llvm::Module &llvmModule, const ir::Module &m,
                                   const ir::KernelOp &k, llvm::StringRef symbol,
                                   const EmitOptions &opts);

} // namespace bdl::codegen::cuda

#endif // BDL_CODEGEN_CUDA_KERNELEMITTER_H
