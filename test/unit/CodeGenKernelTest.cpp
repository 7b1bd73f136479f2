//===- CodeGenKernelTest.cpp - Generated CPU kernels against C++ references ===//
#include "CodeGenTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

using namespace bdl;
using namespace bdl::codegen;
using namespace bdl::codegen::test;
using ir::Access;
using ir::Dim;
using ir::ExprOp;

namespace {

std::vector<float> randoms(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(gen);
  return v;
}

/// |got - want| <= rel * |want| + abs, with NaN == NaN and inf == inf.
::testing::AssertionResult near(float got, double want, double rel, double abs = 0) {
  if (std::isnan(want)   ? std::isnan(got)
      : std::isinf(want) ? got == want
                         : std::fabs(got - want) <= rel * std::fabs(want) + abs)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want << " (error "
                                       << std::fabs(got - want) / std::fabs(want) << " relative)";
}

constexpr float kSentinel = -12345.0f;

// The kernels here draw nothing; the context is passed as the ABI requires.
const BdlContext kCtx{};

// out = sigmoid(a * w + bias + s * hp[gain]) over [batch, 37], reading a
// Full, w Col, bias Row and s Scalar: every access kind and a slot.
struct AffineSigmoid {
  ir::Module m;
  ir::TensorId a, w, bias, s, out;
  static constexpr int64_t kCols = 37;

  AffineSigmoid() {
    Dim B = Dim::batch(), C = Dim::constant(kCols), one = Dim::constant(1);
    a = m.addTensor(tensor("a", B, C, ir::Role::Input));
    w = m.addTensor(tensor("w", one, C, ir::Role::Weight));
    bias = m.addTensor(tensor("bias", B, one, ir::Role::State));
    s = m.addTensor(tensor("s", one, one, ir::Role::Weight));
    out = m.addTensor(tensor("out", B, C));
    m.params.push_back({"gain", 0.7});
    ir::KernelOp k;
    k.name = "affine.sigmoid";
    k.rows = B;
    k.cols = C;
    auto affine = bin(
        ExprOp::Add,
        bin(ExprOp::Add, bin(ExprOp::Mul, load(a), load(w, Access::Col)), load(bias, Access::Row)),
        bin(ExprOp::Mul, load(s, Access::Scalar), ir::Expr::slot(ir::kFirstParamSlot)));
    k.outputs.push_back(output(out, un(ExprOp::Sigmoid, std::move(affine))));
    addKernel(m, std::move(k));
  }
};

TEST(CodeGenKernel, MapAllAccessKinds) {
  AffineSigmoid t;
  auto j = jit(t.m);
  ASSERT_TRUE(j);
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "affine.sigmoid"));
  ASSERT_TRUE(fn);
  ASSERT_EQ(kernelSymbol(0, "affine.sigmoid"), "bdl_k0_affine_sigmoid");

  const int64_t rows = 5, cols = AffineSigmoid::kCols;
  auto a = randoms(rows * cols, -4, 4, 1), w = randoms(cols, -2, 2, 2),
       bias = randoms(rows, -1, 1, 3);
  std::vector<float> s{0.5f}, out(rows * cols, kSentinel);
  float hp[] = {float(rows), 1.0f / rows, 0.0f, 0.7f};
  float *tensors[] = {a.data(), w.data(), bias.data(), s.data(), out.data()};

  auto want = [&](int64_t r, int64_t c) {
    float x = a[r * cols + c] * w[c] + bias[r] + s[0] * hp[ir::kFirstParamSlot];
    return 1.0 / (1.0 + std::exp(-double(x)));
  };
  // A partial row range leaves the other rows alone.
  fn(1, 3, cols, tensors, hp, &kCtx);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      if (r == 1 || r == 2)
        EXPECT_TRUE(near(out[r * cols + c], want(r, c), 1e-6)) << r << "," << c;
      else
        EXPECT_EQ(out[r * cols + c], kSentinel) << r << "," << c;
    }
  fn(0, 1, cols, tensors, hp, &kCtx);
  fn(3, 5, cols, tensors, hp, &kCtx);
  fn(2, 2, cols, tensors, hp, &kCtx); // empty range
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      EXPECT_TRUE(near(out[r * cols + c], want(r, c), 1e-6)) << r << "," << c;
}

// Every optimisation level gives a working kernel (O0 must still inline the
// element function and loop nest).
class CodeGenOptLevel : public ::testing::TestWithParam<int> {};

TEST_P(CodeGenOptLevel, AffineSigmoid) {
  AffineSigmoid t;
  JitOptions opts;
  opts.optLevel = GetParam();
  auto j = jit(t.m, opts);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->optimizedIR.find(".elem("), std::string::npos) << j->optimizedIR;
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "affine.sigmoid"));
  ASSERT_TRUE(fn);
  const int64_t rows = 3, cols = AffineSigmoid::kCols;
  auto a = randoms(rows * cols, -4, 4, 13), w = randoms(cols, -2, 2, 14),
       bias = randoms(rows, -1, 1, 15);
  std::vector<float> s{-0.25f}, out(rows * cols, kSentinel);
  float hp[] = {float(rows), 1.0f / rows, 0.0f, 0.7f};
  float *tensors[] = {a.data(), w.data(), bias.data(), s.data(), out.data()};
  fn(0, rows, cols, tensors, hp, &kCtx);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float x = a[r * cols + c] * w[c] + bias[r] + s[0] * hp[ir::kFirstParamSlot];
      EXPECT_TRUE(near(out[r * cols + c], 1.0 / (1.0 + std::exp(-double(x))), 1e-6));
    }
}

INSTANTIATE_TEST_SUITE_P(Levels, CodeGenOptLevel, ::testing::Values(0, 1, 2, 3));

// exp, sigmoid and tanh over their whole float range (a flat loop: no Row
// or Col reads), inline polynomial and libm.
class CodeGenMath : public ::testing::TestWithParam<bool> {};

TEST_P(CodeGenMath, Transcendentals) {
  std::vector<float> x;
  for (float v = -110.0f; v <= 95.0f; v += 0.0137f)
    x.push_back(v);
  for (float v :
       {0.0f, -0.0f, 1e-8f, -1e-8f, 1e-4f, 0.625f, -0.625f, 0.62500006f, 88.72f, 88.7228f, 88.73f,
        -87.3f, -103.9f, -103.98f, -104.5f, std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
    x.push_back(v);
  const int64_t n = x.size();

  ir::Module m;
  Dim one = Dim::constant(1), N = Dim::constant(n);
  auto tx = m.addTensor(tensor("x", one, N));
  auto te = m.addTensor(tensor("e", one, N));
  auto ts = m.addTensor(tensor("s", one, N));
  auto tt = m.addTensor(tensor("t", one, N));
  ir::KernelOp k;
  k.name = "math";
  k.rows = one;
  k.cols = N;
  k.outputs.push_back(output(te, un(ExprOp::Exp, load(tx))));
  k.outputs.push_back(output(ts, un(ExprOp::Sigmoid, load(tx))));
  k.outputs.push_back(output(tt, un(ExprOp::Tanh, load(tx))));
  addKernel(m, std::move(k));

  JitOptions opts;
  opts.emit.inlineExp = GetParam();
  auto j = jit(m, opts);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "math"));
  ASSERT_TRUE(fn);
  std::vector<float> e(n), s(n), t(n);
  float *tensors[] = {x.data(), e.data(), s.data(), t.data()};
  float hp[2] = {1, 1};
  fn(0, 1, n, tensors, hp, &kCtx);

  // Results below 2^-125.5 may flush to 0.
  const double tiny = 1.8e-38;
  double maxExp = 0, maxSig = 0, maxTanh = 0;
  for (int64_t i = 0; i < n; ++i) {
    double xd = x[i];
    double we = std::exp(xd), ws = 1.0 / (1.0 + std::exp(-xd)), wt = std::tanh(xd);
    if (we > std::numeric_limits<float>::max())
      we = std::numeric_limits<double>::infinity();
    EXPECT_TRUE(near(e[i], we, 1e-6, tiny)) << "exp(" << x[i] << ")";
    EXPECT_TRUE(near(s[i], ws, 1e-6, tiny)) << "sigmoid(" << x[i] << ")";
    EXPECT_TRUE(near(t[i], wt, 1e-6, 1e-30)) << "tanh(" << x[i] << ")";
    if (std::isfinite(we) && we > 1e-37)
      maxExp = std::max(maxExp, std::fabs(e[i] - we) / we);
    if (ws > 1e-37)
      maxSig = std::max(maxSig, std::fabs(s[i] - ws) / ws);
    if (std::isfinite(xd) && wt != 0)
      maxTanh = std::max(maxTanh, std::fabs(t[i] - wt) / std::fabs(wt));
  }
  std::printf("max relative error: exp %.3g, sigmoid %.3g, tanh %.3g\n", maxExp, maxSig, maxTanh);
}

INSTANTIATE_TEST_SUITE_P(InlineExp, CodeGenMath, ::testing::Bool());

// The bits of a flat Map do not depend on how the rows are split between
// calls (threads): vector body and scalar remainder compute the same thing.
TEST(CodeGenKernel, RowSplitsGiveIdenticalBits) {
  const int64_t rows = 9, cols = 37;
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(cols);
  auto tx = m.addTensor(tensor("x", B, C)), ty = m.addTensor(tensor("y", B, C));
  ir::KernelOp k;
  k.name = "flat";
  k.rows = B;
  k.cols = C;
  k.outputs.push_back(
      output(ty, bin(ExprOp::Add, un(ExprOp::Tanh, load(tx)),
                     bin(ExprOp::Mul, un(ExprOp::Sigmoid, load(tx)), un(ExprOp::Exp, load(tx))))));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "flat"));
  ASSERT_TRUE(fn);
  auto x = randoms(rows * cols, -6, 6, 16);
  std::vector<float> whole(rows * cols), split(rows * cols);
  float hp[2] = {float(rows), 1.0f / rows};
  float *t1[] = {x.data(), whole.data()};
  fn(0, rows, cols, t1, hp, &kCtx);
  float *t2[] = {x.data(), split.data()};
  for (int64_t r = 0; r < rows; r += 2)
    fn(r, std::min(r + 2, rows), cols, t2, hp, &kCtx);
  EXPECT_EQ(std::memcmp(whole.data(), split.data(), whole.size() * 4), 0);
  for (int64_t r = rows; r > 0; --r)
    fn(r - 1, r, cols, t2, hp, &kCtx);
  EXPECT_EQ(std::memcmp(whole.data(), split.data(), whole.size() * 4), 0);
}

// Every other expression op, on a [3, 19] space.
TEST(CodeGenKernel, ElementwiseOps) {
  const int64_t rows = 3, cols = 19;
  ir::Module m;
  Dim R = Dim::constant(rows), C = Dim::constant(cols);
  auto tx = m.addTensor(tensor("x", R, C)), ty = m.addTensor(tensor("y", R, C));
  struct Case {
    const char *name;
    std::function<ir::ExprPtr()> expr;
    std::function<float(float, float)> ref;
    double tol;
  };
  auto X = [&] { return load(tx); };
  auto Y = [&] { return load(ty); };
  std::vector<Case> cases = {
      {"neg", [&] { return un(ExprOp::Neg, X()); }, [](float x, float) { return -x; }, 0},
      {"log", [&] { return un(ExprOp::Log, un(ExprOp::Abs, X())); },
       [](float x, float) { return std::log(std::fabs(x)); }, 1e-6},
      {"relu", [&] { return un(ExprOp::Relu, X()); },
       [](float x, float) { return x < 0 ? 0.0f : x; }, 0},
      {"step", [&] { return un(ExprOp::Step, X()); },
       [](float x, float) { return x > 0 ? 1.0f : 0.0f; }, 0},
      {"abs", [&] { return un(ExprOp::Abs, X()); }, [](float x, float) { return std::fabs(x); }, 0},
      {"sqrt", [&] { return un(ExprOp::Sqrt, un(ExprOp::Abs, X())); },
       [](float x, float) { return std::sqrt(std::fabs(x)); }, 0},
      {"add", [&] { return bin(ExprOp::Add, X(), Y()); }, [](float x, float y) { return x + y; },
       0},
      {"sub", [&] { return bin(ExprOp::Sub, X(), Y()); }, [](float x, float y) { return x - y; },
       0},
      {"mul", [&] { return bin(ExprOp::Mul, X(), Y()); }, [](float x, float y) { return x * y; },
       0},
      {"div", [&] { return bin(ExprOp::Div, X(), Y()); }, [](float x, float y) { return x / y; },
       0},
      {"pow", [&] { return bin(ExprOp::Pow, un(ExprOp::Abs, X()), Y()); },
       [](float x, float y) { return std::pow(std::fabs(x), y); }, 1e-6},
      {"square", [&] { return bin(ExprOp::Pow, X(), cst(2)); },
       [](float x, float) { return x * x; }, 0},
      {"max", [&] { return bin(ExprOp::Max, X(), Y()); },
       [](float x, float y) { return std::fmax(x, y); }, 0},
      {"min", [&] { return bin(ExprOp::Min, X(), Y()); },
       [](float x, float y) { return std::fmin(x, y); }, 0},
      {"const", [&] { return bin(ExprOp::Mul, cst(0.25f), X()); },
       [](float x, float) { return 0.25f * x; }, 0},
  };
  ir::KernelOp k;
  k.name = "ops";
  k.rows = R;
  k.cols = C;
  std::vector<ir::TensorId> outs;
  for (const Case &c : cases) {
    outs.push_back(m.addTensor(tensor(c.name, R, C)));
    k.outputs.push_back(output(outs.back(), c.expr()));
  }
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "ops"));
  ASSERT_TRUE(fn);

  auto x = randoms(rows * cols, -3, 3, 4), y = randoms(rows * cols, -3, 3, 5);
  x[0] = 0.0f; // relu/step at 0
  y[1] = 0.0f; // division by zero
  std::vector<std::vector<float>> results(cases.size(), std::vector<float>(rows * cols));
  std::vector<float *> tensors{x.data(), y.data()};
  for (auto &r : results)
    tensors.push_back(r.data());
  float hp[2] = {1, 1};
  fn(0, rows, cols, tensors.data(), hp, &kCtx);
  for (size_t c = 0; c < cases.size(); ++c)
    for (int64_t i = 0; i < rows * cols; ++i) {
      float want = cases[c].ref(x[i], y[i]);
      if (cases[c].tol == 0)
        EXPECT_EQ(results[c][i], want) << cases[c].name << " at " << i;
      else
        EXPECT_TRUE(near(results[c][i], want, cases[c].tol)) << cases[c].name << " at " << i;
    }
}

// Outputs evaluate in order; stored=false outputs are only Locals; a stored
// output is visible to later Loads of the same tensor at the same element.
TEST(CodeGenKernel, LocalsAndOutputOrder) {
  const int64_t rows = 4, cols = 13;
  ir::Module m;
  Dim R = Dim::batch(), C = Dim::constant(cols);
  auto ta = m.addTensor(tensor("a", R, C)), tv = m.addTensor(tensor("v", R, C)),
       tu = m.addTensor(tensor("u", R, C)), tunused = m.addTensor(tensor("unused", R, C));
  ir::KernelOp k;
  k.name = "locals";
  k.rows = R;
  k.cols = C;
  // 0: l = 2a + 1 (not stored; its tensor id is never written)
  k.outputs.push_back(
      output(tunused, bin(ExprOp::Add, bin(ExprOp::Mul, cst(2), load(ta)), cst(1)), false));
  // 1: v = l * l + v
  k.outputs.push_back(output(
      tv, bin(ExprOp::Add, bin(ExprOp::Mul, ir::Expr::local(0), ir::Expr::local(0)), load(tv))));
  // 2: u = relu(v - 3), reading the v just stored
  k.outputs.push_back(output(tu, un(ExprOp::Relu, bin(ExprOp::Sub, load(tv), cst(3)))));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "locals"));
  ASSERT_TRUE(fn);

  auto a = randoms(rows * cols, -2, 2, 6), v = randoms(rows * cols, -2, 2, 7);
  std::vector<float> v0 = v, u(rows * cols, kSentinel), unused(rows * cols, kSentinel);
  float *tensors[] = {a.data(), v.data(), u.data(), unused.data()};
  float hp[2] = {float(rows), 1.0f / rows};
  fn(0, rows, cols, tensors, hp, &kCtx);
  for (int64_t i = 0; i < rows * cols; ++i) {
    float l = 2 * a[i] + 1;
    float nv = l * l + v0[i];
    EXPECT_EQ(v[i], nv) << i;
    EXPECT_EQ(u[i], nv - 3 < 0 ? 0.0f : nv - 3) << i;
    EXPECT_EQ(unused[i], kSentinel) << i;
  }
}

// A reduction module: out[r] = reduce_c (a[r, c] * w[c]) over [batch, cols].
ir::Module rowReduceModule(ir::KernelOp::Reduce reduce, Dim cols) {
  ir::Module m;
  Dim B = Dim::batch(), one = Dim::constant(1);
  m.params.push_back({"n", 37, ir::ParamType::Int});
  auto a = m.addTensor(tensor("a", B, cols)), w = m.addTensor(tensor("w", one, cols));
  auto out = m.addTensor(tensor("out", B, one));
  ir::KernelOp k;
  k.kind = ir::KernelOp::Kind::RowReduce;
  k.reduce = reduce;
  k.name = "rowreduce";
  k.rows = B;
  k.cols = cols;
  k.outputs.push_back(output(out, bin(ExprOp::Mul, load(a), load(w, Access::Col))));
  addKernel(m, std::move(k));
  return m;
}

struct RowReduceCase {
  ir::KernelOp::Reduce reduce;
  bool dynamicCols;
};

class CodeGenRowReduce : public ::testing::TestWithParam<RowReduceCase> {};

TEST_P(CodeGenRowReduce, MatchesReference) {
  auto [reduce, dynamicCols] = GetParam();
  const int64_t rows = 6, cols = 37;
  auto m = rowReduceModule(reduce, dynamicCols ? Dim::param(0) : Dim::constant(cols));
  auto j = jit(m);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "rowreduce"));
  ASSERT_TRUE(fn);
  auto a = randoms(rows * cols, -3, 3, 8), w = randoms(cols, -1, 1, 9);
  std::vector<float> out(rows, kSentinel);
  float *tensors[] = {a.data(), w.data(), out.data()};
  float hp[3] = {float(rows), 1.0f / rows, float(cols)};
  fn(2, 5, cols, tensors, hp, &kCtx);
  fn(0, 2, cols, tensors, hp, &kCtx);
  for (int64_t r = 0; r < rows; ++r) {
    if (r == 5) {
      EXPECT_EQ(out[r], kSentinel);
      continue;
    }
    double sum = 0, sumAbs = 0;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cols; ++c) {
      float v = a[r * cols + c] * w[c];
      sum += v;
      sumAbs += std::fabs(v);
      mx = std::fmax(mx, v);
    }
    if (reduce == ir::KernelOp::Reduce::Max)
      EXPECT_EQ(out[r], mx) << r;
    else // reassociated float sum
      EXPECT_NEAR(out[r], sum, 1e-6 * sumAbs * cols) << r;
  }
  // Reproducible: the same call gives the same bits.
  std::vector<float> again(rows, kSentinel);
  float *tensors2[] = {a.data(), w.data(), again.data()};
  fn(0, rows, cols, tensors2, hp, &kCtx);
  for (int64_t r = 0; r < 5; ++r)
    EXPECT_EQ(std::memcmp(&again[r], &out[r], 4), 0);
}

INSTANTIATE_TEST_SUITE_P(Kinds, CodeGenRowReduce,
                         ::testing::Values(RowReduceCase{ir::KernelOp::Reduce::Sum, false},
                                           RowReduceCase{ir::KernelOp::Reduce::Max, false},
                                           RowReduceCase{ir::KernelOp::Reduce::Sum, true},
                                           RowReduceCase{ir::KernelOp::Reduce::Max, true}));

// out[c] = sum_r a[r, c] * g[r]: zeroes first, sums rows in order (exact).
TEST(CodeGenKernel, ColReduce) {
  const int64_t rows = 7, cols = 37;
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(cols), one = Dim::constant(1);
  auto ta = m.addTensor(tensor("a", B, C)), tg = m.addTensor(tensor("g", B, one));
  auto tout = m.addTensor(tensor("db", one, C));
  ir::KernelOp k;
  k.kind = ir::KernelOp::Kind::ColReduce;
  k.name = "colsum";
  k.rows = B;
  k.cols = C;
  k.outputs.push_back(output(tout, bin(ExprOp::Mul, load(ta), load(tg, Access::Row))));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "colsum"));
  ASSERT_TRUE(fn);
  auto a = randoms(rows * cols, -3, 3, 10), g = randoms(rows, -1, 1, 11);
  std::vector<float> out(cols, kSentinel);
  float *tensors[] = {a.data(), g.data(), out.data()};
  float hp[2] = {float(rows), 1.0f / rows};
  fn(0, rows, cols, tensors, hp, &kCtx);
  for (int64_t c = 0; c < cols; ++c) {
    float sum = 0;
    for (int64_t r = 0; r < rows; ++r)
      sum += a[r * cols + c] * g[r];
    EXPECT_EQ(out[c], sum) << c;
  }
  const BdlModel *model = j->model();
  ASSERT_TRUE(model);
  EXPECT_EQ(model->trainBlocks[0].ops[0].parallel, 0);
}

// A [batch, 1] space (per-example scalars): the unit column loop folds away.
TEST(CodeGenKernel, UnitColumns) {
  ir::Module m;
  Dim B = Dim::batch(), one = Dim::constant(1);
  auto tx = m.addTensor(tensor("x", B, one)), tb = m.addTensor(tensor("b", one, one));
  auto ty = m.addTensor(tensor("y", B, one));
  ir::KernelOp k;
  k.name = "scalarmap";
  k.rows = B;
  k.cols = one;
  // Row and Full reads of x coincide; Col and Scalar reads of b too.
  k.outputs.push_back(
      output(ty, bin(ExprOp::Add, bin(ExprOp::Mul, load(tx, Access::Row), load(tx)),
                     bin(ExprOp::Mul, load(tb, Access::Col), load(tb, Access::Scalar)))));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  auto fn = j->kernel(kernelSymbol(0, "scalarmap"));
  ASSERT_TRUE(fn);
  const int64_t rows = 19;
  auto x = randoms(rows, -2, 2, 12);
  std::vector<float> b{1.5f}, y(rows, kSentinel);
  float *tensors[] = {x.data(), b.data(), y.data()};
  float hp[2] = {float(rows), 1.0f / rows};
  fn(3, rows, 1, tensors, hp, &kCtx);
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(y[r], r < 3 ? kSentinel : x[r] * x[r] + 1.5f * 1.5f) << r;
}

} // namespace
