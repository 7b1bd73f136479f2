//===- Lowerer.h - The lowering of a checked model, shared by its parts -*- C++ -*-===//
//
// One class walks the checked AST and builds the IR: this header holds the
// tensors and elementwise values; Expressions.cpp the expressions; Learn.cpp
// the learning rule's values and updates; Optimizers.cpp the optimiser's
// steps; Monitors.cpp the monitors; Dynamics.cpp the populations, phases,
// records and evaluation; Images.cpp convolution, pooling and batch norm.
// Internal to compiler/lower.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_LOWER_LOWERER_H
#define BDL_LOWER_LOWERER_H

#include "lower/Lowering.h"
#include "sema/Builtins.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Casting.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace bdl::lowering {

using ir::Dim;
using ir::Expr;
using ir::ExprOp;
using ir::ExprPtr;
using llvm::cast;
using llvm::dyn_cast;

/// An elementwise value over the iteration space [rows, cols]. Loads inside
/// carry provisional accesses; `finish` fixes them for the final space.
struct Value {
  ExprPtr expr;
  Dim rows, cols;
};

/// Where cross_entropy floors its prediction: a confident mistake, y = 0,
/// would otherwise make the loss of the whole epoch infinite.
constexpr float kLogFloor = 1e-30f;

class Lowerer {
public:
  explicit Lowerer(const sema::CheckedModel &model) : model(model) {}

  ir::Module run() {
    const ast::ModelFile &file = *model.file;
    m.name = file.name.name;
    m.sourceFile = file.path;
    m.dataset = model.dataset;
    m.params = model.params;
    m.epochs = model.epochs, m.batch = model.batch, m.validation = model.validation;
    m.warmup = model.warmup;
    m.objective = model.objective;
    declareTensors();
    lowerDerivedParams();
    if (model.hasDynamics()) {
      lowerDynamics();
      return std::move(m);
    }

    ir::Block forward{"forward", 1, {}};
    block = &forward;
    for (const ast::LayerDecl &layer : file.layers)
      layerIds.push_back(materialize(lowerExpr(layer.value.get()), layer.name.name, true));
    m.predict = layerIds[model.predict];
    if (model.loss >= 0)
      m.loss = layerIds[model.loss];
    m.evalBlocks.push_back(evaluationForward(forward));
    m.trainBlocks.push_back(std::move(forward));

    lowerLearnBlocks();
    return std::move(m);
  }

private:
  //===-- Tensors ---------------------------------------------------------===//

  void declareTensors() {
    for (size_t i = 0; i < model.tensors.size(); ++i) {
      const sema::CheckedTensor &ct = model.tensors[i];
      ir::Tensor t;
      t.name = ct.decl->name.name;
      switch (ct.decl->kind) {
      case ast::TensorKind::Input:
        t.role = ir::Role::Input;
        break;
      case ast::TensorKind::Target:
        t.role = ir::Role::Target;
        break;
      case ast::TensorKind::Weight:
        t.role = ir::Role::Weight;
        break;
      case ast::TensorKind::Fixed:
        t.role = ir::Role::Fixed;
        break;
      }
      bool isData = t.role == ir::Role::Input || t.role == ir::Role::Target;
      // A vector input is [batch, n]; an image input already [batch*H*W, C].
      t.rows = isData && ct.rows.kind != Dim::Kind::Batch ? Dim::batch() : ct.rows;
      t.cols = ct.cols;
      t.init = ct.init, t.initA = ct.initA, t.initB = ct.initB;
      // Arguments that depend on params become derived params of their own.
      auto argumentSlot = [&](const ast::Expr *e, const char *which) {
        if (!e)
          return -1;
        ir::Param p;
        p.name = t.name + ".init." + which;
        p.derivation = std::shared_ptr<const Expr>(std::move(lowerExpr(e).expr).release());
        m.params.push_back(p);
        return ir::kFirstParamSlot + (int)m.params.size() - 1;
      };
      t.initASlot = argumentSlot(ct.initAExpr, "a");
      t.initBSlot = argumentSlot(ct.initBExpr, "b");
      ir::TensorId id = m.addTensor(t);
      tensorIds.push_back(id);
      if ((int)i == model.input) {
        m.input = id;
        const std::vector<Dim> &dims = model.globals.find(t.name)->second.shape.dims;
        if (dims.size() == 3)
          m.inputChannels = (int32_t)dims[0].value, m.inputHeight = (int32_t)dims[1].value,
          m.inputWidth = (int32_t)dims[2].value;
      }
      if ((int)i == model.target)
        m.target = id;
    }
  }

  std::pair<Dim, Dim> storage(const sema::Shape &s) {
    Dim batchOrOne = s.batched ? Dim::batch() : Dim::constant(1);
    if (s.isScalar())
      return {batchOrOne, Dim::constant(1)};
    if (s.isVector())
      return {batchOrOne, s.dims[0]};
    if (s.isImage()) // channel-last, one row per pixel (ir::Window)
      return {Dim::batch(s.dims[1].value * s.dims[2].value), s.dims[0]};
    if (s.dims.size() == 4) // a convolution kernel [out, in * height * width]
      return {s.dims[0], Dim::constant(s.dims[1].value * s.dims[2].value * s.dims[3].value)};
    return {s.dims[0], s.dims[1]};
  }

  ir::TensorId temp(const std::string &name, Dim rows, Dim cols, ir::Role role = ir::Role::Temp,
                    bool userName = false) {
    ir::Tensor t;
    t.name = userName ? name : uniqueName(name);
    t.role = role;
    t.rows = rows, t.cols = cols;
    return m.addTensor(t);
  }

  /// A name for a compiler-made tensor that no user name and no earlier
  /// tensor has: `mm`, `mm.1`, ...
  std::string uniqueName(const std::string &base) {
    for (unsigned &n = nameUses[base];; ++n) {
      std::string candidate = n == 0 ? base : base + "." + std::to_string(n);
      if (!model.globals.count(candidate) && !model.isLet(candidate)) {
        ++n;
        return candidate;
      }
    }
  }

  //===-- Elementwise values ----------------------------------------------===//

  Value load(ir::TensorId t) {
    const ir::Tensor &tensor = m.tensors[t];
    return {Expr::load(t, ir::Access::Full), tensor.rows, tensor.cols};
  }

  static Dim join(Dim a, Dim b) { return a.isOne() ? b : a; }

  Value unary(ExprOp op, Value v) {
    v.expr = Expr::unary(op, std::move(v.expr));
    return v;
  }

  Value binary(ExprOp op, Value l, Value r) {
    Dim rows = join(l.rows, r.rows), cols = join(l.cols, r.cols);
    return {Expr::binary(op, std::move(l.expr), std::move(r.expr)), rows, cols};
  }

  Value constant(float v) { return {Expr::constant(v), Dim::constant(1), Dim::constant(1)}; }
  Value slot(int index) { return {Expr::slot(index), Dim::constant(1), Dim::constant(1)}; }

  /// Fixes every load's access for the iteration space [rows, cols].
  void finish(ir::Expr &e, Dim rows, Dim cols) {
    if (e.op == ExprOp::Load) {
      bool ok = ir::accessFor(m.tensors[e.index], rows, cols, e.access);
      (void)ok; // sema's broadcasting rules guarantee it; the verifier checks
    }
    for (ExprPtr &o : e.operands)
      finish(*o, rows, cols);
  }

  /// A tensor holding `v`: the one it already is, or a new one computed by a
  /// Map. `userName`: `name` is a layer or let, which keeps its exact name.
  ir::TensorId materialize(Value v, const std::string &name, bool userName = false) {
    if (v.expr->op == ExprOp::Load) {
      ir::TensorId id = v.expr->index;
      ir::Tensor &t = m.tensors[id];
      if (t.rows == v.rows && t.cols == v.cols) {
        // A product's or reduction's result that is exactly a named value
        // takes its name, and so does the kernel that computes it.
        if (anonymous.erase(id)) {
          t.name = userName ? name : uniqueName(name);
          if (auto *k =
                  block->ops.empty() ? nullptr : std::get_if<ir::KernelOp>(&block->ops.back());
              k && k->outputs.size() == 1 && k->outputs[0].tensor == id)
            k->name = t.name;
        }
        return id;
      }
    }
    ir::TensorId out = temp(name, v.rows, v.cols, ir::Role::Temp, userName);
    map(m.tensors[out].name, out, std::move(v));
    return out;
  }

  void map(const std::string &name, ir::TensorId out, Value v) {
    ir::KernelOp k;
    k.kind = ir::KernelOp::Kind::Map;
    k.name = name;
    k.rows = m.tensors[out].rows, k.cols = m.tensors[out].cols;
    finish(*v.expr, k.rows, k.cols);
    k.outputs.push_back({out, std::move(v.expr), true});
    block->ops.push_back(std::move(k));
  }

  /// out[r] = reduce_c value(r, c), out is [rows, 1].
  ir::TensorId rowReduce(const std::string &name, ir::KernelOp::Reduce reduce, Value v) {
    ir::TensorId out = temp(name, v.rows, Dim::constant(1));
    ir::KernelOp k;
    k.kind = ir::KernelOp::Kind::RowReduce;
    k.reduce = reduce;
    k.name = m.tensors[out].name;
    k.rows = v.rows, k.cols = v.cols;
    finish(*v.expr, k.rows, k.cols);
    k.outputs.push_back({out, std::move(v.expr), true});
    block->ops.push_back(std::move(k));
    return out;
  }

  /// out[c] = sum_r value(r, c) / batch: the batch mean of a per-example value.
  ir::TensorId batchMean(const std::string &name, Value v) {
    v.expr = Expr::binary(ExprOp::Mul, std::move(v.expr), Expr::slot(ir::kInvBatchSlot));
    return colSum(name, std::move(v));
  }

  /// out[c] = sum_r value(r, c), out is [1, cols].
  ir::TensorId colSum(const std::string &name, Value v) {
    ir::TensorId out = temp(name, Dim::constant(1), v.cols);
    ir::KernelOp k;
    k.kind = ir::KernelOp::Kind::ColReduce;
    k.name = m.tensors[out].name;
    k.rows = v.rows, k.cols = v.cols;
    ExprPtr body = std::move(v.expr);
    finish(*body, k.rows, k.cols);
    k.outputs.push_back({out, std::move(body), true});
    block->ops.push_back(std::move(k));
    return out;
  }

  /// The sum of every element of `v`, examples included: a [1, 1] value.
  Value total(const std::string &name, Value v) {
    if (!v.cols.isOne())
      v = load(rowReduce(name + ".rows", ir::KernelOp::Reduce::Sum, std::move(v)));
    if (v.rows.isOne())
      return v;
    return load(colSum(name, std::move(v)));
  }

  Value dimValue(Dim d) {
    if (d.kind == Dim::Kind::Param)
      return slot(ir::kFirstParamSlot + (int)d.value);
    if (d.kind == Dim::Kind::Batch)
      return slot(ir::kBatchSlot);
    return constant((float)d.value);
  }

  //===-- Expressions.cpp: names, operators, products, builtin calls ------===//

  Value lowerExpr(const ast::Expr *e);
  Value lowerName(const ast::NameExpr *n);
  /// The tensor that holds a tensor's, layer's or let's value.
  ir::TensorId tensorOf(const sema::Symbol &s);
  Value lowerBinary(const ast::BinaryExpr *b);
  /// A matrix operand of `@`: a tensor, possibly transposed.
  std::pair<ir::TensorId, bool> matrixOperand(const ast::Expr *e, const std::string &name);
  Value lowerMatMul(const ast::BinaryExpr *b);
  Value lowerCall(const ast::CallExpr *call);
  /// outer(a, b) = aᵀb as one GEMM. A per-example operand is averaged over
  /// the batch: the mean of per-example outer products when both are, and
  /// outer(a, mean b) when only one is (the same thing, as a is constant).
  ir::TensorId outerProduct(Value a, Value b, const std::string &name);
  /// The tensor grad(L, W) is computed into, by a grad op in the current
  /// block (the differentiate pass replaces it); one per (L, W).
  ir::TensorId gradient(const ast::CallExpr *call);
  Value softmax(Value z);

  //===-- Learn.cpp: the learning rule -------------------------------------===//

  struct Term {
    const ast::Expr *expr;
    ExprPtr scale; // a scalar expression, or null for 1
  };
  static ExprPtr scaled(ExprPtr scale, ExprPtr factor);
  bool isPlainScalar(const ast::Expr *e);
  /// Splits an update's right-hand side into scaled terms so that each outer
  /// product becomes its own GEMM.
  void collectTerms(const ast::Expr *e, ExprPtr scale, std::vector<Term> &terms);
  struct PendingUpdate {
    ir::TensorId weight;
    bool subtract;
    Value delta; // over the weight's [rows, cols]
  };
  /// The learn blocks, after a block of monitors for each that has any.
  void lowerLearnBlocks();
  /// A learn block's values and deltas into `values`, then either the
  /// optimiser's steps into `steps` or, with `steps` null, its monitors.
  void lowerLearn(const sema::CheckedLearn &learn, ir::Block &values, ir::Block *steps);
  PendingUpdate lowerUpdate(const ast::LearnStmt &s, ir::TensorId w);
  /// One term of an update, reduced to the weight's shape: outer products
  /// become a batch-averaged GEMM, per-example vectors a batch mean.
  Value termValue(const ast::Expr *e, const ir::Tensor &W, const std::string &weight,
                  ExprPtr &scale);

  //===-- Optimizers.cpp: the optimiser's steps ----------------------------===//

  /// The optimiser's scalars, read by every step of the block.
  struct StepScalars {
    ExprPtr lr, momentum, beta1, beta2, eps, weightDecay;
    ExprPtr clipScale; // min(1, clip / ||all deltas||), or null
    ExprPtr adamStep;  // lr / (1 - beta1^t)
    ExprPtr adamBias2; // sqrt(1 - beta2^t)
  };
  /// The optimiser's scalars (once, however many weights), then one step
  /// per update.
  void lowerOptimizer(const sema::CheckedLearn &learn, std::vector<PendingUpdate> &updates,
                      ir::Block &steps);
  /// An optimiser argument, computed once before any step when it reads a
  /// tensor (a weight the steps change): each step then reads the same value.
  ExprPtr stepScalar(const ast::Expr *e, const std::string &name);
  ExprPtr stepScalar(Value v, const std::string &name);
  static bool readsTensor(const Expr &e);
  /// min(1, clip / sqrt(sum of every delta's squares)).
  ExprPtr clipScale(const std::vector<PendingUpdate> &updates, ExprPtr clip);
  /// The number of steps taken, this one included: a [1, 1] optimiser
  /// tensor, so that it is checkpointed with the moments.
  ir::TensorId stepCounter(const std::string &name);
  /// The map kernel over W's shape that one optimiser step fills in.
  ir::KernelOp stepKernel(const char *optimizer, const ir::Tensor &W);
  void sgdStep(PendingUpdate &u, const StepScalars &s);
  void adamStep(PendingUpdate &u, const StepScalars &s);

  //===-- Monitors.cpp: batch statistics and monitors ----------------------===//

  /// angle, norm, mean(x), update(W); nullopt for any other call.
  std::optional<Value> lowerStatistic(const ast::CallExpr *call);
  void lowerMonitor(const ast::LearnStmt &monitor);
  std::map<ir::TensorId, ir::TensorId> updateDeltas; // weight -> its update's delta

  //===-- Dynamics.cpp ----------------------------------------------------===//

  void lowerDerivedParams();
  /// Populations, phases, records, evaluation: the whole schedule of a
  /// model with dynamics.
  void lowerDynamics();
  void declareMembers();
  /// One phase's block: the populations' statements in order, then records.
  ir::Block lowerPhase(int phase, const ast::Expr *steps, bool evaluation,
                       const ast::Expr *predict);
  void lowerMemberUpdate(int phase, int population, int member);
  void lowerOde(const sema::CheckedMember &member, ir::TensorId state, const ast::Expr *rhs);
  void lowerRecord(const ast::Expr *value, ir::TensorId out);
  /// A scalar Expr for a phase's length or window: steps, or stepsExpr.
  ExprPtr scalarExpr(const ast::Expr *e);
  Value lowerMemberRead(const ast::Expr *use);
  ir::TensorId memberBuffer(int population, int member, int lag);
  std::optional<Value> lowerDynamicsCall(const ast::CallExpr *call);
  int drawSite(const ast::CallExpr *call);

  /// W @ fir(x, taps) (or if(flag, fir(x, taps), x)) where x is drawn: the
  /// product of a filtered spike train is the filtered sum of per-step
  /// products W @ x, and each of those is a product with a mostly-zero
  /// vector, which the runtime does as a sparse sum of W's columns. The
  /// per-step products keep a history like any member.
  struct SpikeProduct {
    ir::TensorId weight = -1;
    int population = -1, member = -1;   // x
    int lagX = 0;                       // fir's read of x
    const ast::CallExpr *fir = nullptr; // the filter (its taps)
    const ast::Expr *flag = nullptr;    // if(flag, fir, x), or null
    int readLag = 0;                    // this product's read of the filtered member
    int depth = 0;                      // the history this read needs
    int shared = -1;                    // its (weight, x) history in spikeHistories
  };
  struct SpikeHistory {
    ir::TensorId weight = -1;
    int population = -1, member = -1;
    ir::TensorId first = -1; // P@0 = W @ x now, P@k = k steps ago
    int depth = 0;
  };
  /// The spike product `b` is, if it is one (matched once, in a pre-pass).
  std::optional<SpikeProduct> matchSpikeProduct(const ast::BinaryExpr *b);
  void findSpikeProducts();
  std::optional<Value> lowerSpikeProduct(const ast::BinaryExpr *b);
  /// After member (population, member) is computed: its per-step products.
  void updateSpikeProducts(int population, int member);
  Value firTap(const ast::CallExpr *fir, int j);
  std::map<const ast::BinaryExpr *, SpikeProduct> spikeProducts;
  std::vector<SpikeHistory> spikeHistories;
  std::pair<int, int> position{-1, -1}; // population, statement being lowered

  // Per population and member: the tensor of its value; older values follow.
  std::vector<std::vector<ir::TensorId>> memberIds;
  std::vector<ir::TensorId> recordIds;
  // While lowering a member's own update after its history rotated: reads
  // of it see one buffer further back.
  std::pair<int, int> rotatedMember{-1, -1};
  // While lowering an ODE's right-hand side at an intermediate value.
  std::pair<int, int> substitutedMember{-1, -1};
  const Value *substitute = nullptr;
  // iota(n) at element `iotaIndex` while lowering a filter's taps.
  int iotaIndex = -1;
  // mean(x, last K) inside a record: the accumulator holding it.
  std::map<const ast::CallExpr *, ir::TensorId> windowIds;
  std::map<const ast::CallExpr *, int> drawSites;
  ir::TensorId predictId = -1;

  //===-- Images.cpp: convolution, pooling, batch normalisation ------------===//

  std::optional<Value> lowerImageCall(const ast::CallExpr *call);
  Value lowerBatchNorm(const ast::CallExpr *call);
  /// The forward block as evaluation runs it: batchnorm's batch statistics
  /// replaced by its running ones, which only training updates.
  ir::Block evaluationForward(const ir::Block &forward);
  struct BatchNormStatistics {
    ir::TensorId mean, var;               // of the batch, [1, n]
    ir::TensorId runningMean, runningVar; // state, updated in training
  };
  std::vector<BatchNormStatistics> batchNorms;

  static ir::Block cloneBlock(const ir::Block &b) {
    ir::Block copy{b.name, b.steps, {}};
    for (const ir::Op &op : b.ops) {
      if (auto *g = std::get_if<ir::GemmOp>(&op)) {
        copy.ops.push_back(*g);
        continue;
      }
      if (auto *i = std::get_if<ir::ImageOp>(&op)) {
        copy.ops.push_back(*i);
        continue;
      }
      const auto &k = std::get<ir::KernelOp>(op);
      ir::KernelOp c{k.kind, k.reduce, k.name, k.rows, k.cols, {}};
      for (const ir::KernelOutput &o : k.outputs)
        c.outputs.push_back({o.tensor, o.value->clone(), o.stored});
      copy.ops.push_back(std::move(c));
    }
    return copy;
  }

  const sema::CheckedModel &model;
  ir::Module m;
  ir::Block *block = nullptr;
  // What holds each tensor, layer and learn-block value, by sema's indices.
  std::vector<ir::TensorId> tensorIds, layerIds, letIds;
  std::map<std::string, unsigned> nameUses;
  std::set<ir::TensorId> anonymous; // products not yet named after a value
  std::map<std::pair<ir::TensorId, ir::TensorId>, ir::TensorId> gradients; // (loss, weight)
};

} // namespace bdl::lowering

#endif // BDL_LOWER_LOWERER_H
