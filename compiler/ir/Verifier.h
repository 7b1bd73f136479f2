//===- Verifier.h - Structural checks of the bdl IR -----------*- C++ -*-===//
#ifndef BDL_IR_VERIFIER_H
#define BDL_IR_VERIFIER_H

#include "ir/IR.h"
#include "llvm/Support/raw_ostream.h"

namespace bdl::ir {

/// Returns true if `m` is well formed; otherwise describes every problem on
/// `errs`. A failure is a compiler bug, never a user error.
bool verify(const Module &m, llvm::raw_ostream &errs);

} // namespace bdl::ir

#endif
