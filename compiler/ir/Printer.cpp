//===- Printer.cpp - Textual form of the bdl IR ---------------------------===//
//
//   tensor %W1 : weight [hidden, 784] = xavier
//   block forward steps 1 {
//     gemm %mm = %x · %W1ᵀ
//     map [batch, hidden] { %h = sigmoid(add(%mm, %b1[col])) }
//   }
//
//===----------------------------------------------------------------------===//
#include "ir/Printer.h"
#include "support/Format.h"

#include "llvm/Support/FormatVariadic.h"

namespace bdl::ir {
namespace {

class Printer {
public:
  Printer(const Module &m, llvm::raw_ostream &os) : m(m), os(os) {}

  void module() {
    os << "module " << m.name << " dataset " << m.dataset << " epochs " << m.epochs << " batch "
       << m.batch << " validation " << m.validation << "\n";
    for (size_t i = 0; i < m.params.size(); ++i)
      param(m.params[i], i);
    for (const Tensor &t : m.tensors)
      tensor(t);
    os << "io input %" << name(m.input) << " target %" << name(m.target) << " predict %"
       << name(m.predict) << " loss " << (m.loss >= 0 ? "%" + name(m.loss) : "none") << "\n";
    for (const Block &b : m.trainBlocks)
      block("train", b);
    for (const Block &b : m.evalBlocks)
      block("eval", b);
  }

private:
  std::string name(TensorId t) const {
    return t >= 0 && t < (TensorId)m.tensors.size() ? m.tensors[t].name : "<invalid>";
  }

  std::string dim(Dim d) const {
    switch (d.kind) {
    case Dim::Kind::Const:
      return std::to_string(d.value);
    case Dim::Kind::Batch:
      return "batch";
    case Dim::Kind::Param:
      return d.value < (int64_t)m.params.size() ? m.params[d.value].name : "<invalid>";
    }
    return "?";
  }

  void param(const Param &p, size_t index) {
    static const char *types[] = {"real", "int", "bool"};
    static const char *tunes[] = {"", "linear", "log", "int", "bool"};
    os << "param " << p.name << " : " << types[(int)p.type] << " = " << formatNumber(p.value);
    if (p.tune != TuneKind::None)
      os << " tune " << tunes[(int)p.tune] << " [" << formatNumber(p.lo) << ", "
         << formatNumber(p.hi) << "]";
    os << "  ; hp[" << kFirstParamSlot + index << "]\n";
  }

  void tensor(const Tensor &t) {
    static const char *roles[] = {"input", "target", "weight",   "fixed",
                                  "state", "temp",   "optimizer"};
    os << "tensor %" << t.name << " : " << roles[(int)t.role] << " [" << dim(t.rows) << ", "
       << dim(t.cols) << "]";
    switch (t.init) {
    case InitKind::Zero:
      break;
    case InitKind::Const:
      os << " = const(" << formatNumber(t.initA) << ")";
      break;
    case InitKind::Uniform:
      os << " = uniform(" << formatNumber(t.initA) << ", " << formatNumber(t.initB) << ")";
      break;
    case InitKind::Normal:
      os << " = normal(" << formatNumber(t.initA) << ", " << formatNumber(t.initB) << ")";
      break;
    case InitKind::Xavier:
      os << " = xavier";
      break;
    case InitKind::Kaiming:
      os << " = kaiming";
      break;
    }
    os << "\n";
  }

  void block(const char *schedule, const Block &b) {
    os << schedule << " block " << b.name << " steps " << b.steps << " {\n";
    for (const Op &op : b.ops) {
      if (auto *g = std::get_if<GemmOp>(&op))
        gemm(*g);
      else
        kernel(std::get<KernelOp>(op));
    }
    os << "}\n";
  }

  void gemm(const GemmOp &g) {
    os << "  gemm %" << name(g.c) << " = ";
    if (g.alpha != 1)
      os << formatNumber(g.alpha) << " * ";
    if (g.alphaSlot >= 0)
      os << "hp[" << g.alphaSlot << "] * ";
    os << "%" << name(g.a) << (g.transA ? "^T" : "") << " x %" << name(g.b)
       << (g.transB ? "^T" : "");
    if (g.readsC()) {
      os << " + ";
      if (g.beta != 1 || g.betaSlot < 0)
        os << formatNumber(g.beta) << " * ";
      if (g.betaSlot >= 0)
        os << "hp[" << g.betaSlot << "] * ";
      os << "%" << name(g.c);
    }
    os << "\n";
  }

  void kernel(const KernelOp &k) {
    static const char *kinds[] = {"map", "rowreduce", "colreduce"};
    os << "  " << kinds[(int)k.kind];
    if (k.kind == KernelOp::Kind::RowReduce)
      os << (k.reduce == KernelOp::Reduce::Max ? " max" : " sum");
    os << " @" << k.name << " [" << dim(k.rows) << ", " << dim(k.cols) << "] {\n";
    for (size_t i = 0; i < k.outputs.size(); ++i) {
      const KernelOutput &o = k.outputs[i];
      os << "    " << (o.stored ? "" : "local ") << "$" << i << " %" << name(o.tensor) << " = ";
      expr(*o.value);
      os << "\n";
    }
    os << "  }\n";
  }

  void expr(const Expr &e) {
    switch (e.op) {
    case ExprOp::Const:
      os << formatNumber(e.value);
      return;
    case ExprOp::Slot:
      os << "hp[" << e.index << "]";
      return;
    case ExprOp::Local:
      os << "$" << e.index;
      return;
    case ExprOp::Load: {
      static const char *access[] = {"", "[row]", "[col]", "[0]"};
      os << "%" << name(e.index) << access[(int)e.access];
      return;
    }
    default:
      break;
    }
    os << spelling(e.op) << "(";
    for (size_t i = 0; i < e.operands.size(); ++i) {
      if (i)
        os << ", ";
      expr(*e.operands[i]);
    }
    os << ")";
  }

  const Module &m;
  llvm::raw_ostream &os;
};

} // namespace

void print(const Module &m, llvm::raw_ostream &os) { Printer(m, os).module(); }

} // namespace bdl::ir
