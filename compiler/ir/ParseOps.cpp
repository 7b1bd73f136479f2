//===- ir/ParseOps.cpp - The textual IR's blocks, ops and expressions ----===//
//
// The parser's rules below the declarations (ir/ParserImpl.h): blocks and
// their prologues, GEMM, kernel, image, rotate and replay ops, expressions.
//
//===----------------------------------------------------------------------===//
#include "ir/ParserImpl.h"

namespace bdl::ir::parser {

bool Parser::block() {
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

bool Parser::ops(std::vector<Op> &out, std::vector<SMLoc> &opLocs,
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
          !integer(r.count, std::numeric_limits<int32_t>::min(), "the number of tensors") ||
          !guard(r.guard))
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

std::optional<ImageOp::Kind> Parser::imageKind() const {
  for (ImageOp::Kind k : {ImageOp::Kind::Im2col, ImageOp::Kind::Col2im, ImageOp::Kind::MaxPool,
                          ImageOp::Kind::MaxPoolAdjoint, ImageOp::Kind::Reshape})
    if (tok.isWord(spelling(k)))
      return k;
  return std::nullopt;
}

bool Parser::image(ImageOp &i) {
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

bool Parser::transposed(bool &out) {
  out = tok.isPunct('^');
  if (!out)
    return true;
  advance();
  return keyword("T");
}

bool Parser::gemm(GemmOp &g) {
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
    return guard(g.guard);
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
  return guard(g.guard);
}

//   [when [not] hp[N] (and [not] hp[N])* (or ...)*]
bool Parser::guard(Guard &g) {
  if (!tok.isWord("when"))
    return true;
  advance();
  g.terms.emplace_back();
  for (;;) {
    GuardLiteral l;
    if (tok.isWord("not")) {
      advance();
      l.nonzero = false;
    }
    if (!tok.isWord("hp"))
      return expected("a param's slot, as hp[N] or not hp[N]");
    if (!slot(l.slot))
      return false;
    g.terms.back().push_back(l);
    if (tok.isWord("and")) {
      advance();
    } else if (tok.isWord("or")) {
      advance();
      g.terms.emplace_back();
    } else {
      return true;
    }
  }
}

bool Parser::slot(int32_t &out) {
  return keyword("hp") && punct('[') && integer(out, 0, "a runtime scalar slot") && punct(']');
}

bool Parser::kernel(KernelOp &k, std::vector<SMLoc> &outputLocs) {
  k.kind = *fromSpelling<KernelOp::Kind>(tok.value);
  advance();
  // A colreduce always sums and prints no reduction; one may still be
  // written, for the verifier to judge.
  if (k.kind != KernelOp::Kind::Map && tok.is(Kind::Word) && !enumWord(k.reduce, "'sum' or 'max'"))
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

bool Parser::output(KernelOp &k) {
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

bool Parser::expr(ExprPtr &out, int depth) {
  if (depth >= kMaxExpressionDepth)
    return error(tok, "expression nested more than " + Twine(kMaxExpressionDepth) + " levels deep");
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
    auto [end, ec] = std::from_chars(tok.value.data(), tok.value.data() + tok.value.size(), index);
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

bool Parser::load(ExprPtr &out) {
  TensorId t = -1;
  if (!tensorRef(t))
    return false;
  Access a = Access::Full;
  if (tok.isPunct('[')) {
    advance();
    std::optional<Access> access =
        tok.is(Kind::Word) || tok.is(Kind::Number) ? fromSpelling<Access>(tok.text) : std::nullopt;
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

} // namespace bdl::ir::parser
