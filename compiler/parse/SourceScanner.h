//===- SourceScanner.h - Checks that run before the ANTLR parser -*- C++ -*-===//
//
// ANTLR's parser is recursive descent and its input stream throws on bad
// UTF-8, so hostile input is caught here first: invalid encoding, unbalanced
// or too deeply nested brackets, and runaway prefix/power chains that would
// recurse without brackets.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_PARSE_SOURCESCANNER_H
#define BDL_PARSE_SOURCESCANNER_H

#include "support/Diagnostics.h"

#include <cstdint>
#include <vector>

namespace antlr4 {
class Token;
}

namespace bdl {

/// Byte offset of every code point of a UTF-8 buffer (plus one past the end),
/// so that ANTLR's code-point indices map back to source locations.
class CodePointMap {
public:
  /// Returns false (and reports) if the buffer is not valid UTF-8.
  bool build(llvm::StringRef buffer, DiagnosticEngine &diags);
  llvm::SMLoc loc(size_t codePointIndex) const;
  llvm::SMRange range(const antlr4::Token *token) const;
  llvm::SMRange range(const antlr4::Token *first, const antlr4::Token *last) const;

private:
  const char *base = nullptr;
  std::vector<uint32_t> offsets;
};

/// Reports a block comment that is never closed. Runs before the lexer, which
/// would otherwise split it into '/' '*' and complain about what follows.
bool checkComments(llvm::StringRef source, DiagnosticEngine &diags);

/// Reports unbalanced brackets and nesting beyond the limits. `tokens` is the
/// lexer's output, EOF included.
bool checkNesting(const std::vector<antlr4::Token *> &tokens, const CodePointMap &map,
                  DiagnosticEngine &diags);

} // namespace bdl

#endif
