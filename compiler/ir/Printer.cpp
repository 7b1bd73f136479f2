//===- Printer.cpp - Textual form of the bdl IR ---------------------------===//
//
//   module mlp dataset mnist epochs 3 batch 64 validation 0
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
// Everything the Module holds is printed, numbers exactly, so that
// ir/Parser.cpp reads the text back into the same module (bdl-opt relies on
// print -> parse -> print being the identity).
//
//===----------------------------------------------------------------------===//
#include "ir/Printer.h"
#include "ir/Format.h"

namespace bdl::ir {
namespace {

class Printer {
public:
  Printer(const Module &m, llvm::raw_ostream &os) : m(m), os(os) {}

  void module() {
    os << "module " << formatName(m.name) << " dataset " << formatName(m.dataset) << " epochs "
       << m.epochs << " batch " << m.batch << " validation " << m.validation << "\n";
    if (!m.sourceFile.empty())
      os << "source " << quoted(m.sourceFile) << "\n";
    for (size_t i = 0; i < m.params.size(); ++i)
      param(m.params[i], i);
    for (const Tensor &t : m.tensors)
      tensor(t);
    os << "io input " << ref(m.input) << " target " << ref(m.target) << " predict "
       << ref(m.predict) << " loss " << ref(m.loss) << "\n";
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
    if (p.tune != TuneKind::None)
      os << " tune " << spelling(p.tune) << " [" << formatExact(p.lo) << ", " << formatExact(p.hi)
         << "]";
    os << "  ; hp[" << kFirstParamSlot + index << "]\n";
  }

  void tensor(const Tensor &t) {
    os << "tensor %" << formatName(t.name) << " : " << spelling(t.role) << " "
       << formatShape(t.rows, t.cols, m.params);
    switch (t.init) {
    case InitKind::Zero:
      break;
    case InitKind::Const:
      os << " = const(" << formatExact(t.initA) << ")";
      break;
    case InitKind::Uniform:
    case InitKind::Normal:
      os << " = " << spelling(t.init) << "(" << formatExact(t.initA) << ", " << formatExact(t.initB)
         << ")";
      break;
    case InitKind::Xavier:
    case InitKind::Kaiming:
      os << " = " << spelling(t.init);
      break;
    }
    os << "\n";
  }

  void block(const char *schedule, const Block &b) {
    os << schedule << " block " << formatName(b.name) << " steps " << b.steps << " {\n";
    for (const Op &op : b.ops) {
      if (auto *g = std::get_if<GemmOp>(&op))
        gemm(*g);
      else
        kernel(std::get<KernelOp>(op));
    }
    os << "}\n";
  }

  void gemm(const GemmOp &g) {
    os << "  gemm " << name(g.c) << " = ";
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
    os << "\n";
  }

  void kernel(const KernelOp &k) {
    os << "  " << spelling(k.kind);
    // A colreduce always sums (the verifier insists), so only a rowreduce
    // says how it reduces.
    if (k.kind == KernelOp::Kind::RowReduce)
      os << " " << spelling(k.reduce);
    os << " @" << formatName(k.name) << " " << formatShape(k.rows, k.cols, m.params) << " {\n";
    for (size_t i = 0; i < k.outputs.size(); ++i) {
      const KernelOutput &o = k.outputs[i];
      os << "    " << (o.stored ? "" : "local ") << "$" << i << " " << name(o.tensor) << " = ";
      if (o.value)
        expr(*o.value);
      else
        os << "<null>";
      os << "\n";
    }
    os << "  }\n";
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
    default:
      break;
    }
    os << spelling(e.op) << "(";
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

} // namespace bdl::ir
