//===- Printer.h - `bdlc --emit=ir` ---------------------------*- C++ -*-===//
#ifndef BDL_IR_PRINTER_H
#define BDL_IR_PRINTER_H

#include "ir/IR.h"
#include "llvm/Support/raw_ostream.h"

namespace bdl::ir {

void print(const Module &m, llvm::raw_ostream &os);

/// A kernel as `print` writes it, less its name: what it computes, over
/// which tensors and shapes. Kernels with the same body are the same code.
std::string kernelBody(const Module &m, const KernelOp &k);

} // namespace bdl::ir

#endif
