//===- Printer.cpp - Textual form of the bdl IR ---------------------------===//
//
//   module mlp dataset mnist epochs 3 batch 64 validation 0 objective maximize(accuracy)
//   source "mlp.bdl"
//   param hidden : int = 16  ; hp[3]
//   tensor %W1 : weight [hidden, 784] = xavier
//   io input %x target %t predict %y loss none
//   train block forward steps 1 {
//     gemm %mm = %x x %W1^T
//     map @h [batch, hidden] {
//       $0 %h = sigmoid(add(%mm, %b1[col]))
//     }
//   }
//
// and for dynamics (a derived param, an initialiser argument read from a
// slot, a step count drawn per batch, state reset, a prologue, a history
// rotation, replayable spikes, draws with their site in brackets):
//
//   param tau_m : real = 20  ; hp[3]
//   param decay : real = 0.95 derive exp(div(-1, hp[3]))  ; hp[4]
//   tensor %W : weight [10, 784] = uniform(-0.1, hp[4])
//   train block settle steps 1 expr wald[0](hp[3], 2) reset {
//     prologue {
//       gemm %drive = %x x %W^T
//     }
//     rotate %v 2
//     map @spike [batch, 10] {
//       $0 %s = bernoulli[1](mul(%v.1, div(ctx.step, ctx.steps)))
//     }
//     replay %s
//   }
//
// An op read only under `if`s on params carries its guard (GuardOps.cpp):
//
//     gemm %mm = %psp x %W1 when hp[10] and not hp[11] or hp[12]
//
// Everything the Module holds is printed, numbers exactly, so that
// ir/Parser.cpp reads the text back into the same module (bdl-opt relies on
// print -> parse -> print being the identity).
//
//===----------------------------------------------------------------------===//
#include "ir/Printer.h"
#include "ir/ExprInfo.h"
#include "ir/Format.h"

namespace bdl::ir {
namespace {

class Printer {
  friend std::string bdl::ir::kernelBody(const Module &m, const KernelOp &k);

public:
  Printer(const Module &m, llvm::raw_ostream &os) : m(m), os(os) {}

  void module() {
    os << "module " << formatName(m.name) << " dataset " << formatName(m.dataset) << " epochs "
       << m.epochs << " batch " << m.batch << " validation " << m.validation;
    if (m.warmup)
      os << " warmup " << m.warmup;
    os << " objective " << spelling(m.objective) << "\n";
    if (!m.sourceFile.empty())
      os << "source " << quoted(m.sourceFile) << "\n";
    for (size_t i = 0; i < m.params.size(); ++i)
      param(m.params[i], i);
    for (const Tensor &t : m.tensors)
      tensor(t);
    os << "io input " << ref(m.input);
    if (m.inputChannels)
      os << " image [" << m.inputChannels << ", " << m.inputHeight << ", " << m.inputWidth << "]";
    os << " target " << ref(m.target) << " predict " << ref(m.predict) << " loss " << ref(m.loss)
       << "\n";
    for (const Monitor &mon : m.monitors)
      os << "monitor " << formatName(mon.name) << " " << ref(mon.tensor) << "\n";
    for (const Block &b : m.trainBlocks)
      block("train", b);
    for (const Block &b : m.evalBlocks)
      block("eval", b);
  }

private:
  /// A string that is always quoted (a path is never a name).
  static std::string quoted(const std::string &s) {
    std::string q = formatName(s);
    return q.front() == '"' ? q : "\"" + q + "\"";
  }

  std::string name(TensorId t) const {
    if (t >= 0 && t < (TensorId)m.tensors.size())
      return "%" + formatName(m.tensors[t].name);
    return "%<invalid #" + std::to_string(t) + ">";
  }

  std::string ref(TensorId t) const { return t == -1 ? "none" : name(t); }

  void param(const Param &p, size_t index) {
    os << "param " << formatName(p.name) << " : " << spelling(p.type) << " = "
       << formatExact(p.value);
    // The range of an untuned param means nothing and is not kept.
    if (p.tune == TuneKind::Choice) {
      os << " tune choice [";
      for (size_t i = 0; i < p.choices.size(); ++i)
        os << (i ? ", " : "") << formatExact(p.choices[i]);
      os << "]";
    } else if (p.tune != TuneKind::None) {
      os << " tune " << spelling(p.tune) << " [" << formatExact(p.lo) << ", " << formatExact(p.hi)
         << "]";
    }
    if (p.range != ParamRange::Any)
      os << " range " << spelling(p.range) << " " << quoted(p.rangeUse);
    if (p.derivation) {
      os << " derive ";
      expr(*p.derivation);
    }
    os << "  ; hp[" << kFirstParamSlot + index << "]\n";
  }

  void tensor(const Tensor &t) {
    os << "tensor %" << formatName(t.name) << " : " << spelling(t.role) << " "
       << formatShape(t.rows, t.cols, m.params);
    switch (t.init) {
    case InitKind::Zero:
      break;
    case InitKind::Const:
      os << " = const(" << initArg(t.initA, t.initASlot) << ")";
      break;
    case InitKind::Uniform:
    case InitKind::Normal:
      os << " = " << spelling(t.init) << "(" << initArg(t.initA, t.initASlot) << ", "
         << initArg(t.initB, t.initBSlot) << ")";
      break;
    case InitKind::Xavier:
    case InitKind::Kaiming:
    case InitKind::Eye:
      os << " = " << spelling(t.init);
      break;
    }
    os << "\n";
  }

  /// An argument of an initialiser: the slot it reads, if any, else its value.
  static std::string initArg(float value, int32_t slot) {
    return slot >= 0 ? "hp[" + std::to_string(slot) + "]" : formatExact(value);
  }

  void block(const char *schedule, const Block &b) {
    os << schedule << " block " << formatName(b.name) << " steps " << b.steps;
    if (b.stepsExpr) {
      os << " expr ";
      expr(*b.stepsExpr);
    }
    if (b.resetState)
      os << " reset";
    if (b.monitorsOnly)
      os << " monitors";
    if (b.afterWarmup)
      os << " after warmup";
    os << " {\n";
    if (!b.prologue.empty()) {
      os << "  prologue {\n";
      ops(b.prologue, "    ");
      os << "  }\n";
    }
    ops(b.ops, "  ");
    os << "}\n";
  }

  void ops(const std::vector<Op> &list, const char *indent) {
    for (const Op &op : list) {
      os << indent;
      if (auto *g = std::get_if<GemmOp>(&op))
        gemm(*g);
      else if (auto *k = std::get_if<KernelOp>(&op))
        kernel(*k, indent);
      else if (auto *r = std::get_if<RotateOp>(&op)) {
        os << "rotate " << name(r->first) << " " << r->count;
        guard(r->guard);
        os << "\n";
      } else if (auto *d = std::get_if<GradOp>(&op))
        os << "grad " << name(d->out) << " = " << name(d->loss) << " wrt " << name(d->weight)
           << "\n";
      else if (auto *i = std::get_if<ImageOp>(&op))
        image(*i);
      else
        os << "replay " << name(std::get<ReplayOp>(op).tensor) << "\n";
    }
  }

  //   im2col %out = %in window [C, H, W] kernel [KH, KW] stride S pad P
  //   maxpool.adjoint %out = %in, %aux window ...
  //   reshape %out = %in
  void image(const ImageOp &i) {
    os << spelling(i.kind) << " " << name(i.out) << " = " << name(i.in);
    if (i.aux >= 0)
      os << ", " << name(i.aux);
    if (i.kind != ImageOp::Kind::Reshape) {
      const Window &w = i.window;
      os << " window [" << w.channels << ", " << w.height << ", " << w.width << "] kernel ["
         << w.kernelH << ", " << w.kernelW << "] stride " << w.stride << " pad " << w.pad;
    }
    os << "\n";
  }

  void gemm(const GemmOp &g) {
    os << "gemm " << name(g.c) << " = ";
    if (g.alpha != 1)
      os << formatExact(g.alpha) << " * ";
    if (g.alphaSlot >= 0)
      os << "hp[" << g.alphaSlot << "] * ";
    os << name(g.a) << (g.transA ? "^T" : "") << " x " << name(g.b) << (g.transB ? "^T" : "");
    if (g.readsC()) {
      os << " + ";
      if (g.beta != 1 || g.betaSlot < 0)
        os << formatExact(g.beta) << " * ";
      if (g.betaSlot >= 0)
        os << "hp[" << g.betaSlot << "] * ";
      os << name(g.c);
    }
    guard(g.guard);
    os << "\n";
  }

  //   when hp[10] and not hp[11] or hp[12]
  void guard(const Guard &g) {
    if (g.always())
      return;
    os << " when ";
    for (size_t t = 0; t < g.terms.size(); ++t) {
      for (size_t l = 0; l < g.terms[t].size(); ++l)
        os << (l ? " and " : "") << (g.terms[t][l].nonzero ? "" : "not ") << "hp["
           << g.terms[t][l].slot << "]";
      os << (t + 1 < g.terms.size() ? " or " : "");
    }
  }

  void kernel(const KernelOp &k, const std::string &indent, bool withName = true) {
    os << spelling(k.kind);
    // A colreduce always sums (the verifier insists), so only a rowreduce
    // says how it reduces.
    if (k.kind == KernelOp::Kind::RowReduce)
      os << " " << spelling(k.reduce);
    if (withName)
      os << " @" << formatName(k.name);
    os << " " << formatShape(k.rows, k.cols, m.params) << " {\n";
    for (size_t i = 0; i < k.outputs.size(); ++i) {
      const KernelOutput &o = k.outputs[i];
      os << indent << "  " << (o.stored ? "" : "local ") << "$" << i << " " << name(o.tensor)
         << " = ";
      if (o.value)
        expr(*o.value);
      else
        os << "<null>";
      os << "\n";
    }
    os << indent << "}\n";
  }

  void expr(const Expr &e) {
    switch (e.op) {
    case ExprOp::Const:
      os << formatExact(e.value);
      return;
    case ExprOp::Slot:
      os << "hp[" << e.index << "]";
      return;
    case ExprOp::Local:
      os << "$" << e.index;
      return;
    case ExprOp::Load:
      os << name(e.index);
      if (e.access != Access::Full)
        os << "[" << spelling(e.access) << "]";
      return;
    case ExprOp::Context:
      os << spelling(static_cast<ContextField>(e.index));
      return;
    default:
      break;
    }
    os << spelling(e.op);
    if (isDraw(e.op))
      os << "[" << e.index << "]";
    os << "(";
    for (size_t i = 0; i < e.operands.size(); ++i) {
      if (i)
        os << ", ";
      if (e.operands[i])
        expr(*e.operands[i]);
      else
        os << "<null>";
    }
    os << ")";
  }

  const Module &m;
  llvm::raw_ostream &os;
};

} // namespace

void print(const Module &m, llvm::raw_ostream &os) { Printer(m, os).module(); }

std::string kernelBody(const Module &m, const KernelOp &k) {
  std::string text;
  llvm::raw_string_ostream os(text);
  Printer(m, os).kernel(k, "", /*withName=*/false);
  return text;
}

} // namespace bdl::ir
