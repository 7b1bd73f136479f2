//===- ir/Parser.cpp - Reads the textual IR back into a Module -----------===//
//
// The parser's tokens and errors, and the module's declarations: header,
// params, tensors, io (ir/ParserImpl.h).
//
//===----------------------------------------------------------------------===//
#include "ir/ParserImpl.h"

namespace bdl::ir {

namespace parser {

bool Parser::error(const Token &at, const Twine &message) {
  llvm::SMRange range(at.loc(), SMLoc::getFromPointer(at.text.data() + at.text.size()));
  sm.PrintMessage(errs, at.loc(), llvm::SourceMgr::DK_Error, message,
                  at.text.size() > 1 ? llvm::ArrayRef<llvm::SMRange>(range)
                                     : llvm::ArrayRef<llvm::SMRange>());
  return false;
}

void Parser::note(SMLoc at, const Twine &message) {
  sm.PrintMessage(errs, at, llvm::SourceMgr::DK_Note, message);
}

bool Parser::expected(const Twine &what) {
  if (tok.is(Kind::Error))
    return error(tok, tok.value);
  if (tok.is(Kind::End))
    return error(tok, "expected " + what + ", found the end of the file");
  return error(tok, "expected " + what + ", found '" + tok.text + "'");
}

bool Parser::punct(char c) {
  if (!tok.isPunct(c))
    return expected(Twine("'") + Twine(c) + "'");
  advance();
  return true;
}

bool Parser::keyword(std::string_view w) {
  if (!tok.isWord(w))
    return expected("'" + Twine(w) + "'");
  advance();
  return true;
}

bool Parser::name(std::string &out, const char *what) {
  if (!tok.is(Kind::Word) && !tok.is(Kind::String))
    return expected(what);
  out = tok.value;
  advance();
  return true;
}

bool Parser::integer(int64_t &out, int64_t lo, int64_t hi, const char *what) {
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

bool Parser::startsNumber() const {
  return tok.is(Kind::Number) || tok.isWord("inf") || tok.isWord("nan");
}

bool Parser::header() {
  locs.module = tok.loc();
  return keyword("module") && name(m.name, "the module's name") && keyword("dataset") &&
         name(m.dataset, "a dataset name") && keyword("epochs") &&
         integer(m.epochs, 0, "the number of epochs") && keyword("batch") &&
         integer(m.batch, 0, "the batch size") && keyword("validation") &&
         integer(m.validation, 0, "the validation size") && warmup() && objective();
}

bool Parser::warmup() {
  if (!tok.isWord("warmup"))
    return true;
  advance();
  return integer(m.warmup, 0, "the number of warm-up epochs");
}

bool Parser::objective() {
  if (!tok.isWord("objective"))
    return true;
  advance();
  if (!tok.isWord("maximize") && !tok.isWord("minimize"))
    return expected("'maximize' or 'minimize'");
  m.objective.minimise = tok.isWord("minimize");
  advance();
  return punct('(') && enumWord(m.objective.metric, "a metric (accuracy or loss)") && punct(')');
}

bool Parser::item() {
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

bool Parser::param() {
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

bool Parser::dim(Dim &out) {
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

bool Parser::shape(Dim &rows, Dim &cols) {
  return punct('[') && dim(rows) && punct(',') && dim(cols) && punct(']');
}

bool Parser::tensor() {
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

bool Parser::initArg(float &value, int32_t &slotOut, const char *what) {
  if (tok.isWord("hp"))
    return slot(slotOut);
  return real(value, what);
}

bool Parser::tensorRef(TensorId &out, const char *what) {
  if (!tok.is(Kind::Tensor))
    return expected(what);
  auto it = tensorIds.find(tok.value);
  if (it == tensorIds.end())
    return error(tok, "use of undeclared tensor %" + formatName(tok.value));
  out = it->second;
  advance();
  return true;
}

bool Parser::ioRef(const char *role, TensorId &out) {
  if (!keyword(role))
    return false;
  if (tok.isWord("none")) {
    advance();
    out = -1;
    return true;
  }
  return tensorRef(out, "a tensor, as %name, or 'none'");
}

bool Parser::io() {
  if (seenIo)
    return error(tok, "the module's io is given twice");
  seenIo = true;
  advance();
  return ioRef("input", m.input) && inputImage() && ioRef("target", m.target) &&
         ioRef("predict", m.predict) && ioRef("loss", m.loss);
}

bool Parser::inputImage() {
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

} // namespace parser

std::optional<Module> parseModule(llvm::SourceMgr &sourceMgr, llvm::raw_ostream &errs,
                                  SourceLocations *locations) {
  SourceLocations ignored;
  return parser::Parser(sourceMgr, errs, locations ? *locations : ignored).run();
}

} // namespace bdl::ir
