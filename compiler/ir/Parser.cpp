//===- Parser.cpp - Reads the textual IR back into a Module --------------===//
//
// A recursive-descent parser over ir/Lexer.h's tokens, for the grammar that
// ir/Printer.cpp writes. Names are declared before use (params, then the
// tensors whose dimensions name them, then the blocks); numbers read back
// exactly (ir::formatExact).
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/ExprInfo.h"
#include "ir/Format.h"
#include "ir/Lexer.h"

#include "llvm/ADT/Twine.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

namespace bdl::ir {
namespace {

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

  bool error(const Token &at, const Twine &message) {
    llvm::SMRange range(at.loc(), SMLoc::getFromPointer(at.text.data() + at.text.size()));
    sm.PrintMessage(errs, at.loc(), llvm::SourceMgr::DK_Error, message,
                    at.text.size() > 1 ? llvm::ArrayRef<llvm::SMRange>(range)
                                       : llvm::ArrayRef<llvm::SMRange>());
    return false;
  }

  void note(SMLoc at, const Twine &message) {
    sm.PrintMessage(errs, at, llvm::SourceMgr::DK_Note, message);
  }

  /// "expected WHAT, found ..." at the current token (or the lexer's own
  /// complaint when the token is not one).
  bool expected(const Twine &what) {
    if (tok.is(Kind::Error))
      return error(tok, tok.value);
    if (tok.is(Kind::End))
      return error(tok, "expected " + what + ", found the end of the file");
    return error(tok, "expected " + what + ", found '" + tok.text + "'");
  }

  bool punct(char c) {
    if (!tok.isPunct(c))
      return expected(Twine("'") + Twine(c) + "'");
    advance();
    return true;
  }

  bool keyword(std::string_view w) {
    if (!tok.isWord(w))
      return expected("'" + Twine(w) + "'");
    advance();
    return true;
  }

  /// A bare or quoted name.
  bool name(std::string &out, const char *what) {
    if (!tok.is(Kind::Word) && !tok.is(Kind::String))
      return expected(what);
    out = tok.value;
    advance();
    return true;
  }

  bool integer(int64_t &out, int64_t lo, int64_t hi, const char *what) {
    if (!tok.is(Kind::Number))
      return expected(what);
    const char *first = tok.text.data(), *last = first + tok.text.size();
    auto [end, ec] = std::from_chars(first, last, out);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && end == last && (out < lo || out > hi)))
      return error(tok, Twine(what) + " must be between " + Twine(lo) + " and " + Twine(hi));
    if (ec != std::errc() || end != last)
      return error(tok, Twine("expected ") + what + ", found '" + tok.text + "'");
    advance();
    return true;
  }

  template <typename T> bool integer(T &out, int64_t lo, const char *what) {
    int64_t v = 0;
    if (!integer(v, lo, std::numeric_limits<T>::max(), what))
      return false;
    out = static_cast<T>(v);
    return true;
  }

  bool startsNumber() const {
    return tok.is(Kind::Number) || tok.isWord("inf") || tok.isWord("nan");
  }

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

  bool header() {
    locs.module = tok.loc();
    return keyword("module") && name(m.name, "the module's name") && keyword("dataset") &&
           name(m.dataset, "a dataset name") && keyword("epochs") &&
           integer(m.epochs, 0, "the number of epochs") && keyword("batch") &&
           integer(m.batch, 0, "the batch size") && keyword("validation") &&
           integer(m.validation, 0, "the validation size") && warmup() && objective();
  }

  /// `warmup 1`; optional (no warm-up).
  bool warmup() {
    if (!tok.isWord("warmup"))
      return true;
    advance();
    return integer(m.warmup, 0, "the number of warm-up epochs");
  }

  /// `objective maximize(accuracy)`; optional, so that hand-written IR may
  /// leave out the default.
  bool objective() {
    if (!tok.isWord("objective"))
      return true;
    advance();
    if (!tok.isWord("maximize") && !tok.isWord("minimize"))
      return expected("'maximize' or 'minimize'");
    m.objective.minimise = tok.isWord("minimize");
    advance();
    return punct('(') && enumWord(m.objective.metric, "a metric (accuracy or loss)") && punct(')');
  }

  bool item() {
    if (tok.isWord("param"))
      return param();
    if (tok.isWord("tensor"))
      return tensor();
    if (tok.isWord("io"))
      return io();
    if (tok.isWord("monitor")) {
      //   monitor NAME %tensor
      advance();
      Monitor mon;
      if (!name(mon.name, "the monitor's name") ||
          !tensorRef(mon.tensor, "the monitor's tensor, as %name"))
        return false;
      m.monitors.push_back(mon);
      return true;
    }
    if (tok.isWord("source")) {
      if (!m.sourceFile.empty())
        return error(tok, "the module's source is given twice");
      advance();
      if (!tok.is(Kind::String))
        return expected("the source file, in quotes");
      m.sourceFile = tok.value;
      advance();
      return true;
    }
    if (tok.isWord("train") || tok.isWord("eval"))
      return block();
    return expected("'param', 'tensor', 'io', 'source', 'train' or 'eval'");
  }

  bool param() {
    Param p;
    SMLoc at = tok.loc();
    advance();
    Token nameTok = tok;
    if (!name(p.name, "the param's name"))
      return false;
    if (auto [it, fresh] = paramIds.try_emplace(p.name, (int)m.params.size()); !fresh) {
      error(nameTok, "redefinition of param " + formatName(p.name));
      note(locs.params[it->second], "previous definition is here");
      return false;
    }
    if (!punct(':'))
      return false;
    if (!enumWord(p.type, "a param type (real, int or bool)") || !punct('=') ||
        !real(p.value, "the param's value"))
      return false;
    if (tok.isWord("tune")) {
      advance();
      if (!enumWord(p.tune, "a tune kind (linear, log, int, bool or choice)") || !punct('['))
        return false;
      if (p.tune == TuneKind::Choice) {
        do {
          double v = 0;
          if (!real(v, "a choice"))
            return false;
          p.choices.push_back(v);
        } while (tok.isPunct(',') && (advance(), true));
        if (!punct(']'))
          return false;
        p.lo = *std::min_element(p.choices.begin(), p.choices.end());
        p.hi = *std::max_element(p.choices.begin(), p.choices.end());
      } else if (!real(p.lo, "the lower bound") || !punct(',') || !real(p.hi, "the upper bound") ||
                 !punct(']')) {
        return false;
      }
    }
    if (tok.isWord("range")) {
      advance();
      if (!enumWord(p.range, "a param range (positive, nonnegative or fraction)"))
        return false;
      if (!tok.is(Kind::String))
        return expected("what needs the range, in quotes");
      p.rangeUse = tok.value;
      advance();
    }
    if (tok.isWord("derive")) {
      advance();
      ExprPtr e;
      if (!expr(e, 0))
        return false;
      p.derivation = std::move(e);
    }
    m.params.push_back(std::move(p));
    locs.params.push_back(at);
    return true;
  }

  template <typename E> bool enumWord(E &out, const char *what) {
    std::optional<E> e = tok.is(Kind::Word) ? fromSpelling<E>(tok.value) : std::nullopt;
    if (!e)
      return expected(what);
    out = *e;
    advance();
    return true;
  }

  bool dim(Dim &out) {
    if (tok.is(Kind::Number)) {
      int64_t v = 0;
      if (!integer(v, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                   "a dimension"))
        return false;
      out = Dim::constant(v);
      return true;
    }
    if (tok.isWord("batch")) { // quoted, "batch" is a param's name
      advance();
      int64_t times = 1;
      if (tok.isPunct('*')) { // batch*N: N rows per example (the pixels of an image)
        advance();
        if (!integer(times, 1, std::numeric_limits<int32_t>::max(), "the rows per example"))
          return false;
      }
      out = Dim::batch(times);
      return true;
    }
    if (!tok.is(Kind::Word) && !tok.is(Kind::String))
      return expected("a dimension (a number, 'batch' or a param)");
    auto it = paramIds.find(tok.value);
    if (it == paramIds.end())
      return error(tok, "dimension names no param " + formatName(tok.value));
    out = Dim::param(it->second);
    advance();
    return true;
  }

  bool shape(Dim &rows, Dim &cols) {
    return punct('[') && dim(rows) && punct(',') && dim(cols) && punct(']');
  }

  bool tensor() {
    advance();
    if (!tok.is(Kind::Tensor))
      return expected("a tensor name, as %name");
    Token nameTok = tok;
    Tensor t;
    t.name = tok.value;
    if (auto [it, fresh] = tensorIds.try_emplace(t.name, (TensorId)m.tensors.size()); !fresh) {
      error(nameTok, "redefinition of tensor %" + formatName(t.name));
      note(locs.tensors[it->second], "previous definition is here");
      return false;
    }
    advance();
    if (!punct(':') || !enumWord(t.role, "a tensor role") || !shape(t.rows, t.cols))
      return false;
    if (tok.isPunct('=')) {
      advance();
      if (!enumWord(t.init, "an initialiser (const, uniform, normal, xavier, kaiming or eye)"))
        return false;
      if (t.init == InitKind::Const &&
          !(punct('(') && initArg(t.initA, t.initASlot, "the initial value") && punct(')')))
        return false;
      if ((t.init == InitKind::Uniform || t.init == InitKind::Normal) &&
          !(punct('(') && initArg(t.initA, t.initASlot, "the first argument") && punct(',') &&
            initArg(t.initB, t.initBSlot, "the second argument") && punct(')')))
        return false;
    }
    m.tensors.push_back(std::move(t));
    locs.tensors.push_back(nameTok.loc());
    return true;
  }

  /// An initialiser's argument: a number, or hp[N] for one read at run time.
  bool initArg(float &value, int32_t &slotOut, const char *what) {
    if (tok.isWord("hp"))
      return slot(slotOut);
    return real(value, what);
  }

  /// %name of a declared tensor.
  bool tensorRef(TensorId &out, const char *what = "a tensor, as %name") {
    if (!tok.is(Kind::Tensor))
      return expected(what);
    auto it = tensorIds.find(tok.value);
    if (it == tensorIds.end())
      return error(tok, "use of undeclared tensor %" + formatName(tok.value));
    out = it->second;
    advance();
    return true;
  }

  bool ioRef(const char *role, TensorId &out) {
    if (!keyword(role))
      return false;
    if (tok.isWord("none")) {
      advance();
      out = -1;
      return true;
    }
    return tensorRef(out, "a tensor, as %name, or 'none'");
  }

  bool io() {
    if (seenIo)
      return error(tok, "the module's io is given twice");
    seenIo = true;
    advance();
    return ioRef("input", m.input) && inputImage() && ioRef("target", m.target) &&
           ioRef("predict", m.predict) && ioRef("loss", m.loss);
  }

  /// `image [C, H, W]` after the input; optional (a vector input).
  bool inputImage() {
    if (!tok.isWord("image"))
      return true;
    advance();
    int64_t c = 0, h = 0, w = 0;
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    if (!punct('[') || !integer(c, 1, kMax, "the channels") || !punct(',') ||
        !integer(h, 1, kMax, "the height") || !punct(',') || !integer(w, 1, kMax, "the width") ||
        !punct(']'))
      return false;
    m.inputChannels = (int32_t)c, m.inputHeight = (int32_t)h, m.inputWidth = (int32_t)w;
    return true;
  }

  //===-- Blocks and ops -----------------------------------------------===//

  bool block() {
    bool train = tok.isWord("train");
    SourceLocations::BlockLocations bl;
    bl.block = tok.loc();
    advance();
    Block b;
    if (!keyword("block") || !name(b.name, "the block's name") || !keyword("steps") ||
        !integer(b.steps, std::numeric_limits<int32_t>::min(), "the number of steps"))
      return false;
    if (tok.isWord("expr")) {
      advance();
      if (!expr(b.stepsExpr, 0))
        return false;
    }
    if (tok.isWord("reset")) {
      advance();
      b.resetState = true;
    }
    if (tok.isWord("monitors")) {
      advance();
      b.monitorsOnly = true;
    }
    if (tok.isWord("after")) {
      advance();
      if (!keyword("warmup"))
        return false;
      b.afterWarmup = true;
    }
    if (!punct('{'))
      return false;
    if (tok.isWord("prologue")) {
      advance();
      if (!punct('{') || !ops(b.prologue, bl.prologueOps, bl.prologueOutputs) || !punct('}'))
        return false;
    }
    if (!ops(b.ops, bl.ops, bl.outputs))
      return false;
    advance();
    (train ? m.trainBlocks : m.evalBlocks).push_back(std::move(b));
    (train ? locs.trainBlocks : locs.evalBlocks).push_back(std::move(bl));
    return true;
  }

  /// Ops up to (not past) the closing '}'.
  bool ops(std::vector<Op> &out, std::vector<SMLoc> &opLocs,
           std::vector<std::vector<SMLoc>> &outputLocs) {
    while (!tok.isPunct('}')) {
      opLocs.push_back(tok.loc());
      outputLocs.emplace_back();
      if (tok.isWord("gemm")) {
        GemmOp g;
        if (!gemm(g))
          return false;
        out.push_back(g);
      } else if (tok.isWord("map") || tok.isWord("rowreduce") || tok.isWord("colreduce")) {
        KernelOp k;
        if (!kernel(k, outputLocs.back()))
          return false;
        out.push_back(std::move(k));
      } else if (tok.isWord("rotate")) {
        //   rotate %first COUNT
        advance();
        RotateOp r;
        if (!tensorRef(r.first, "the first tensor of the history, as %name") ||
            !integer(r.count, std::numeric_limits<int32_t>::min(), "the number of tensors"))
          return false;
        out.push_back(r);
      } else if (tok.isWord("replay")) {
        advance();
        ReplayOp r;
        if (!tensorRef(r.tensor))
          return false;
        out.push_back(r);
      } else if (tok.isWord("grad")) {
        //   grad %out = %loss wrt %weight
        advance();
        GradOp d;
        if (!tensorRef(d.out, "the gradient, as %name") || !punct('=') ||
            !tensorRef(d.loss, "the loss, as %name") || !keyword("wrt") ||
            !tensorRef(d.weight, "the weight, as %name"))
          return false;
        out.push_back(d);
      } else if (std::optional<ImageOp::Kind> kind = imageKind()) {
        advance();
        ImageOp i;
        i.kind = *kind;
        if (!image(i))
          return false;
        out.push_back(i);
      } else {
        return expected("an op ('gemm', 'map', 'rowreduce', 'colreduce', 'rotate', 'replay', "
                        "'grad', 'im2col', 'col2im', 'maxpool', 'maxpool.adjoint' or "
                        "'reshape') or '}'");
      }
    }
    return true;
  }

  std::optional<ImageOp::Kind> imageKind() const {
    for (ImageOp::Kind k : {ImageOp::Kind::Im2col, ImageOp::Kind::Col2im, ImageOp::Kind::MaxPool,
                            ImageOp::Kind::MaxPoolAdjoint, ImageOp::Kind::Reshape})
      if (tok.isWord(spelling(k)))
        return k;
    return std::nullopt;
  }

  //   KIND %out = %in[, %aux] [window [C, H, W] kernel [KH, KW] stride S pad P]
  bool image(ImageOp &i) {
    if (!tensorRef(i.out, "the result, as %name") || !punct('=') ||
        !tensorRef(i.in, "the operand, as %name"))
      return false;
    if (i.kind == ImageOp::Kind::MaxPoolAdjoint &&
        (!punct(',') || !tensorRef(i.aux, "the pooled values' adjoint, as %name")))
      return false;
    if (i.kind == ImageOp::Kind::Reshape)
      return true;
    Window &w = i.window;
    constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
    auto extent = [&](int32_t &v, const char *what) {
      int64_t x = 0;
      if (!integer(x, 1, kMax, what))
        return false;
      v = (int32_t)x;
      return true;
    };
    int64_t pad = 0;
    if (!keyword("window") || !punct('[') || !extent(w.channels, "the channels") || !punct(',') ||
        !extent(w.height, "the height") || !punct(',') || !extent(w.width, "the width") ||
        !punct(']') || !keyword("kernel") || !punct('[') ||
        !extent(w.kernelH, "the kernel's height") || !punct(',') ||
        !extent(w.kernelW, "the kernel's width") || !punct(']') || !keyword("stride") ||
        !extent(w.stride, "the stride") || !keyword("pad") || !integer(pad, 0, kMax, "the padding"))
      return false;
    w.pad = (int32_t)pad;
    return true;
  }

  /// An optional ^T.
  bool transposed(bool &out) {
    out = tok.isPunct('^');
    if (!out)
      return true;
    advance();
    return keyword("T");
  }

  //   gemm %C = [alpha *] [hp[N] *] %A[^T] x %B[^T] [+ [beta *] [hp[M] *] %C]
  // (beta is 1 when only hp[M] is written)
  bool gemm(GemmOp &g) {
    advance();
    if (!tensorRef(g.c, "the gemm's result, as %name") || !punct('='))
      return false;
    if (startsNumber() && !(real(g.alpha, "alpha") && punct('*')))
      return false;
    if (tok.isWord("hp") && !(slot(g.alphaSlot) && punct('*')))
      return false;
    if (!tensorRef(g.a, "the gemm's left operand, as %name") || !transposed(g.transA) ||
        !keyword("x") || !tensorRef(g.b, "the gemm's right operand, as %name") ||
        !transposed(g.transB))
      return false;
    if (!tok.isPunct('+'))
      return true;
    advance();
    TensorId c = -1;
    g.beta = 1;
    if (startsNumber() && !(real(g.beta, "beta") && punct('*')))
      return false;
    if (tok.isWord("hp") && !(slot(g.betaSlot) && punct('*')))
      return false;
    Token at = tok;
    if (!tensorRef(c, "the gemm's result, as %name"))
      return false;
    if (c != g.c)
      return error(at, "a gemm can only accumulate into its own result %" +
                           formatName(m.tensors[g.c].name));
    return true;
  }

  bool slot(int32_t &out) {
    return keyword("hp") && punct('[') && integer(out, 0, "a runtime scalar slot") && punct(']');
  }

  bool kernel(KernelOp &k, std::vector<SMLoc> &outputLocs) {
    k.kind = *fromSpelling<KernelOp::Kind>(tok.value);
    advance();
    // A colreduce always sums and prints no reduction; one may still be
    // written, for the verifier to judge.
    if (k.kind != KernelOp::Kind::Map && tok.is(Kind::Word) &&
        !enumWord(k.reduce, "'sum' or 'max'"))
      return false;
    if (!tok.is(Kind::Kernel))
      return expected(k.kind == KernelOp::Kind::RowReduce ? "'sum', 'max' or a kernel name"
                                                          : "a kernel name, as @name");
    k.name = tok.value;
    advance();
    if (!shape(k.rows, k.cols) || !punct('{'))
      return false;
    while (!tok.isPunct('}')) {
      outputLocs.push_back(tok.loc());
      if (!output(k))
        return false;
    }
    advance();
    return true;
  }

  //   [local] $N %tensor = expr
  bool output(KernelOp &k) {
    KernelOutput o;
    if (tok.isWord("local")) {
      o.stored = false;
      advance();
    }
    if (!tok.is(Kind::Local))
      return expected(o.stored ? "an output ($N), 'local' or '}'" : "an output number ($N)");
    if (tok.value != std::to_string(k.outputs.size()))
      return error(tok, "output " + Twine(tok.text) + " is out of order; expected $" +
                            Twine(k.outputs.size()));
    advance();
    if (!tensorRef(o.tensor) || !punct('=') || !expr(o.value, 0))
      return false;
    k.outputs.push_back(std::move(o));
    return true;
  }

  bool expr(ExprPtr &out, int depth) {
    if (depth >= kMaxExpressionDepth)
      return error(tok,
                   "expression nested more than " + Twine(kMaxExpressionDepth) + " levels deep");
    if (startsNumber()) {
      float v = 0;
      if (!real(v, "a number"))
        return false;
      out = Expr::constant(v);
      return true;
    }
    if (tok.isWord("hp")) {
      int32_t s = 0;
      if (!slot(s))
        return false;
      out = Expr::slot(s);
      return true;
    }
    if (tok.is(Kind::Local)) {
      int32_t index = 0;
      auto [end, ec] =
          std::from_chars(tok.value.data(), tok.value.data() + tok.value.size(), index);
      if (ec != std::errc())
        return error(tok, "output number " + Twine(tok.text) + " is too large");
      advance();
      out = Expr::local(index);
      return true;
    }
    if (tok.is(Kind::Tensor))
      return load(out);
    if (std::optional<ContextField> f =
            tok.is(Kind::Word) ? fromSpelling<ContextField>(tok.value) : std::nullopt) {
      advance();
      out = std::make_unique<Expr>();
      out->op = ExprOp::Context;
      out->index = static_cast<int32_t>(*f);
      return true;
    }
    std::optional<ExprOp> op = tok.is(Kind::Word) ? fromSpelling<ExprOp>(tok.value) : std::nullopt;
    if (!op || (arity(*op) == 0 && !isDraw(*op))) // `normal[3]()` draws from no operands
      return expected("an expression");
    Token opTok = tok;
    advance();
    auto e = std::make_unique<Expr>();
    e->op = *op;
    //   poisson[SITE](...)
    if (isDraw(*op) &&
        !(punct('[') && integer(e->index, std::numeric_limits<int32_t>::min(), "a draw site") &&
          punct(']')))
      return false;
    if (!punct('('))
      return false;
    for (bool none = tok.isPunct(')'); !none;) {
      ExprPtr operand;
      if (!expr(operand, depth + 1))
        return false;
      e->operands.push_back(std::move(operand));
      if (!tok.isPunct(','))
        break;
      advance();
    }
    if (!punct(')'))
      return false;
    if ((int)e->operands.size() != arity(*op))
      return error(opTok, "'" + Twine(spelling(*op)) + "' takes " + Twine(arity(*op)) +
                              " operands, but " + Twine(e->operands.size()) + " are given");
    out = std::move(e);
    return true;
  }

  //   %name, %name[row], %name[col] or %name[0]
  bool load(ExprPtr &out) {
    TensorId t = -1;
    if (!tensorRef(t))
      return false;
    Access a = Access::Full;
    if (tok.isPunct('[')) {
      advance();
      std::optional<Access> access = tok.is(Kind::Word) || tok.is(Kind::Number)
                                         ? fromSpelling<Access>(tok.text)
                                         : std::nullopt;
      if (!access || *access == Access::Full)
        return expected("'row', 'col' or '0'");
      a = *access;
      advance();
      if (!punct(']'))
        return false;
    }
    out = Expr::load(t, a);
    return true;
  }

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

} // namespace

std::optional<Module> parseModule(llvm::SourceMgr &sourceMgr, llvm::raw_ostream &errs,
                                  SourceLocations *locations) {
  SourceLocations ignored;
  return Parser(sourceMgr, errs, locations ? *locations : ignored).run();
}

} // namespace bdl::ir
