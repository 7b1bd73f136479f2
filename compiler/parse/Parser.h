//===- Parser.h - .bdl source to AST --------------------------*- C++ -*-===//
#ifndef BDL_PARSE_PARSER_H
#define BDL_PARSE_PARSER_H

#include "ast/AST.h"
#include "support/Diagnostics.h"

#include <string>
#include <vector>

namespace bdl {

/// Limits that keep hostile input from exhausting the stack.
constexpr unsigned kMaxBracketDepth = 256;
constexpr unsigned kMaxExpressionDepth = 512;

/// Parses the main buffer of the diagnostics' SourceMgr. Returns null after
/// reporting at least one error.
std::unique_ptr<ast::ModelFile> parseModel(DiagnosticEngine &diags);

/// Parses buffer `bufferID` of the diagnostics' SourceMgr.
std::unique_ptr<ast::ModelFile> parseBuffer(DiagnosticEngine &diags, unsigned bufferID);

/// Reads every `import` of `file` (and theirs) from `searchPath` (each
/// directory holds std/neurons.bdl for `import std.neurons`) and appends the
/// libraries' definitions to `file`. False after reporting an error: an
/// import that does not exist, imports itself or is not a library.
bool loadImports(ast::ModelFile &file, DiagnosticEngine &diags,
                 const std::vector<std::string> &searchPath);

} // namespace bdl

#endif
