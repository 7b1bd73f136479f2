//===- IR.h - The bdl intermediate representation --------------*- C++ -*-===//
//
// A compiled model is data the runtime drives (runtime/include/bdl/abi.h):
// tensors with static shapes whose batch dimension is symbolic, runtime
// scalars (hyperparameters), and a schedule of blocks. A block is a phase of
// `steps` time steps; each step runs its ops in order. Ops are matrix products
// (GEMM, executed by BLAS) and fused elementwise kernels whose bodies are
// expression trees evaluated at one element (r, c) of an iteration space
// [rows, cols]. Because a kernel body is a function of its element index, the
// CPU loop nest and a GPU grid can share it.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_IR_H
#define BDL_IR_IR_H

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace bdl::ir {

/// One extent of a tensor: a constant, the batch size (times a constant:
/// the rows of a batch of images, one per pixel), or an integer
/// hyperparameter (so `--set hidden=100` resizes without recompiling).
struct Dim {
  enum class Kind : uint8_t { Const, Batch, Param };
  Kind kind = Kind::Const;
  // The extent for Const, the multiplier (>= 1) for Batch, the parameter
  // index for Param.
  int64_t value = 1;

  static Dim constant(int64_t n) { return {Kind::Const, n}; }
  static Dim batch(int64_t times = 1) { return {Kind::Batch, times}; }
  static Dim param(int64_t index) { return {Kind::Param, index}; }
  bool isOne() const { return kind == Kind::Const && value == 1; }
  bool operator==(const Dim &) const = default;
};

// Mirrors BdlTensorRole.
enum class Role : uint8_t { Input, Target, Weight, Fixed, State, Temp, Optimizer };
// Mirrors BdlInitKind.
enum class InitKind : uint8_t { Zero, Const, Uniform, Normal, Xavier, Kaiming, Eye };
// Mirror BdlParamType / BdlTuneKind.
enum class ParamType : uint8_t { Real, Int, Bool };
enum class TuneKind : uint8_t { None, Linear, Log, Int, Bool, Choice };
// Mirrors BdlParamRange: the values a param may take when the model uses it
// where only those make sense (an optimiser's eps, clip, betas, decay).
enum class ParamRange : uint8_t { Any, Positive, NonNegative, Fraction /* [0, 1) */ };
// Mirrors BdlMetric.
enum class Metric : uint8_t { Accuracy, Loss };

/// What `net tune` scores a trial by, and which way is better: the model's
/// `objective = maximize(accuracy)` (the default) or `minimize(loss)`.
struct Objective {
  Metric metric = Metric::Accuracy;
  bool minimise = false;
  bool operator==(const Objective &) const = default;
};

using TensorId = int32_t;

/// Every tensor is stored row-major as [rows, cols]; a vector is [1, n], a
/// per-example vector [batch, n], a per-example scalar [batch, 1].
struct Tensor {
  std::string name;
  Role role = Role::Temp;
  Dim rows, cols;
  InitKind init = InitKind::Zero;
  float initA = 0, initB = 0;
  // When >= 0, the initialiser argument is hp[slot] (a derived parameter).
  int32_t initASlot = -1, initBSlot = -1;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// A hyperparameter: a runtime scalar at hp[kFirstParamSlot + index].
struct Param {
  std::string name;
  double value = 0;
  ParamType type = ParamType::Real;
  TuneKind tune = TuneKind::None;
  double lo = 0, hi = 0;
  std::vector<double> choices; // TuneKind::Choice: the listed values, in order
  // Checked by the runtime at every --set and tuning trial; `rangeUse` says
  // what needs it ("'clip' of 'sgd' at model.bdl:30:34").
  ParamRange range = ParamRange::Any;
  std::string rangeUse;
  // A derived parameter: recomputed from earlier slots after every change
  // (Module::derive). Null for one the user sets.
  std::shared_ptr<const Expr> derivation;
};

// Runtime scalar slots (BDL_HP_*).
constexpr int kBatchSlot = 0;
constexpr int kInvBatchSlot = 1;
constexpr int kEpochSlot = 2;
constexpr int kFirstParamSlot = 3;

/// How a kernel reads a tensor at element (r, c) of its iteration space.
enum class Access : uint8_t {
  Full,  // t[r, c]: same shape as the iteration space
  Row,   // t[r, 0]: one value per row (a per-example scalar)
  Col,   // t[0, c]: one value per column (a bias broadcast over the batch)
  Scalar // t[0, 0]
};

enum class ExprOp : uint8_t {
  // Leaves.
  Const,   // value
  Slot,    // hp[index]
  Load,    // tensors[index] under `access`
  Local,   // output `index` of the enclosing kernel at this element
  Context, // the integer context field `index` (ContextField), as float
  // Unary.
  Neg,
  Exp,
  Log,
  Tanh,
  Sigmoid,
  Relu,
  Step,
  Abs,
  Sqrt,
  Acos, // in radians; monitors' angle()
  // Binary.
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Max,
  Min,
  // Comparisons: 1 or 0.
  Lt,
  Le,
  Gt,
  Ge,
  Eq,
  Ne,
  // Ternary.
  Select, // operands[0] != 0 ? operands[1] : operands[2]
  // Random draws; `index` is the draw site (a model-wide id, part of the key).
  // Keys: BdlContext, the Philox layout in abi.h; bdl/sampler.h is the
  // host reference every backend must match bit for bit.
  Poisson,   // exact Poisson count with mean operands[0] (float)
  Bernoulli, // 1 with probability operands[0], else 0
  Wald,      // inverse Gaussian (mean operands[0], scale operands[1]); steps only
  Normal,    // standard normal (Box-Muller from uniforms 0 and 1); no operands
};

/// What ExprOp::Context reads (as float; exact up to 2^24).
enum class ContextField : uint8_t {
  Step,  // step within the block, from 0
  Steps, // steps of the block
};

/// A scalar expression at one element of a kernel's iteration space.
struct Expr {
  ExprOp op = ExprOp::Const;
  float value = 0;              // Const
  int32_t index = 0;            // Slot, Load (tensor id), Local (output index)
  Access access = Access::Full; // Load
  std::vector<ExprPtr> operands;

  static ExprPtr constant(float v);
  static ExprPtr slot(int32_t slot);
  static ExprPtr load(TensorId t, Access a);
  static ExprPtr local(int32_t output);
  static ExprPtr unary(ExprOp op, ExprPtr x);
  static ExprPtr binary(ExprOp op, ExprPtr l, ExprPtr r);
  ExprPtr clone() const;
  bool isConst() const { return op == ExprOp::Const; }
};

int arity(ExprOp op);
const char *spelling(ExprOp op);

/// A condition on a param: hp[slot] is non-zero (`nonzero`; NaN counts as
/// non-zero, as in a select) or zero.
struct GuardLiteral {
  int32_t slot = 0;
  bool nonzero = true;
  auto operator<=>(const GuardLiteral &) const = default;
};

/// When an op runs: always when `terms` is empty, else when at least one
/// term holds, a term holding when each of its literals does. The guard
/// pass (transforms/GuardOps.cpp) sets it on an op whose result is read
/// only under `if`s on params; the op computes the same values whenever it
/// runs, so skipping it changes nothing that is read.
struct Guard {
  std::vector<std::vector<GuardLiteral>> terms;
  bool always() const { return terms.empty(); }
  bool operator==(const Guard &) const = default;
};

/// C = alpha * op(A) op(B) + beta * C, with alpha scaled by hp[alphaSlot]
/// when alphaSlot >= 0 (e.g. 1/batch to average an outer product), and beta
/// by hp[betaSlot] when betaSlot >= 0 (a momentum folded into the product).
struct GemmOp {
  TensorId a = -1, b = -1, c = -1;
  bool transA = false, transB = false;
  float alpha = 1;
  int32_t alphaSlot = -1;
  float beta = 0;
  int32_t betaSlot = -1;
  Guard guard;

  /// Whether the product adds to C's previous contents.
  bool readsC() const { return beta != 0; }
};

struct KernelOutput {
  TensorId tensor = -1;
  ExprPtr value;
  bool stored = true; // false: only read by later outputs of the same kernel
};

/// A fused kernel over [rows, cols]. Outputs are computed in order at each
/// element (r, c); a stored one is written to its tensor at (r, c).
///  Map:       every output is element-wise, [rows, cols].
///  RowReduce: the last output is [rows, 1] and reduces `value` over c (sum
///             or max); the outputs before it are element-wise as in a Map.
///  ColReduce: the last output is [1, cols] and sums `value` over r; the
///             outputs before it are element-wise as in a Map.
/// The reduced output is always stored.
struct KernelOp {
  enum class Kind : uint8_t { Map, RowReduce, ColReduce };
  enum class Reduce : uint8_t { Sum, Max };
  Kind kind = Kind::Map;
  Reduce reduce = Reduce::Sum;
  std::string name;
  Dim rows, cols;
  std::vector<KernelOutput> outputs;
};

/// A history of `count` tensors first, first+1, ... (first+j is the value j
/// steps ago) moves one step back; the op after it writes `first` anew.
struct RotateOp {
  TensorId first = -1;
  int32_t count = 0;
  Guard guard;
};

/// `tensor` was just computed; the runtime may overwrite it with recorded
/// values (--replay) before the next op reads it.
struct ReplayOp {
  TensorId tensor = -1;
};

/// out = the gradient of the batch mean of `loss` (a per-example or a
/// model-wide scalar) with respect to `weight`, through the ops before this
/// one in the schedule. A placeholder: the differentiate pass
/// (transforms/Differentiate.cpp) replaces it by the ops of a reverse sweep,
/// and no backend ever sees one.
struct GradOp {
  TensorId loss = -1, weight = -1, out = -1;
};

/// A sliding window over a batch of images. An image of C channels, H rows
/// and W columns is stored channel-last, as rows [batch * H * W, C], so that
/// a per-channel value is a column broadcast and a per-channel statistic a
/// column reduction.
struct Window {
  int32_t channels = 1, height = 1, width = 1;
  int32_t kernelH = 1, kernelW = 1, stride = 1, pad = 0;
  /// Whether every window position lies in the padded image, with at least
  /// one tap inside the image itself (what the image ops assume).
  bool fits() const {
    return kernelH >= 1 && kernelW >= 1 && stride >= 1 && pad >= 0 && pad < kernelH &&
           pad < kernelW && height + 2 * pad >= kernelH && width + 2 * pad >= kernelW;
  }
  int32_t outHeight() const { return (height + 2 * pad - kernelH) / stride + 1; }
  int32_t outWidth() const { return (width + 2 * pad - kernelW) / stride + 1; }
  bool operator==(const Window &) const = default;
};

/// Data movement between images, their patches and their pooled values,
/// executed by the runtime (bdl/image.h holds the one definition of each
/// that every backend and the interpreter share):
///  Im2col:         out [batch*OH*OW, C*KH*KW] = the patch under each window
///                  position (column c*KH*KW + i*KW + j; zero in the padding)
///                  of the image `in` [batch*H*W, C]. A convolution is this
///                  and one GEMM.
///  Col2im:         out [batch*H*W, C] = the adjoint of Im2col: each patch
///                  entry of `in` added back to the pixel it came from.
///  MaxPool:        out [batch*OH*OW, C] = the maximum of each window of `in`.
///  MaxPoolAdjoint: out [batch*H*W, C] = `aux` [batch*OH*OW, C] routed to the
///                  first maximum of each window of the forward input `in`.
///  Reshape:        out = in, element for element (flatten: the same bytes
///                  as a per-example vector); no window.
struct ImageOp {
  enum class Kind : uint8_t { Im2col, Col2im, MaxPool, MaxPoolAdjoint, Reshape };
  Kind kind = Kind::Im2col;
  TensorId in = -1, out = -1, aux = -1;
  Window window;
};
const char *spelling(ImageOp::Kind kind);

using Op = std::variant<GemmOp, KernelOp, RotateOp, ReplayOp, GradOp, ImageOp>;

/// The guard of a GEMM or a rotation, else null (other ops always run).
const Guard *guardOf(const Op &op);
Guard *guardOf(Op &op);

/// A phase: the prologue once, then `steps` repetitions of `ops`. The step
/// count is `steps`, or the value of `stepsExpr` (a scalar over slots and
/// Wald draws, evaluated once per batch on the host) when it is set.
struct Block {
  std::string name;
  int32_t steps = 1;
  ExprPtr stepsExpr;
  bool resetState = false;   // zero every State tensor first (each example)
  bool monitorsOnly = false; // computes monitors; the runtime runs it on logged batches only
  bool afterWarmup = false;  // skipped in the module's warm-up epochs (`learn ... after warmup`)
  std::vector<Op> prologue;
  std::vector<Op> ops;
};

/// A scalar the runtime logs: `tensor` ([1, 1]) after every batch.
struct Monitor {
  std::string name;
  TensorId tensor = -1;
};

struct Module {
  std::string name;
  std::string sourceFile;
  std::string dataset = "fashion_mnist";
  std::vector<Tensor> tensors;
  std::vector<Param> params;
  std::vector<Block> trainBlocks; // phases then learning, per mini-batch
  std::vector<Block> evalBlocks;  // inference phases
  TensorId input = -1, target = -1, predict = -1, loss = -1;
  /// An image input (`input x[C, H, W]`, stored channel-last as
  /// [batch*H*W, C]): its extents, all zero for a vector input.
  int32_t inputChannels = 0, inputHeight = 0, inputWidth = 0;
  std::vector<Monitor> monitors; // in source order
  int32_t epochs = 1, batch = 32, validation = 0;
  int32_t warmup = 0; // the first epochs, in which afterWarmup blocks do not run
  Objective objective;

  TensorId addTensor(Tensor t) {
    tensors.push_back(std::move(t));
    return static_cast<TensorId>(tensors.size() - 1);
  }

  /// Whether the runtime reads `t` after the schedule: anything but a
  /// temporary, and the temporaries it reports (predictions, loss, monitors).
  /// Passes must keep such a tensor stored.
  bool readByRuntime(TensorId t) const {
    if (tensors[t].role != Role::Temp || t == predict || t == loss)
      return true;
    for (const Monitor &mon : monitors)
      if (mon.tensor == t)
        return true;
    return false;
  }
};

/// The one rule for how a kernel reads a tensor: whether a kernel over
/// [rows, cols] can read `t` under `a`. Lowering (accessFor), the verifier
/// and code generation all ask this function.
bool accessFits(const Tensor &t, Access a, Dim rows, Dim cols);

/// The access a kernel over [rows, cols] uses to read `t`: the first of
/// Full, Row, Col, Scalar that fits. False when none does (the shapes do
/// not broadcast).
bool accessFor(const Tensor &t, Dim rows, Dim cols, Access &out);

/// Whether output `index` of `k` is the one a reduction reduces (its last).
inline bool isReducedOutput(const KernelOp &k, size_t index) {
  return k.kind != KernelOp::Kind::Map && index + 1 == k.outputs.size();
}

/// The shape [rows, cols] of output `index` of `k`: the iteration space, or
/// the reduced output's [rows, 1] or [1, cols].
inline std::pair<Dim, Dim> outputShape(const KernelOp &k, size_t index) {
  if (!isReducedOutput(k, index))
    return {k.rows, k.cols};
  if (k.kind == KernelOp::Kind::RowReduce)
    return {k.rows, Dim::constant(1)};
  return {Dim::constant(1), k.cols};
}

/// Calls f(load) for every Load in `e`, in pre-order.
template <typename F> void forEachLoad(const Expr &e, F &&f) {
  if (e.op == ExprOp::Load)
    f(e);
  for (const ExprPtr &o : e.operands)
    if (o)
      forEachLoad(*o, f);
}

} // namespace bdl::ir

#endif // BDL_IR_IR_H
