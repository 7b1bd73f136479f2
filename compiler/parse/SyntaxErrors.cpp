//===- SyntaxErrors.cpp ---------------------------------------------------===//
#include "parse/SyntaxErrors.h"

#include "BdlParser.h"

#include <cctype>
#include <string>
#include <vector>

namespace bdl {
namespace {

using antlr4::misc::IntervalSet;

// IntervalSet holds token types as ssize_t, EOF as -1.
constexpr ssize_t kEOF = -1;

const char *const kDeclarationKeywords[] = {"param", "const",      "input", "target",  "weight",
                                            "fixed", "layer",      "loss",  "learn",   "train",
                                            "def",   "population", "phase", "evaluate"};
const char *const kOperators[] = {"'", "^", "*", "/", "@", "+", "-"};
const char *const kExpressionStarts[] = {"(", "-", "true", "false"};

/// Reads the expected-token set in terms of the grammar's literals.
class Expected {
public:
  Expected(antlr4::Parser *parser, const IntervalSet &set) : vocabulary(parser->getVocabulary()) {
    for (ssize_t t : set.toList())
      types.push_back(t);
  }

  bool has(ssize_t type) const {
    for (ssize_t t : types)
      if (t == type)
        return true;
    return false;
  }
  bool hasLiteral(const std::string &text) const { return has(typeOf(text)); }
  template <size_t N> bool hasAll(const char *const (&texts)[N]) const {
    for (const char *t : texts)
      if (!hasLiteral(t))
        return false;
    return true;
  }
  bool startsDeclaration() const { return hasAll(kDeclarationKeywords); }
  bool startsExpression() const {
    return hasAll(kExpressionStarts) && has(BdlParser::ID) && has(BdlParser::NUMBER);
  }
  bool continuesExpression() const { return hasAll(kOperators); }
  bool only(std::initializer_list<ssize_t> allowed) const {
    for (ssize_t t : types) {
      bool ok = false;
      for (ssize_t a : allowed)
        ok |= a == t;
      if (!ok)
        return false;
    }
    return !types.empty();
  }

  ssize_t typeOf(const std::string &text) const {
    std::string quoted = "'" + (text == "'" ? std::string("\\'") : text) + "'";
    for (size_t t = 1; t <= vocabulary.getMaxTokenType(); ++t)
      if (vocabulary.getLiteralName(t) == quoted)
        return (ssize_t)t;
    return -2;
  }

  /// What a message already says in a phrase ("an operator", ...).
  struct Covered {
    bool operators = false, declarations = false, expression = false, names = false;
  };

  /// Every expected token that `covered` does not stand for, as a person
  /// reads it.
  std::vector<std::string> spelled(Covered covered) const {
    std::vector<std::string> out;
    auto in = [&](const auto &texts, ssize_t t) {
      for (const char *text : texts)
        if (typeOf(text) == t)
          return true;
      return false;
    };
    for (ssize_t t : types) {
      if (covered.operators && in(kOperators, t))
        continue;
      if (covered.declarations && (in(kDeclarationKeywords, t) || t == kEOF))
        continue;
      if (covered.expression &&
          (in(kExpressionStarts, t) || t == BdlParser::ID || t == BdlParser::NUMBER))
        continue;
      if (covered.names && t == BdlParser::ID)
        continue;
      if (covered.operators && t == typeOf("("))
        continue; // a call's '(' after a name: part of "an operator"
      out.push_back(spell(t));
    }
    return out;
  }

  std::string spell(ssize_t t) const {
    if (t == kEOF)
      return "the end of the file";
    if (t == BdlParser::ID)
      return "a name";
    if (t == BdlParser::NUMBER)
      return "a number";
    return vocabulary.getLiteralName(t);
  }

private:
  const antlr4::dfa::Vocabulary &vocabulary;
  std::vector<ssize_t> types;
};

std::string joinOr(const std::vector<std::string> &items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i)
      out += i + 1 == items.size() ? " or " : ", ";
    out += items[i];
  }
  return out;
}

std::string quote(antlr4::Token *t) {
  if (!t || t->getType() == antlr4::Token::EOF)
    return "the end of the file";
  std::string text = t->getText();
  constexpr size_t kLongest = 40; // a 5000-digit number is shown by the caret line anyway
  if (text.size() > kLongest)
    text = text.substr(0, kLongest) + "...";
  return "'" + text + "'";
}

std::string declarationList() {
  std::vector<std::string> names;
  for (const char *k : kDeclarationKeywords)
    names.push_back(std::string("'") + k + "'");
  return "a declaration (" + joinOr(names) + ")";
}

/// The token before `t` in the stream, if any.
antlr4::Token *previous(antlr4::Parser *parser, antlr4::Token *t) {
  antlr4::TokenStream *tokens = parser->getTokenStream();
  if (!t || t->getTokenIndex() == 0 || t->getTokenIndex() > tokens->size())
    return nullptr;
  return tokens->get(t->getTokenIndex() - 1);
}

bool inRule(antlr4::RuleContext *context, size_t rule) {
  for (; context; context = dynamic_cast<antlr4::RuleContext *>(context->parent))
    if (context->getRuleIndex() == rule)
      return true;
  return false;
}

/// A word the grammar reserves ('state', 'phase', ...): a literal of the
/// vocabulary that an identifier could otherwise be.
bool isKeyword(const Expected &expected, const std::string &text) {
  return !text.empty() && (std::isalpha((unsigned char)text[0]) || text[0] == '_') &&
         expected.typeOf(text) >= 0;
}

} // namespace

void SyntaxErrorStrategy::report(antlr4::Parser *parser, antlr4::Token *found,
                                 const IntervalSet &set, antlr4::RuleContext *context) {
  // After the first error ANTLR's recovery guesses; what it finds next is
  // mostly a consequence of the guess.
  if (reported)
    return;
  reported = true;
  Expected expected(parser, set);
  antlr4::Token *before = previous(parser, found);
  std::string after = before ? " after " + quote(before) : "";
  std::string message;
  const char *statement = "a statement ('NAME = EXPR' or 'WEIGHT -= EXPR')";
  if (context && context->getRuleIndex() == BdlParser::RuleLearnStmt) {
    // A name not followed by '=', '-=' or '+='.
    message = "expected '=', '-=' or '+='" + after + " but found " + quote(found) +
              "; a learning rule holds 'NAME = EXPR' and 'WEIGHT -= EXPR' statements";
  } else if (context && context->getRuleIndex() == BdlParser::RuleStrayAssignment &&
             expected.only({expected.typeOf(".")}) && before) {
    // A word at the top level that is no keyword (`module std`): the
    // grammar took it for the start of `pop.x = ...`.
    message = "expected " + declarationList() + " but found " + quote(before);
    found = before;
  } else if (expected.only({expected.typeOf("model")})) {
    message = "expected 'model NAME' at the start of the file but found " + quote(found);
  } else if (expected.startsDeclaration()) {
    bool op = expected.continuesExpression();
    // At the top level a name only starts `pop.x = ...`, itself an error
    // (an assignment outside a phase): not worth suggesting.
    bool topLevel = context && context->getRuleIndex() == BdlParser::RuleFile;
    std::vector<std::string> rest =
        expected.spelled({.operators = true, .declarations = true, .names = topLevel});
    std::vector<std::string> items;
    if (op)
      items.push_back("an operator");
    for (const std::string &r : rest)
      items.push_back(r);
    items.push_back(declarationList());
    message = "expected " + joinOr(items) + (op ? after : "") + " but found " + quote(found);
  } else if (inRule(context, BdlParser::RuleLearnDecl) && expected.has(BdlParser::ID) &&
             expected.hasLiteral("}") && !expected.startsExpression()) {
    std::vector<std::string> items;
    if (expected.continuesExpression())
      items.push_back("an operator");
    items.push_back(statement);
    items.push_back("'}'");
    message = "expected " + joinOr(items) + " but found " + quote(found);
  } else {
    bool expression = expected.startsExpression();
    bool op = expected.continuesExpression();
    std::vector<std::string> items;
    if (expression)
      items.push_back("an expression");
    if (op)
      items.push_back("an operator");
    for (const std::string &r : expected.spelled({.operators = op, .expression = expression}))
      items.push_back(r);
    message = "expected " + joinOr(items) + after + " but found " + quote(found);
  }
  if (found && expected.has(BdlParser::ID) && isKeyword(expected, found->getText()))
    message += "; '" + found->getText() + "' is a keyword";
  parser->notifyErrorListeners(found, message, nullptr);
}

void SyntaxErrorStrategy::reportNoViableAlternative(antlr4::Parser *parser,
                                                    const antlr4::NoViableAltException &e) {
  report(parser, e.getOffendingToken(), e.getExpectedTokens(), parser->getContext());
}

void SyntaxErrorStrategy::reportInputMismatch(antlr4::Parser *parser,
                                              const antlr4::InputMismatchException &e) {
  report(parser, e.getOffendingToken(), e.getExpectedTokens(), parser->getContext());
}

void SyntaxErrorStrategy::reportUnwantedToken(antlr4::Parser *parser) {
  if (inErrorRecoveryMode(parser))
    return;
  beginErrorCondition(parser);
  report(parser, parser->getCurrentToken(), getExpectedTokens(parser), parser->getContext());
}

void SyntaxErrorStrategy::reportMissingToken(antlr4::Parser *parser) {
  if (inErrorRecoveryMode(parser))
    return;
  beginErrorCondition(parser);
  report(parser, parser->getCurrentToken(), getExpectedTokens(parser), parser->getContext());
}

} // namespace bdl
