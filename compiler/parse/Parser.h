//===- Parser.h - .bdl source to AST --------------------------*- C++ -*-===//
#ifndef BDL_PARSE_PARSER_H
#define BDL_PARSE_PARSER_H

#include "ast/AST.h"
#include "support/Diagnostics.h"

namespace bdl {

/// Limits that keep hostile input from exhausting the stack.
constexpr unsigned kMaxBracketDepth = 256;
constexpr unsigned kMaxExpressionDepth = 512;

/// Parses the main buffer of the diagnostics' SourceMgr. Returns null after
/// reporting at least one error.
std::unique_ptr<ast::ModelFile> parseModel(DiagnosticEngine &diags);

} // namespace bdl

#endif
