//===- Verifier.cpp -------------------------------------------------------===//
#include "ir/Verifier.h"

#include <set>

namespace bdl::ir {
namespace {

class Verifier {
public:
  Verifier(const Module &m, llvm::raw_ostream &errs) : m(m), errs(errs) {}

  bool run() {
    for (const Tensor &t : m.tensors) {
      checkDim(t.rows, t.name);
      checkDim(t.cols, t.name);
    }
    checkRole(m.input, Role::Input, "input");
    checkRole(m.target, Role::Target, "target");
    if (!valid(m.predict))
      fail("module has no predict tensor");
    if (m.loss != -1 && !valid(m.loss))
      fail("loss names no tensor");
    schedule("train", m.trainBlocks);
    schedule("eval", m.evalBlocks);
    return ok;
  }

private:
  void fail(const std::string &message) {
    errs << "ir verifier: " << message << "\n";
    ok = false;
  }
  bool valid(TensorId t) const { return t >= 0 && t < (TensorId)m.tensors.size(); }

  void checkDim(Dim d, const std::string &where) {
    if (d.kind == Dim::Kind::Param && (d.value < 0 || d.value >= (int64_t)m.params.size()))
      fail("tensor %" + where + " has a dimension naming no param");
    if (d.kind == Dim::Kind::Const && d.value < 1)
      fail("tensor %" + where + " has a non-positive dimension");
  }

  void checkRole(TensorId t, Role role, const char *what) {
    if (!valid(t) || m.tensors[t].role != role)
      fail(std::string("module's ") + what + " is not a tensor of that role");
  }

  void schedule(const char *name, const std::vector<Block> &blocks) {
    std::set<TensorId> written;
    for (const Block &b : blocks) {
      where = std::string(name) + " block " + b.name;
      if (b.steps < 1)
        fail(where + ": steps must be positive");
      for (const Op &op : b.ops) {
        if (auto *g = std::get_if<GemmOp>(&op))
          gemm(*g, written);
        else
          kernel(std::get<KernelOp>(op), written);
      }
    }
  }

  void read(TensorId t, const std::set<TensorId> &written) {
    if (!valid(t))
      return fail(where + ": reads tensor id " + std::to_string(t) + ", which does not exist");
    if (m.tensors[t].role == Role::Temp && !written.count(t))
      fail(where + ": reads %" + m.tensors[t].name + " before anything writes it");
  }

  void write(TensorId t, std::set<TensorId> &written) {
    if (!valid(t))
      return fail(where + ": writes tensor id " + std::to_string(t) + ", which does not exist");
    Role r = m.tensors[t].role;
    if (r == Role::Input || r == Role::Target || r == Role::Fixed)
      fail(where + ": writes read-only %" + m.tensors[t].name);
    written.insert(t);
  }

  void gemm(const GemmOp &g, std::set<TensorId> &written) {
    read(g.a, written);
    read(g.b, written);
    if (g.readsC())
      read(g.c, written);
    write(g.c, written);
    if (!valid(g.a) || !valid(g.b) || !valid(g.c))
      return;
    const Tensor &A = m.tensors[g.a], &B = m.tensors[g.b], &C = m.tensors[g.c];
    Dim aRows = g.transA ? A.cols : A.rows, aCols = g.transA ? A.rows : A.cols;
    Dim bRows = g.transB ? B.cols : B.rows, bCols = g.transB ? B.rows : B.cols;
    if (!(aCols == bRows) || !(C.rows == aRows) || !(C.cols == bCols))
      fail(where + ": gemm %" + C.name + " has mismatched shapes");
    if (g.alphaSlot >= kFirstParamSlot + (int)m.params.size())
      fail(where + ": gemm alpha reads a runtime scalar that does not exist");
    if (g.betaSlot >= kFirstParamSlot + (int)m.params.size())
      fail(where + ": gemm beta reads a runtime scalar that does not exist");
  }

  void kernel(const KernelOp &k, std::set<TensorId> &written) {
    std::string at = where + ", kernel @" + k.name;
    if (k.outputs.empty())
      fail(at + ": no outputs");
    if (k.kind != KernelOp::Kind::Map && k.outputs.size() != 1)
      fail(at + ": a reduction has exactly one output");
    for (size_t i = 0; i < k.outputs.size(); ++i) {
      const KernelOutput &o = k.outputs[i];
      if (!o.value) {
        fail(at + ": output without a value");
        continue;
      }
      expr(*o.value, k, (int)i, written, at);
      if (!valid(o.tensor))
        continue;
      const Tensor &t = m.tensors[o.tensor];
      bool shapeOk = k.kind == KernelOp::Kind::Map         ? t.rows == k.rows && t.cols == k.cols
                     : k.kind == KernelOp::Kind::RowReduce ? t.rows == k.rows && t.cols.isOne()
                                                           : t.rows.isOne() && t.cols == k.cols;
      if (!shapeOk)
        fail(at + ": output %" + t.name + " does not fit the iteration space");
      if (o.stored)
        write(o.tensor, written);
    }
  }

  void expr(const Expr &e, const KernelOp &k, int output, const std::set<TensorId> &written,
            const std::string &at) {
    if ((int)e.operands.size() != arity(e.op))
      fail(at + ": " + spelling(e.op) + " has the wrong number of operands");
    switch (e.op) {
    case ExprOp::Load: {
      read(e.index, written);
      if (!valid(e.index))
        break;
      const Tensor &t = m.tensors[e.index];
      bool fits = false;
      switch (e.access) {
      case Access::Full:
        fits = t.rows == k.rows && t.cols == k.cols;
        break;
      case Access::Row:
        fits = t.rows == k.rows && t.cols.isOne();
        break;
      case Access::Col:
        fits = t.rows.isOne() && t.cols == k.cols;
        break;
      case Access::Scalar:
        fits = t.rows.isOne() && t.cols.isOne();
        break;
      }
      if (!fits)
        fail(at + ": load of %" + t.name + " does not fit its access");
      break;
    }
    case ExprOp::Local:
      if (e.index < 0 || e.index >= output)
        fail(at + ": local $" + std::to_string(e.index) + " is not an earlier output");
      break;
    case ExprOp::Slot:
      if (e.index < 0 || e.index >= kFirstParamSlot + (int)m.params.size())
        fail(at + ": hp[" + std::to_string(e.index) + "] does not exist");
      break;
    default:
      break;
    }
    for (const ExprPtr &o : e.operands)
      if (o)
        expr(*o, k, output, written, at);
  }

  const Module &m;
  llvm::raw_ostream &errs;
  std::string where;
  bool ok = true;
};

} // namespace

bool verify(const Module &m, llvm::raw_ostream &errs) { return Verifier(m, errs).run(); }

} // namespace bdl::ir
