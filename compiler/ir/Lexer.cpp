//===- Lexer.cpp - Tokens of the textual IR ------------------------------===//
#include "ir/Lexer.h"
#include "ir/Format.h"

#include <cstdio>

namespace bdl::ir {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlnum(char c) { return isDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

int hexValue(char c) {
  if (isDigit(c))
    return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
    return (c | 0x20) - 'a' + 10;
  return -1;
}

std::string describeByte(unsigned char c) {
  if (c >= 0x21 && c < 0x7f)
    return std::string("'") + (char)c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", c);
  return hex;
}

} // namespace

Token Lexer::make(Token::Kind kind, size_t begin, std::string value) const {
  Token t;
  t.kind = kind;
  t.text = source.substr(begin, pos - begin);
  t.value = std::move(value);
  return t;
}

Token Lexer::error(size_t begin, std::string message) const {
  Token t;
  t.kind = Token::Kind::Error;
  t.text = source.substr(begin, pos > begin ? pos - begin : 0);
  if (t.text.empty())
    t.text = source.substr(begin, begin < source.size() ? 1 : 0);
  t.value = std::move(message);
  return t;
}

Token Lexer::next() {
  for (;;) {
    while (pos < source.size() && (source[pos] == ' ' || source[pos] == '\t' ||
                                   source[pos] == '\n' || source[pos] == '\r'))
      ++pos;
    if (pos < source.size() && source[pos] == ';') {
      while (pos < source.size() && source[pos] != '\n')
        ++pos;
      continue;
    }
    break;
  }
  size_t begin = pos;
  if (pos == source.size())
    return make(Token::Kind::End, begin);
  char c = source[pos];
  char after = pos + 1 < source.size() ? source[pos + 1] : '\0';
  if (isBareNameStart(c) || c == '"')
    return name(c == '"' ? Token::Kind::String : Token::Kind::Word, begin);
  if (c == '%' || c == '@') {
    ++pos;
    Token::Kind kind = c == '%' ? Token::Kind::Tensor : Token::Kind::Kernel;
    if (pos == source.size() || !(isBareNameStart(source[pos]) || source[pos] == '"'))
      return error(begin, std::string("expected a name after '") + c + "'");
    Token t = name(kind, pos);
    if (t.is(Token::Kind::Error))
      return t;
    t.text = source.substr(begin, pos - begin);
    return t;
  }
  if (c == '$') {
    ++pos;
    while (pos < source.size() && isDigit(source[pos]))
      ++pos;
    if (pos == begin + 1)
      return error(begin, "expected an output number after '$'");
    return make(Token::Kind::Local, begin, std::string(source.substr(begin + 1, pos - begin - 1)));
  }
  if (isDigit(c) || (c == '-' && (isAlnum(after) || after == '.')) || (c == '.' && isDigit(after)))
    return number(begin);
  if (std::string_view("()[]{},=:*^+").find(c) != std::string_view::npos) {
    ++pos;
    return make(Token::Kind::Punct, begin);
  }
  ++pos;
  return error(begin, "invalid character " + describeByte((unsigned char)c) + " in IR");
}

Token Lexer::name(Token::Kind kind, size_t begin) {
  size_t start = pos;
  if (source[pos] != '"') {
    while (pos < source.size() && isBareNameChar(source[pos]))
      ++pos;
    return make(kind, begin, std::string(source.substr(start, pos - start)));
  }
  std::string value;
  ++pos;
  for (;;) {
    if (pos == source.size() || source[pos] == '\n')
      return error(start, "string is never closed");
    char c = source[pos++];
    if (c == '"')
      break;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (pos < source.size() && (source[pos] == '"' || source[pos] == '\\')) {
      value += source[pos++];
      continue;
    }
    if (pos + 2 < source.size() && source[pos] == 'x' && hexValue(source[pos + 1]) >= 0 &&
        hexValue(source[pos + 2]) >= 0) {
      value += (char)(hexValue(source[pos + 1]) * 16 + hexValue(source[pos + 2]));
      pos += 3;
      continue;
    }
    size_t escape = pos - 1;
    pos = escape + 2 <= source.size() ? escape + 2 : source.size();
    return error(escape, "invalid escape in string; expected \\\", \\\\ or \\xHH");
  }
  Token t = make(kind, begin, std::move(value));
  return t;
}

Token Lexer::number(size_t begin) {
  if (source[pos] == '-')
    ++pos;
  bool hex = pos + 1 < source.size() && source[pos] == '0' && (source[pos + 1] | 0x20) == 'x';
  while (pos < source.size()) {
    char c = source[pos];
    bool exponentSign = (c == '+' || c == '-') && !hex && (source[pos - 1] | 0x20) == 'e';
    if (!isAlnum(c) && c != '.' && c != '_' && !exponentSign)
      break;
    ++pos;
  }
  return make(Token::Kind::Number, begin);
}

} // namespace bdl::ir
