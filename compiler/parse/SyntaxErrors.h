//===- SyntaxErrors.h - ANTLR's syntax errors in a person's words -*- C++ -*-===//
//
// ANTLR describes a syntax error as the token it found and the token set it
// expected (`mismatched input 'import' expecting {<EOF>, 'param', ...}`).
// This strategy keeps ANTLR's recovery but says what the set means where it
// is: "expected a declaration ('param', 'const', ...) but found 'import'",
// "expected '=' after 'lr' but found '0.05'". Only the first error is
// reported.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_PARSE_SYNTAXERRORS_H
#define BDL_PARSE_SYNTAXERRORS_H

#include "antlr4-runtime.h"

namespace bdl {

class SyntaxErrorStrategy : public antlr4::DefaultErrorStrategy {
protected:
  void reportNoViableAlternative(antlr4::Parser *parser,
                                 const antlr4::NoViableAltException &e) override;
  void reportInputMismatch(antlr4::Parser *parser,
                           const antlr4::InputMismatchException &e) override;
  void reportUnwantedToken(antlr4::Parser *parser) override;
  void reportMissingToken(antlr4::Parser *parser) override;

private:
  void report(antlr4::Parser *parser, antlr4::Token *found,
              const antlr4::misc::IntervalSet &expected, antlr4::RuleContext *context);

  bool reported = false;
};

} // namespace bdl

#endif
