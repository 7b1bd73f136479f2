//===- transforms/Sweep.h - One reverse sweep of Differentiate --*- C++ -*-===//
//
// The class behind the differentiate pass (transforms/Differentiate.cpp,
// where its rules are described): Differentiate.cpp defines the sweep's
// bookkeeping and the GEMM and image adjoints, DifferentiateKernels.cpp the
// chain rule through kernels and the fused cross-entropy adjoint.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TRANSFORMS_SWEEP_H
#define BDL_TRANSFORMS_SWEEP_H

#include "ir/IR.h"
#include "transforms/OpEffects.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace bdl::sweep {

using namespace ir;

inline ExprPtr mul(ExprPtr a, ExprPtr b) {
  if (a->isConst() && a->value == 1)
    return b;
  if (b->isConst() && b->value == 1)
    return a;
  return Expr::binary(ExprOp::Mul, std::move(a), std::move(b));
}

inline ExprPtr sumOf(std::vector<ExprPtr> terms) {
  ExprPtr total = std::move(terms[0]);
  for (size_t i = 1; i < terms.size(); ++i)
    total = Expr::binary(ExprOp::Add, std::move(total), std::move(terms[i]));
  return total;
}

/// A term of a tensor's adjoint, kept until the op that writes the tensor
/// is reached, so that a lone term can be written straight into it.
struct Contribution {
  enum class Kind { Elementwise, Gemm, Reduce, Image };
  Kind kind = Kind::Elementwise;
  ExprPtr expr;   // Elementwise: over the tensor's shape; Reduce: body
  Dim rows, cols; // Reduce: the iteration space
  KernelOp::Kind reduce = KernelOp::Kind::RowReduce; // Reduce
  GemmOp gemm;                                       // Gemm: `c` set when emitted
  ImageOp image;                                     // Image: `out` set when emitted
};

/// Where the adjoint of a tensor is: nowhere yet, the seed 1, or a tensor.
struct Adjoint {
  bool one = false;
  TensorId tensor = -1;
  bool known() const { return one || tensor >= 0; }
};

class Sweep {
public:
  Sweep(Module &m, std::vector<const Op *> forward, TensorId loss)
      : m(m), forward(std::move(forward)), loss(loss) {
    for (const Tensor &t : m.tensors)
      names.insert(t.name);
    for (const Op *op : this->forward)
      forEachWrite(*op, false, [&](TensorId t) { producer[t] = op; });
  }

  /// The ops that compute `outs[i]` = d mean(loss) / d weights[i].
  std::vector<Op> run(const std::vector<TensorId> &weights, const std::vector<TensorId> &outs) {
    findActive(weights);
    adjoints[loss].one = true;
    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      const Op &op = **it;
      bool any = false;
      forEachWrite(op, false, [&](TensorId t) {
        materialize(t, -1, false);
        any |= adjoints[t].known();
      });
      if (!any)
        continue;
      if (auto *g = std::get_if<GemmOp>(&op))
        gemm(*g);
      else if (auto *k = std::get_if<KernelOp>(&op))
        kernel(*k);
      else if (auto *i = std::get_if<ImageOp>(&op))
        image(*i);
    }
    bool batched = m.tensors[loss].rows.kind == Dim::Kind::Batch;
    for (size_t i = 0; i < weights.size(); ++i) {
      materialize(weights[i], outs[i], batched);
      Adjoint a = adjoints[weights[i]];
      if (a.tensor != outs[i]) // no path to the loss, or a gradient already computed
        emitMap(outs[i], a.known() ? load(a, Access::Full) : Expr::constant(0));
    }
    return std::move(ops);
  }

private:
  //===-- Which tensors carry an adjoint --------------------------------===//

  /// Active: on a path from a requested weight to the loss.
  void findActive(const std::vector<TensorId> &weights);

  bool isActive(const Expr &e) const;

  //===-- Adjoint tensors -----------------------------------------------===//

  ExprPtr load(const Adjoint &a, Access access) const;

  std::string uniqueName(const std::string &base);

  TensorId newTemp(const std::string &base, Dim rows, Dim cols);

  void emitMap(TensorId out, ExprPtr value);

  void emitReduce(TensorId out, KernelOp::Kind kind, Dim rows, Dim cols, ExprPtr body);

  /// Emits one contribution into `out`, scaled by 1/batch if `mean`.
  void emit(Contribution &c, TensorId out, bool mean);

  /// Emits `op`, whose result is its field `result`, into `out`; if `mean`,
  /// into a temporary first and then `out` = that / batch.
  template <typename O> void emitScaled(O &op, TensorId &result, TensorId out, bool mean) {
    result =
        mean ? newTemp(m.tensors[out].name + ".unscaled", m.tensors[out].rows, m.tensors[out].cols)
             : out;
    ops.push_back(op);
    if (mean)
      emitMap(out, Expr::binary(ExprOp::Mul, Expr::load(result, Access::Full),
                                Expr::slot(kInvBatchSlot)));
  }

  /// Turns the contributions to `t` into its adjoint tensor: `into` if
  /// given (a requested gradient), else the lone contribution's own tensor
  /// or a new one. `mean`: scale by 1/batch (a weight's gradient).
  void materialize(TensorId t, TensorId into, bool mean);

  void contribute(TensorId t, Contribution c) { pending[t].push_back(std::move(c)); }

  //===-- GEMM ----------------------------------------------------------===//

  void gemm(const GemmOp &g);

  //===-- Images --------------------------------------------------------===//

  void image(const ImageOp &i);

  //===-- Kernels -------------------------------------------------------===//

  /// The terms of one kernel's adjoints, by the tensor and access they
  /// reach, and by the earlier output a local reads.
  struct Terms {
    std::map<std::pair<TensorId, Access>, std::vector<ExprPtr>> loads;
    std::vector<std::vector<ExprPtr>> locals;
  };

  /// `e` of the current kernel for another kernel: its locals replaced by
  /// the outputs' expressions.
  ExprPtr inlined(const Expr &e) const;

  void kernel(const KernelOp &k);

  /// A term over the iteration space [rows, cols] of a tensor read under
  /// `access`: summed over what the read broadcast.
  void broadcastBack(TensorId t, Access access, Dim rows, Dim cols, ExprPtr term);

  /// The value of `node`: the stored output when `node` is that output's
  /// whole expression (`root`), else the expression again.
  ExprPtr valueOf(const Expr &node, const KernelOutput *root) const;

  /// Adds adj × ∂node/∂leaf to `terms` for every load and local under `node`.
  void propagate(const Expr &node, ExprPtr adj, const KernelOutput *root, Terms &terms);

  //===-- cross_entropy(softmax(z), t) ----------------------------------===//

  const KernelOp *producerKernel(TensorId t) const;

  static bool isLoad(const Expr &e, Access a) { return e.op == ExprOp::Load && e.access == a; }

  /// Whether `k` is -Σ t log(max(y, floor)) of y = softmax(z) exactly as
  /// the lowering writes both; if so, contributes dz = adj (y Σt - t) and
  /// returns z.
  std::optional<TensorId> softmaxCrossEntropy(const KernelOp &k);

  Module &m;
  std::vector<const Op *> forward;
  TensorId loss;
  std::map<TensorId, const Op *> producer;
  std::set<TensorId> active;
  std::map<TensorId, Adjoint> adjoints;
  std::map<TensorId, std::vector<Contribution>> pending;
  std::map<TensorId, TensorId> targetSums;
  std::set<std::string> names;
  std::vector<Op> ops;
  const KernelOp *current = nullptr; // the kernel being differentiated
};

} // namespace bdl::sweep

#endif // BDL_TRANSFORMS_SWEEP_H
