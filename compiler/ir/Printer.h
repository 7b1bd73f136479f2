//===- Printer.h - `bdlc --emit=ir` ---------------------------*- C++ -*-===//
#ifndef BDL_IR_PRINTER_H
#define BDL_IR_PRINTER_H

#include "ir/IR.h"
#include "llvm/Support/raw_ostream.h"

namespace bdl::ir {

void print(const Module &m, llvm::raw_ostream &os);

} // namespace bdl::ir

#endif
