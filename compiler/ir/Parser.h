//===- Parser.h - Reads the textual IR back into a Module -----*- C++ -*-===//
//
// The inverse of ir::print: parse(print(m)) holds what m holds, so that
// print(parse(print(m))) == print(m). Syntax errors and unresolved names are
// reported as `file:line:col: error: ...` with the line and a caret; the
// module's structural rules are the verifier's, which a caller runs next and
// can point back at the text through SourceLocations.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_PARSER_H
#define BDL_IR_PARSER_H

#include "ir/IR.h"
#include "ir/Verifier.h"

#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <vector>

namespace bdl::ir {

/// Where each part of a parsed module was written, by position (the n-th
/// tensor, op m of block b, ...), so it stays valid when the Module moves.
struct SourceLocations {
  struct BlockLocations {
    llvm::SMLoc block;
    std::vector<llvm::SMLoc> ops;
    std::vector<std::vector<llvm::SMLoc>> outputs; // per op; empty for a gemm
    std::vector<llvm::SMLoc> prologueOps;
    std::vector<std::vector<llvm::SMLoc>> prologueOutputs;
  };
  llvm::SMLoc module;
  std::vector<llvm::SMLoc> params, tensors;
  std::vector<BlockLocations> trainBlocks, evalBlocks;

  /// Where `e`, a part of `m` (the module parsed), was written; the module
  /// header for monostate or for anything not found.
  llvm::SMLoc find(const Module &m, const Entity &e) const;
};

/// Parses the main buffer of `sourceMgr`. Reports the first error on `errs`
/// and returns nullopt.
std::optional<Module> parseModule(llvm::SourceMgr &sourceMgr, llvm::raw_ostream &errs,
                                  SourceLocations *locations = nullptr);

} // namespace bdl::ir

#endif // BDL_IR_PARSER_H
