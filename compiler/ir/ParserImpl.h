//===- ir/ParserImpl.h - The textual IR's parser, inside --------*- C++ -*-===//
//
// A recursive-descent parser over ir/Lexer.h's tokens, for the grammar that
// ir/Printer.cpp writes. Names are declared before use (params, then the
// tensors whose dimensions name them, then the blocks); numbers read back
// exactly (ir::formatExact). Parser.cpp defines the tokens' and the
// declarations' rules, ParseOps.cpp those of blocks, ops and expressions;
// ir/Parser.h is the interface.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_PARSERIMPL_H
#define BDL_IR_PARSERIMPL_H

#include "ir/ExprInfo.h"
#include "ir/Format.h"
#include "ir/Lexer.h"
#include "ir/Parser.h"

#include "llvm/ADT/Twine.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

namespace bdl::ir::parser {

using llvm::SMLoc;
using llvm::Twine;
using Kind = Token::Kind;

// Far deeper than bdlc writes (its source expressions stop at 512 levels;
// fusion inlines a few of those into one another), and shallow enough for
// the passes' recursion on bdl-opt's large stack.
constexpr int kMaxExpressionDepth = 10000;

class Parser {
public:
  Parser(llvm::SourceMgr &sm, llvm::raw_ostream &errs, SourceLocations &locs)
      : sm(sm), errs(errs), locs(locs), lexer(sm.getMemoryBuffer(sm.getMainFileID())->getBuffer()) {
    advance();
  }

  std::optional<Module> run() {
    if (!header())
      return std::nullopt;
    while (!tok.is(Kind::End))
      if (!item())
        return std::nullopt;
    return std::move(m);
  }

private:
  //===-- Tokens and errors -------------------------------------------===//

  void advance() { tok = lexer.next(); }

  bool error(const Token &at, const Twine &message);

  void note(SMLoc at, const Twine &message);

  /// "expected WHAT, found ..." at the current token (or the lexer's own
  /// complaint when the token is not one).
  bool expected(const Twine &what);

  bool punct(char c);

  bool keyword(std::string_view w);

  /// A bare or quoted name.
  bool name(std::string &out, const char *what);

  bool integer(int64_t &out, int64_t lo, int64_t hi, const char *what);

  template <typename T> bool integer(T &out, int64_t lo, const char *what) {
    int64_t v = 0;
    if (!integer(v, lo, std::numeric_limits<T>::max(), what))
      return false;
    out = static_cast<T>(v);
    return true;
  }

  bool startsNumber() const;

  /// A float or double, exactly as ir::formatExact wrote it.
  template <typename F> bool real(F &out, const char *what) {
    using Bits = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
    constexpr Bits kQuietNaN = sizeof(F) == 4 ? Bits(kQuietNaNBits32) : Bits(kQuietNaNBits64);
    constexpr Bits kSign = Bits(1) << (sizeof(F) * 8 - 1);
    if (!startsNumber())
      return expected(what);
    Token number = tok;
    if (number.text == "nan" || number.text == "-nan") {
      advance();
      Bits bits = number.text == "nan" ? kQuietNaN : kQuietNaN | kSign;
      if (number.text == "nan" && tok.isPunct('(')) {
        advance();
        if (!payload<F>(bits, sizeof(F) == 4 ? 8 : 16))
          return false;
        if (!punct(')'))
          return false;
      }
      out = std::bit_cast<F>(bits);
      return true;
    }
    const char *first = number.text.data(), *last = first + number.text.size();
    auto [end, ec] = std::from_chars(first, last, out);
    if (ec == std::errc::result_out_of_range)
      return error(number, "'" + Twine(number.text) + "' does not fit in a " +
                               (sizeof(F) == 4 ? "float" : "double"));
    if (ec != std::errc() || end != last)
      return error(number, Twine("expected ") + what + ", found '" + number.text + "'");
    advance();
    return true;
  }

  /// The raw bits of a NaN: 0x followed by at most `digits` hex digits.
  template <typename F, typename Bits> bool payload(Bits &bits, int digits) {
    std::string_view t = tok.text;
    if (!tok.is(Kind::Number) || t.size() < 3 || t.substr(0, 2) != "0x")
      return expected("the bits of a NaN, as 0x...");
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(t.data() + 2, t.data() + t.size(), v, 16);
    if (ec != std::errc() || end != t.data() + t.size() || (int)t.size() - 2 > digits)
      return error(tok, "'" + Twine(t) + "' is not " + Twine(digits) + " hex digits");
    F value = std::bit_cast<F>(static_cast<Bits>(v));
    if (!std::isnan(value))
      return error(tok, "'" + Twine(t) + "' are not the bits of a NaN");
    bits = static_cast<Bits>(v);
    advance();
    return true;
  }

  //===-- Declarations -------------------------------------------------===//

  bool header();

  /// `warmup 1`; optional (no warm-up).
  bool warmup();

  /// `objective maximize(accuracy)`; optional, so that hand-written IR may
  /// leave out the default.
  bool objective();

  bool item();

  bool param();

  template <typename E> bool enumWord(E &out, const char *what) {
    std::optional<E> e = tok.is(Kind::Word) ? fromSpelling<E>(tok.value) : std::nullopt;
    if (!e)
      return expected(what);
    out = *e;
    advance();
    return true;
  }

  bool dim(Dim &out);

  bool shape(Dim &rows, Dim &cols);

  bool tensor();

  /// An initialiser's argument: a number, or hp[N] for one read at run time.
  bool initArg(float &value, int32_t &slotOut, const char *what);

  /// %name of a declared tensor.
  bool tensorRef(TensorId &out, const char *what = "a tensor, as %name");

  bool ioRef(const char *role, TensorId &out);

  bool io();

  /// `image [C, H, W]` after the input; optional (a vector input).
  bool inputImage();

  //===-- Blocks and ops -----------------------------------------------===//

  bool block();

  /// Ops up to (not past) the closing '}'.
  bool ops(std::vector<Op> &out, std::vector<SMLoc> &opLocs,
           std::vector<std::vector<SMLoc>> &outputLocs);

  std::optional<ImageOp::Kind> imageKind() const;

  //   KIND %out = %in[, %aux] [window [C, H, W] kernel [KH, KW] stride S pad P]
  bool image(ImageOp &i);

  /// An optional ^T.
  bool transposed(bool &out);

  //   gemm %C = [alpha *] [hp[N] *] %A[^T] x %B[^T] [+ [beta *] [hp[M] *] %C]
  // (beta is 1 when only hp[M] is written)
  bool gemm(GemmOp &g);
  bool guard(Guard &g);

  bool slot(int32_t &out);

  bool kernel(KernelOp &k, std::vector<SMLoc> &outputLocs);

  //   [local] $N %tensor = expr
  bool output(KernelOp &k);

  bool expr(ExprPtr &out, int depth);

  //   %name, %name[row], %name[col] or %name[0]
  bool load(ExprPtr &out);

  llvm::SourceMgr &sm;
  llvm::raw_ostream &errs;
  SourceLocations &locs;
  Lexer lexer;
  Token tok;
  Module m;
  std::map<std::string, int> paramIds;
  std::map<std::string, TensorId> tensorIds;
  bool seenIo = false;
};

} // namespace bdl::ir::parser

#endif // BDL_IR_PARSERIMPL_H
