//===- Differentiate.cpp - Reverse-mode gradients of the schedule ---------===//
//
// Replaces each `grad %g = %L wrt %W` by a reverse sweep through the ops
// before it: every op on a path from a requested weight to the loss gets its
// adjoint ops, emitted in reverse order, reading the forward pass's values
// where they are stored (a product's adjoint multiplies by the forward
// operand, tanh's derivative is 1 - h*h of the stored h) instead of
// recomputing them. The grads of one loss that follow each other share one
// sweep.
//
// The seed is 1 per example, and the batch mean is taken where a gradient
// reaches a weight (hp[1] = 1/batch as the GEMM's alpha, or inside the
// reduction over the batch): the same place and the same rounding as the
// written-out rules (`outer(e, x)`, a bias's batch mean), so that
// `W -= grad(L, W)` gives a hand-derived rule's weights bit for bit.
//
// Adjoints by construct:
//  - gemm C = α op(A) op(B): dA and dB are gemms of dC with the other operand.
//  - map: the chain rule through the expression tree, one term per load;
//    loads of a row, column or scalar broadcast sum their terms with a
//    rowreduce or colreduce (both for a scalar).
//  - rowreduce/colreduce sum: the adjoint broadcast back; max: to the
//    elements equal to the maximum.
//  - im2col: col2im of the patches' adjoint (and col2im: im2col); max-pool:
//    the pooled adjoint routed to each window's first maximum; reshape: a
//    reshape back.
//  - cross_entropy(softmax(z), t) as the lowering writes it: dz = y Σt - t,
//    the textbook fused form (without it, dz = y (dy - Σ y dy) cancels
//    catastrophically where y is near 1). It ignores the loss's floor
//    max(y, 1e-30), which only matters once training has diverged.
//
// The verifier guarantees what this needs: one step per block up to the
// grad (no time to go back through) and one write per tensor.
//
//===----------------------------------------------------------------------===//
#include "ir/IR.h"
#include "transforms/OpEffects.h"
#include "transforms/Passes.h"

#include "llvm/Support/ErrorHandling.h"

#include <map>
#include <optional>
#include <set>

namespace bdl {

using namespace ir;

namespace {

ExprPtr mul(ExprPtr a, ExprPtr b) {
  if (a->isConst() && a->value == 1)
    return b;
  if (b->isConst() && b->value == 1)
    return a;
  return Expr::binary(ExprOp::Mul, std::move(a), std::move(b));
}

ExprPtr sumOf(std::vector<ExprPtr> terms) {
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
  void findActive(const std::vector<TensorId> &weights) {
    std::set<TensorId> fromWeights(weights.begin(), weights.end());
    for (const Op *op : forward) {
      bool reads = false;
      forEachRead(*op, [&](TensorId t) { reads |= fromWeights.count(t) > 0; });
      if (reads)
        forEachWrite(*op, true, [&](TensorId t) { fromWeights.insert(t); });
    }
    std::set<TensorId> toLoss{loss};
    for (auto it = forward.rbegin(); it != forward.rend(); ++it) {
      bool writes = false;
      forEachWrite(**it, true, [&](TensorId t) { writes |= toLoss.count(t) > 0; });
      if (writes)
        forEachRead(**it, [&](TensorId t) { toLoss.insert(t); });
    }
    for (TensorId t : fromWeights)
      if (toLoss.count(t))
        active.insert(t);
  }

  bool isActive(const Expr &e) const {
    if (e.op == ExprOp::Load)
      return active.count(e.index) > 0;
    if (e.op == ExprOp::Local)
      return true;
    for (const ExprPtr &o : e.operands)
      if (isActive(*o))
        return true;
    return false;
  }

  //===-- Adjoint tensors -----------------------------------------------===//

  ExprPtr load(const Adjoint &a, Access access) const {
    return a.one ? Expr::constant(1) : Expr::load(a.tensor, access);
  }

  std::string uniqueName(const std::string &base) {
    std::string name = base;
    for (int n = 1; !names.insert(name).second; ++n)
      name = base + "." + std::to_string(n);
    return name;
  }

  TensorId newTemp(const std::string &base, Dim rows, Dim cols) {
    Tensor t;
    t.name = uniqueName(base);
    t.role = Role::Temp;
    t.rows = rows, t.cols = cols;
    return m.addTensor(t);
  }

  void emitMap(TensorId out, ExprPtr value) {
    KernelOp k;
    k.kind = KernelOp::Kind::Map;
    k.name = m.tensors[out].name;
    k.rows = m.tensors[out].rows, k.cols = m.tensors[out].cols;
    k.outputs.push_back({out, std::move(value), true});
    ops.push_back(std::move(k));
  }

  void emitReduce(TensorId out, KernelOp::Kind kind, Dim rows, Dim cols, ExprPtr body) {
    KernelOp k;
    k.kind = kind;
    k.name = m.tensors[out].name;
    k.rows = rows, k.cols = cols;
    k.outputs.push_back({out, std::move(body), true});
    ops.push_back(std::move(k));
  }

  /// Emits one contribution into `out`, scaled by 1/batch if `mean`.
  void emit(Contribution &c, TensorId out, bool mean) {
    auto scaled = [&](ExprPtr e) {
      return mean ? Expr::binary(ExprOp::Mul, std::move(e), Expr::slot(kInvBatchSlot))
                  : std::move(e);
    };
    switch (c.kind) {
    case Contribution::Kind::Elementwise:
      return emitMap(out, scaled(std::move(c.expr)));
    case Contribution::Kind::Reduce:
      return emitReduce(out, c.reduce, c.rows, c.cols, scaled(std::move(c.expr)));
    case Contribution::Kind::Image:
      return emitScaled(c.image, c.image.out, out, mean);
    case Contribution::Kind::Gemm:
      if (mean && c.gemm.alphaSlot < 0) { // the 1/batch joins the product's alpha
        c.gemm.alphaSlot = kInvBatchSlot;
        mean = false;
      }
      return emitScaled(c.gemm, c.gemm.c, out, mean);
    }
  }

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
  void materialize(TensorId t, TensorId into, bool mean) {
    auto found = pending.find(t);
    if (found == pending.end())
      return;
    std::vector<Contribution> terms = std::move(found->second);
    pending.erase(found);
    const Tensor T = m.tensors[t]; // a copy: new temporaries grow m.tensors
    // A lone elementwise term that is another adjoint, unscaled: share it.
    if (terms.size() == 1 && into < 0 && !mean &&
        terms[0].kind == Contribution::Kind::Elementwise && terms[0].expr->op == ExprOp::Load &&
        terms[0].expr->access == Access::Full) {
      adjoints[t].tensor = terms[0].expr->index;
      return;
    }
    TensorId out = into >= 0 ? into : newTemp("d." + T.name, T.rows, T.cols);
    adjoints[t].tensor = out;
    if (terms.size() == 1)
      return emit(terms[0], out, mean);
    std::vector<ExprPtr> sum;
    for (Contribution &c : terms) {
      if (c.kind == Contribution::Kind::Elementwise) {
        sum.push_back(std::move(c.expr));
        continue;
      }
      TensorId part = newTemp(m.tensors[out].name + ".part", T.rows, T.cols);
      emit(c, part, false);
      sum.push_back(Expr::load(part, Access::Full));
    }
    ExprPtr total = sumOf(std::move(sum));
    if (mean)
      total = Expr::binary(ExprOp::Mul, std::move(total), Expr::slot(kInvBatchSlot));
    emitMap(out, std::move(total));
  }

  void contribute(TensorId t, Contribution c) { pending[t].push_back(std::move(c)); }

  //===-- GEMM ----------------------------------------------------------===//

  void gemm(const GemmOp &g) {
    // C = α op(A) op(B): d op(A) = dC op(B)ᵀ and d op(B) = op(A)ᵀ dC.
    TensorId dC = adjoints[g.c].tensor;
    if (dC < 0) { // the seed itself: C is the loss, which no product makes
      dC = newTemp("d." + m.tensors[g.c].name, m.tensors[g.c].rows, m.tensors[g.c].cols);
      emitMap(dC, Expr::constant(1));
    }
    auto product = [&](TensorId a, bool ta, TensorId b, bool tb) {
      Contribution c;
      c.kind = Contribution::Kind::Gemm;
      c.gemm.a = a, c.gemm.transA = ta, c.gemm.b = b, c.gemm.transB = tb;
      c.gemm.alpha = g.alpha, c.gemm.alphaSlot = g.alphaSlot;
      return c;
    };
    if (active.count(g.a))
      contribute(g.a,
                 g.transA ? product(g.b, g.transB, dC, true) : product(dC, false, g.b, !g.transB));
    if (active.count(g.b))
      contribute(g.b,
                 g.transB ? product(dC, true, g.a, g.transA) : product(g.a, !g.transA, dC, false));
  }

  //===-- Images --------------------------------------------------------===//

  void image(const ImageOp &i) {
    if (i.kind == ImageOp::Kind::MaxPoolAdjoint && (active.count(i.in) || active.count(i.aux)))
      // Only a reverse sweep makes one, and no grad() reaches through another
      // grad's sweep to an image (a loss is a value of the forward pass or of
      // the learn block, and the learn block's image ops come from grads).
      llvm::report_fatal_error("bdl: grad() through the adjoint of a max-pool is not supported");
    if (!active.count(i.in))
      return;
    TensorId dOut = adjoints[i.out].tensor;
    if (dOut < 0) // the seed: an image op never makes a loss (it is [batch, 1] at most)
      return;
    Contribution c;
    c.kind = Contribution::Kind::Image;
    c.image.window = i.window;
    switch (i.kind) {
    case ImageOp::Kind::Im2col:
      c.image.kind = ImageOp::Kind::Col2im, c.image.in = dOut;
      break;
    case ImageOp::Kind::Col2im:
      c.image.kind = ImageOp::Kind::Im2col, c.image.in = dOut;
      break;
    case ImageOp::Kind::MaxPool:
      c.image.kind = ImageOp::Kind::MaxPoolAdjoint, c.image.in = i.in, c.image.aux = dOut;
      break;
    case ImageOp::Kind::Reshape:
      c.image.kind = ImageOp::Kind::Reshape, c.image.in = dOut;
      break;
    case ImageOp::Kind::MaxPoolAdjoint:
      return;
    }
    contribute(i.in, std::move(c));
  }

  //===-- Kernels -------------------------------------------------------===//

  /// The terms of one kernel's adjoints, by the tensor and access they
  /// reach, and by the earlier output a local reads.
  struct Terms {
    std::map<std::pair<TensorId, Access>, std::vector<ExprPtr>> loads;
    std::vector<std::vector<ExprPtr>> locals;
  };

  /// `e` of the current kernel for another kernel: its locals replaced by
  /// the outputs' expressions.
  ExprPtr inlined(const Expr &e) const {
    if (e.op == ExprOp::Local)
      return inlined(*current->outputs[e.index].value);
    ExprPtr copy = std::make_unique<Expr>();
    copy->op = e.op, copy->value = e.value, copy->index = e.index, copy->access = e.access;
    for (const ExprPtr &o : e.operands)
      copy->operands.push_back(inlined(*o));
    return copy;
  }

  void kernel(const KernelOp &k) {
    if (softmaxCrossEntropy(k))
      return;
    current = &k;
    Terms terms;
    terms.locals.resize(k.outputs.size());
    for (size_t j = k.outputs.size(); j-- > 0;) {
      const KernelOutput &o = k.outputs[j];
      std::vector<ExprPtr> adj = std::move(terms.locals[j]);
      const Adjoint &stored = adjoints[o.tensor];
      if (o.stored && stored.known()) {
        auto [rows, cols] = outputShape(k, j);
        Access access = rows == k.rows && cols == k.cols ? Access::Full
                        : rows == k.rows                 ? Access::Row
                                                         : Access::Col;
        if (!accessFits(m.tensors[o.tensor], access, k.rows, k.cols))
          access = Access::Scalar;
        adj.push_back(load(stored, access));
      }
      if (adj.empty())
        continue;
      ExprPtr a = sumOf(std::move(adj));
      if (isReducedOutput(k, j)) {
        if (k.reduce == KernelOp::Reduce::Max) {
          // To the elements equal to the maximum (all of them, on a tie).
          Access access = k.kind == KernelOp::Kind::RowReduce ? Access::Row : Access::Col;
          ExprPtr isMax = Expr::binary(ExprOp::Eq, inlined(*o.value), Expr::load(o.tensor, access));
          a = mul(std::move(a), std::move(isMax));
        }
        propagate(*o.value, std::move(a), nullptr, terms);
      } else {
        propagate(*o.value, std::move(a), o.stored ? &o : nullptr, terms);
      }
    }
    for (auto &[key, list] : terms.loads)
      broadcastBack(key.first, key.second, k.rows, k.cols, sumOf(std::move(list)));
  }

  /// A term over the iteration space [rows, cols] of a tensor read under
  /// `access`: summed over what the read broadcast.
  void broadcastBack(TensorId t, Access access, Dim rows, Dim cols, ExprPtr term) {
    Contribution c;
    c.expr = std::move(term);
    c.rows = rows, c.cols = cols;
    switch (access) {
    case Access::Full:
      c.kind = Contribution::Kind::Elementwise;
      break;
    case Access::Row:
      c.kind = Contribution::Kind::Reduce, c.reduce = KernelOp::Kind::RowReduce;
      break;
    case Access::Col:
      c.kind = Contribution::Kind::Reduce, c.reduce = KernelOp::Kind::ColReduce;
      break;
    case Access::Scalar:
      c.kind = Contribution::Kind::Reduce;
      if (cols.isOne()) {
        c.reduce = KernelOp::Kind::ColReduce;
      } else if (rows.isOne()) {
        c.reduce = KernelOp::Kind::RowReduce;
      } else { // rows first, then the column of row sums
        TensorId rowSums = newTemp("d." + m.tensors[t].name + ".rows", rows, Dim::constant(1));
        emitReduce(rowSums, KernelOp::Kind::RowReduce, rows, cols, std::move(c.expr));
        c.expr = Expr::load(rowSums, Access::Full);
        c.reduce = KernelOp::Kind::ColReduce;
        c.cols = Dim::constant(1);
      }
      break;
    }
    contribute(t, std::move(c));
  }

  /// The value of `node`: the stored output when `node` is that output's
  /// whole expression (`root`), else the expression again.
  ExprPtr valueOf(const Expr &node, const KernelOutput *root) const {
    if (root && root->value.get() == &node)
      return Expr::load(root->tensor, Access::Full);
    return inlined(node);
  }

  /// Adds adj × ∂node/∂leaf to `terms` for every load and local under `node`.
  void propagate(const Expr &node, ExprPtr adj, const KernelOutput *root, Terms &terms) {
    if (node.op == ExprOp::Load) {
      if (active.count(node.index))
        terms.loads[{node.index, node.access}].push_back(std::move(adj));
      return;
    }
    if (node.op == ExprOp::Local) {
      terms.locals[node.index].push_back(std::move(adj));
      return;
    }
    auto x = [&]() { return inlined(*node.operands[0]); };
    auto y = [&]() { return inlined(*node.operands[1]); };
    auto v = [&]() { return valueOf(node, root); };
    auto c = [](float f) { return Expr::constant(f); };
    auto bin = [](ExprOp op, ExprPtr l, ExprPtr r) {
      return Expr::binary(op, std::move(l), std::move(r));
    };
    auto into = [&](int operand, ExprPtr partialAdj) {
      if (isActive(*node.operands[operand]))
        propagate(*node.operands[operand], std::move(partialAdj), nullptr, terms);
    };
    auto adjTimes = [&](ExprPtr d) { return mul(adj->clone(), std::move(d)); };
    switch (node.op) {
    case ExprOp::Neg:
      return into(0, Expr::unary(ExprOp::Neg, adj->clone()));
    case ExprOp::Exp:
      return into(0, adjTimes(v()));
    case ExprOp::Log:
      return into(0, bin(ExprOp::Div, adj->clone(), x()));
    case ExprOp::Tanh: // 1 - tanh²
      return into(0, adjTimes(bin(ExprOp::Sub, c(1), bin(ExprOp::Mul, v(), v()))));
    case ExprOp::Sigmoid: // σ (1 - σ)
      return into(0, adjTimes(bin(ExprOp::Mul, v(), bin(ExprOp::Sub, c(1), v()))));
    case ExprOp::Relu:
      return into(0, adjTimes(bin(ExprOp::Gt, x(), c(0))));
    case ExprOp::Abs: // sign(x)
      return into(
          0, adjTimes(bin(ExprOp::Sub, bin(ExprOp::Gt, x(), c(0)), bin(ExprOp::Lt, x(), c(0)))));
    case ExprOp::Acos: // -1 / sqrt(1 - x²)
      return into(0, Expr::unary(ExprOp::Neg,
                                 bin(ExprOp::Div, adj->clone(),
                                     Expr::unary(ExprOp::Sqrt, bin(ExprOp::Sub, c(1),
                                                                   bin(ExprOp::Mul, x(), x()))))));
    case ExprOp::Sqrt:
      return into(0, bin(ExprOp::Div, adjTimes(c(0.5f)), v()));
    case ExprOp::Add:
      into(0, adj->clone());
      return into(1, adj->clone());
    case ExprOp::Sub:
      into(0, adj->clone());
      return into(1, Expr::unary(ExprOp::Neg, adj->clone()));
    case ExprOp::Mul:
      into(0, adjTimes(y()));
      return into(1, mul(x(), adj->clone()));
    case ExprOp::Div: // x/y: adj/y and -adj x/y²
      into(0, bin(ExprOp::Div, adj->clone(), y()));
      return into(1, Expr::unary(ExprOp::Neg, bin(ExprOp::Div, adjTimes(v()), y())));
    case ExprOp::Pow: // x^y: y x^(y-1) and x^y log x
      into(0, adjTimes(bin(ExprOp::Mul, y(), bin(ExprOp::Pow, x(), bin(ExprOp::Sub, y(), c(1))))));
      return into(1, adjTimes(bin(ExprOp::Mul, v(), Expr::unary(ExprOp::Log, x()))));
    case ExprOp::Max:
      into(0, adjTimes(bin(ExprOp::Ge, x(), y())));
      return into(1, adjTimes(bin(ExprOp::Lt, x(), y())));
    case ExprOp::Min:
      into(0, adjTimes(bin(ExprOp::Le, x(), y())));
      return into(1, adjTimes(bin(ExprOp::Gt, x(), y())));
    case ExprOp::Select: {
      auto arm = [&](bool first) {
        auto s = std::make_unique<Expr>();
        s->op = ExprOp::Select;
        s->operands.push_back(inlined(*node.operands[0]));
        s->operands.push_back(first ? adj->clone() : c(0));
        s->operands.push_back(first ? c(0) : adj->clone());
        return s;
      };
      into(1, arm(true));
      return into(2, arm(false));
    }
    default:
      // Constants, slots, context fields, comparisons, steps and random
      // draws have no derivative to pass on.
      return;
    }
  }

  //===-- cross_entropy(softmax(z), t) ----------------------------------===//

  const KernelOp *producerKernel(TensorId t) const {
    auto it = producer.find(t);
    return it == producer.end() ? nullptr : std::get_if<KernelOp>(it->second);
  }

  static bool isLoad(const Expr &e, Access a) { return e.op == ExprOp::Load && e.access == a; }

  /// Whether `k` is -Σ t log(max(y, floor)) of y = softmax(z) exactly as
  /// the lowering writes both; if so, contributes dz = adj (y Σt - t) and
  /// returns z.
  std::optional<TensorId> softmaxCrossEntropy(const KernelOp &k) {
    if (k.kind != KernelOp::Kind::RowReduce || k.reduce != KernelOp::Reduce::Sum ||
        k.outputs.size() != 1)
      return std::nullopt;
    const Expr &body = *k.outputs[0].value;
    if (body.op != ExprOp::Neg || body.operands[0]->op != ExprOp::Mul)
      return std::nullopt;
    const Expr &t = *body.operands[0]->operands[0], &logy = *body.operands[0]->operands[1];
    if (!isLoad(t, Access::Full) || active.count(t.index) || logy.op != ExprOp::Log ||
        logy.operands[0]->op != ExprOp::Max)
      return std::nullopt;
    const Expr &y = *logy.operands[0]->operands[0], &floor = *logy.operands[0]->operands[1];
    if (!isLoad(y, Access::Full) || !floor.isConst() || !(floor.value >= 0 && floor.value < 1e-20f))
      return std::nullopt;
    // y = exp(z - max) / sum, max = rowmax z, sum = Σ exp(z - max).
    const KernelOp *softmax = producerKernel(y.index);
    if (!softmax || softmax->kind != KernelOp::Kind::Map || softmax->outputs.size() != 1)
      return std::nullopt;
    const Expr &div = *softmax->outputs[0].value;
    if (div.op != ExprOp::Div || !isLoad(*div.operands[1], Access::Row))
      return std::nullopt;
    auto shiftedExp = [&](const Expr &e, TensorId &z, TensorId &max) {
      if (e.op != ExprOp::Exp || e.operands[0]->op != ExprOp::Sub)
        return false;
      const Expr &zl = *e.operands[0]->operands[0], &ml = *e.operands[0]->operands[1];
      if (!isLoad(zl, Access::Full) || !isLoad(ml, Access::Row))
        return false;
      z = zl.index, max = ml.index;
      return true;
    };
    TensorId z = -1, max = -1;
    if (!shiftedExp(*div.operands[0], z, max))
      return std::nullopt;
    const KernelOp *maxK = producerKernel(max), *sumK = producerKernel(div.operands[1]->index);
    TensorId z2 = -1, max2 = -1;
    if (!maxK || maxK->kind != KernelOp::Kind::RowReduce || maxK->reduce != KernelOp::Reduce::Max ||
        maxK->outputs.size() != 1 || !isLoad(*maxK->outputs[0].value, Access::Full) ||
        maxK->outputs[0].value->index != z || !sumK || sumK->kind != KernelOp::Kind::RowReduce ||
        sumK->reduce != KernelOp::Reduce::Sum || sumK->outputs.size() != 1 ||
        !shiftedExp(*sumK->outputs[0].value, z2, max2) || z2 != z || max2 != max)
      return std::nullopt;
    if (!active.count(z))
      return z; // nothing to pass on
    // Σt: 1 for one-hot targets, so y Σt - t is then y - t exactly.
    auto [it, added] = targetSums.try_emplace(t.index, -1);
    if (added) {
      it->second = newTemp(m.tensors[t.index].name + ".sum", k.rows, Dim::constant(1));
      emitReduce(it->second, KernelOp::Kind::RowReduce, k.rows, k.cols,
                 Expr::load(t.index, Access::Full));
    }
    ExprPtr dz = Expr::binary(ExprOp::Sub,
                              Expr::binary(ExprOp::Mul, Expr::load(y.index, Access::Full),
                                           Expr::load(it->second, Access::Row)),
                              Expr::load(t.index, Access::Full));
    const Adjoint &dl = adjoints[k.outputs[0].tensor];
    Contribution c;
    c.kind = Contribution::Kind::Elementwise;
    c.expr = mul(load(dl, Access::Row), std::move(dz));
    contribute(z, std::move(c));
    return z;
  }

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

/// Replaces the grad ops of one schedule, block by block.
void differentiateSchedule(Module &m, std::vector<Block> &blocks) {
  for (size_t b = 0; b < blocks.size(); ++b) {
    std::vector<Op> &ops = blocks[b].ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      auto *first = std::get_if<GradOp>(&ops[i]);
      if (!first)
        continue;
      TensorId loss = first->loss;
      std::vector<const Op *> forward;
      for (size_t e = 0; e < b; ++e)
        for (const auto *list : {&blocks[e].prologue, &blocks[e].ops})
          for (const Op &op : *list)
            forward.push_back(&op);
      for (const Op &op : blocks[b].prologue)
        forward.push_back(&op);
      for (size_t e = 0; e < i; ++e)
        forward.push_back(&ops[e]);
      // The later grads of the same loss share the sweep unless an op
      // between writes a tensor the forward ops touch (in a lowered learn
      // block none does: the optimiser steps come after every grad).
      std::set<TensorId> touched;
      for (const Op *op : forward) {
        forEachRead(*op, [&](TensorId t) { touched.insert(t); });
        forEachWrite(*op, true, [&](TensorId t) { touched.insert(t); });
      }
      std::vector<size_t> group{i};
      for (size_t j = i + 1; j < ops.size(); ++j) {
        bool stale = false;
        if (auto *d = std::get_if<GradOp>(&ops[j]); d && d->loss == loss) {
          group.push_back(j);
          continue;
        }
        forEachWrite(ops[j], true, [&](TensorId t) { stale |= touched.count(t) > 0; });
        if (stale)
          break;
      }
      std::vector<TensorId> weights, outs;
      for (size_t j : group) {
        const GradOp &d = std::get<GradOp>(ops[j]);
        weights.push_back(d.weight), outs.push_back(d.out);
      }
      std::vector<Op> sweep = Sweep(m, std::move(forward), loss).run(weights, outs);
      for (size_t j = group.size(); j-- > 1;)
        ops.erase(ops.begin() + group[j]);
      ops.erase(ops.begin() + i);
      ops.insert(ops.begin() + i, std::make_move_iterator(sweep.begin()),
                 std::make_move_iterator(sweep.end()));
      i += sweep.size();
      --i; // the loop's ++i then moves past the sweep
    }
  }
}

} // namespace

void differentiate(Module &m) {
  differentiateSchedule(m, m.trainBlocks);
  differentiateSchedule(m, m.evalBlocks);
}

} // namespace bdl
