//===- DescriptorEmitter.h - The bdl_model constant -------------*- C++ -*-===//
#ifndef BDL_CODEGEN_CPU_DESCRIPTOREMITTER_H
#define BDL_CODEGEN_CPU_DESCRIPTOREMITTER_H

#include "ir/IR.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

namespace bdl::codegen::cpu {

/// LLVM struct types mirroring the structs of bdl/abi.h field by field
/// (named %BdlDim, %BdlTensorDesc, ...; shared by modules of one context).
struct AbiTypes {
  llvm::StructType *dim, *tensor, *param, *op, *window, *block, *model, *guardLiteral, *context;
  static AbiTypes get(llvm::LLVMContext &ctx);
};

/// Emits the external constant `bdl_model`. `kernels` holds the kernel
/// function of every KernelOp in the kernel order of CodeGen.h; `stepsFns`
/// the step function of every block (null for a constant count) in
/// trainBlocks-then-evalBlocks order, or is empty; `derive` may be null;
/// `ptx` (for `ptxArch`) is the kernels' PTX module to embed, or empty.
llvm::Error emitDescriptor(llvm::Module &llvmModule, const ir::Module &m,
                           llvm::ArrayRef<llvm::Function *> kernels,
                           llvm::ArrayRef<llvm::Function *> stepsFns, llvm::Function *derive,
                           llvm::StringRef ptx = {}, llvm::StringRef ptxArch = {});

} // namespace bdl::codegen::cpu

#endif // BDL_CODEGEN_CPU_DESCRIPTOREMITTER_H
