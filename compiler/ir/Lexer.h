//===- Lexer.h - Tokens of the textual IR ---------------------*- C++ -*-===//
//
// Whitespace and newlines separate tokens and mean nothing else; `;` starts
// a comment that runs to the end of the line.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_LEXER_H
#define BDL_IR_LEXER_H

#include "llvm/Support/SMLoc.h"

#include <string>
#include <string_view>

namespace bdl::ir {

struct Token {
  enum class Kind {
    End,
    Word,   // a bare name or keyword: map, batch, W1.grad, s+y
    String, // "..." (value: the decoded text)
    Number, // 12, -0.5, 1e-30, -inf, 0x7fc00001 (text: as written)
    Tensor, // %name or %"name" (value: the name)
    Kernel, // @name or @"name"
    Local,  // $3 (text: the digits)
    Punct,  // one of ( ) [ ] { } , = : * ^ +
    Error   // value: what is wrong
  };
  Kind kind = Kind::End;
  std::string_view text; // the token's source text
  std::string value;

  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  bool is(Kind k) const { return kind == k; }
  bool isPunct(char c) const { return kind == Kind::Punct && text[0] == c; }
  bool isWord(std::string_view w) const { return kind == Kind::Word && value == w; }
};

class Lexer {
public:
  explicit Lexer(std::string_view source) : source(source) {}

  Token next();

private:
  Token make(Token::Kind kind, size_t begin, std::string value = "") const;
  Token error(size_t begin, std::string message) const;
  /// A bare name or a quoted string at pos, for Word, String and after % @.
  Token name(Token::Kind kind, size_t begin);
  Token number(size_t begin);

  std::string_view source;
  size_t pos = 0;
};

} // namespace bdl::ir

#endif // BDL_IR_LEXER_H
