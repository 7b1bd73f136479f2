//===- SourceScanner.cpp --------------------------------------------------===//
#include "parse/SourceScanner.h"
#include "parse/Parser.h"

#include "BdlLexer.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"

#include <string>

namespace bdl {

bool CodePointMap::build(llvm::StringRef buffer, DiagnosticEngine &diags) {
  base = buffer.data();
  offsets.clear();
  offsets.reserve(buffer.size() + 1);
  const auto *p = reinterpret_cast<const llvm::UTF8 *>(buffer.begin());
  const auto *end = reinterpret_cast<const llvm::UTF8 *>(buffer.end());
  // ANTLR's input stream drops a byte-order mark; so must the indices.
  if (buffer.starts_with("\xEF\xBB\xBF"))
    p += 3;
  while (p < end) {
    unsigned len = llvm::getNumBytesForUTF8(*p);
    if (p + len > end || !llvm::isLegalUTF8Sequence(p, p + len)) {
      const char *at = reinterpret_cast<const char *>(p);
      std::string hex;
      llvm::raw_string_ostream(hex) << llvm::format_hex_no_prefix(*p, 2, /*Upper=*/true);
      llvm::SMLoc loc = llvm::SMLoc::getFromPointer(at);
      diags.report({loc, loc}, DiagID::err_invalid_encoding, hex);
      return false;
    }
    offsets.push_back(static_cast<uint32_t>(reinterpret_cast<const char *>(p) - base));
    p += len;
  }
  offsets.push_back(static_cast<uint32_t>(buffer.size()));
  return true;
}

llvm::SMLoc CodePointMap::loc(size_t index) const {
  if (index >= offsets.size())
    index = offsets.size() - 1;
  return llvm::SMLoc::getFromPointer(base + offsets[index]);
}

llvm::SMRange CodePointMap::range(const antlr4::Token *token) const { return range(token, token); }

llvm::SMRange CodePointMap::range(const antlr4::Token *first, const antlr4::Token *last) const {
  size_t start = first->getStartIndex();
  size_t stop = last->getStopIndex(); // inclusive; EOF has stop < start
  if (last->getType() == antlr4::Token::EOF || stop + 1 < start)
    stop = start > 0 ? start - 1 : 0;
  llvm::SMLoc begin = loc(start);
  llvm::SMLoc end = loc(std::max(stop + 1, start));
  return {begin, end};
}

bool checkComments(llvm::StringRef source, DiagnosticEngine &diags) {
  // The language has no string literals, so comments are found by text alone.
  for (size_t at = 0; at + 1 < source.size(); ++at) {
    if (source[at] != '/')
      continue;
    if (source[at + 1] == '/') {
      at = source.find('\n', at);
      if (at == llvm::StringRef::npos)
        return true;
    } else if (source[at + 1] == '*') {
      size_t close = source.find("*/", at + 2);
      if (close == llvm::StringRef::npos) {
        const char *open = source.data() + at;
        diags.report({llvm::SMLoc::getFromPointer(open), llvm::SMLoc::getFromPointer(open + 2)},
                     DiagID::err_unterminated_comment);
        return false;
      }
      at = close + 1;
    }
  }
  return true;
}

bool checkNesting(const std::vector<antlr4::Token *> &tokens, const CodePointMap &map,
                  DiagnosticEngine &diags) {
  struct Open {
    const antlr4::Token *token;
    unsigned prefixRun = 0; // consecutive prefix '-' at this level
    unsigned powerRun = 0;  // '^' chain at this level
  };
  std::vector<Open> stack;
  Open top{nullptr};
  const antlr4::Token *previous = nullptr;
  auto isOperand = [](const antlr4::Token *t) {
    if (!t)
      return false;
    std::string text = t->getText();
    return t->getType() == BdlLexer::ID || t->getType() == BdlLexer::NUMBER || text == ")" ||
           text == "]" || text == "'" || text == "true" || text == "false";
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const antlr4::Token *token = tokens[i];
    if (token->getType() == antlr4::Token::EOF)
      break;
    std::string text = token->getText();
    if (text == "(" || text == "[" || text == "{") {
      if (stack.size() >= kMaxBracketDepth) {
        diags.report(map.range(token), DiagID::err_nesting_too_deep, kMaxBracketDepth);
        return false;
      }
      stack.push_back(top);
      top = Open{token};
    } else if (text == ")" || text == "]" || text == "}") {
      char open = text == ")" ? '(' : text == "]" ? '[' : '{';
      if (!top.token) {
        diags.report(map.range(token), DiagID::err_unmatched_close, text, std::string(1, open));
        return false;
      }
      std::string opened = top.token->getText();
      if (opened[0] != open) {
        std::string expected = opened == "(" ? ")" : opened == "[" ? "]" : "}";
        diags.report(map.range(token), DiagID::err_mismatched_close, expected, opened, text);
        diags.report(map.range(top.token), DiagID::note_opened_here, opened);
        return false;
      }
      top = stack.back();
      stack.pop_back();
    }
    bool prefixMinus = text == "-" && !isOperand(previous);
    top.prefixRun = prefixMinus ? top.prefixRun + 1 : 0;
    if (prefixMinus) {
      if (top.prefixRun > kMaxExpressionDepth) {
        diags.report(map.range(token), DiagID::err_expression_too_deep, kMaxExpressionDepth);
        return false;
      }
    } else if (text == "^") {
      if (++top.powerRun > kMaxExpressionDepth) {
        diags.report(map.range(token), DiagID::err_expression_too_deep, kMaxExpressionDepth);
        return false;
      }
    } else if (token->getType() != BdlLexer::ID && token->getType() != BdlLexer::NUMBER &&
               text != "'") {
      top.prefixRun = 0;
      top.powerRun = 0;
    }
    previous = token;
  }
  if (top.token) {
    // Report the innermost unclosed bracket: it is where the user lost track.
    diags.report(map.range(top.token), DiagID::err_unterminated_block, top.token->getText());
    return false;
  }
  return true;
}

} // namespace bdl
