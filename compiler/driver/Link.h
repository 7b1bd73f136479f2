//===- Link.h - Linking a model object with libbdlrt ----------*- C++ -*-===//
#ifndef BDL_DRIVER_LINK_H
#define BDL_DRIVER_LINK_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

namespace bdl {

/// Links `object` with the runtime into the executable `output`. Returns false
/// after explaining on `errs`.
bool linkExecutable(llvm::StringRef object, llvm::StringRef output, llvm::raw_ostream &errs);

} // namespace bdl

#endif
