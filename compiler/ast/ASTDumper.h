//===- ASTDumper.h - `bdlc --emit=ast` ------------------------*- C++ -*-===//
#ifndef BDL_AST_ASTDUMPER_H
#define BDL_AST_ASTDUMPER_H

#include "ast/AST.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace bdl::ast {

/// Prints the tree, one node a line, each with its `line:col`.
void dump(const ModelFile &file, const llvm::SourceMgr &sm, llvm::raw_ostream &os);

} // namespace bdl::ast

#endif
