//===- CodeGenSamplerTest.cpp - Generated draws against bdl/sampler.h -----===//
//
// The kernels' Bernoulli and Poisson draws, compiled through the real code
// generator and JIT, must equal the host reference bit for bit, whatever the
// context and however rows are split; the reference itself must have the
// right distribution. Also the other ops of dynamics: comparisons, selects,
// the context, step functions, derived params and the descriptor fields.
//
//===----------------------------------------------------------------------===//
#include "CodeGenTestUtil.h"

#include "codegen/Sampler.h"

#include "bdl/sampler.h"
#include "ir/Verifier.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/TargetParser/Host.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>

using namespace bdl;
using namespace bdl::codegen;
using namespace bdl::codegen::test;
using ir::Access;
using ir::Dim;
using ir::ExprOp;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

ir::ExprPtr draw(ExprOp op, int32_t site, ir::ExprPtr x) {
  ir::ExprPtr e = un(op, std::move(x));
  e->index = site;
  return e;
}

ir::ExprPtr context(ir::ContextField f) {
  auto e = std::make_unique<ir::Expr>();
  e->op = ExprOp::Context;
  e->index = static_cast<int32_t>(f);
  return e;
}

ir::ExprPtr select(ir::ExprPtr c, ir::ExprPtr a, ir::ExprPtr b) {
  auto e = std::make_unique<ir::Expr>();
  e->op = ExprOp::Select;
  e->operands.push_back(std::move(c));
  e->operands.push_back(std::move(a));
  e->operands.push_back(std::move(b));
  return e;
}

bool sameBits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

constexpr int32_t kPoissonSite = 5, kBernoulliSite = 9;

/// $0 %n = poisson[5](%lam), $1 %b = bernoulli[9](%p) over [batch, cols].
struct Draws {
  ir::Module m;
  ir::TensorId lam, p, n, b;
  explicit Draws(int64_t cols) {
    Dim B = Dim::batch(), C = Dim::constant(cols);
    lam = m.addTensor(tensor("lam", B, C, ir::Role::Input));
    p = m.addTensor(tensor("p", B, C, ir::Role::Input));
    n = m.addTensor(tensor("n", B, C));
    b = m.addTensor(tensor("b", B, C));
    ir::KernelOp k;
    k.name = "draws";
    k.rows = B;
    k.cols = C;
    k.outputs.push_back(output(n, draw(ExprOp::Poisson, kPoissonSite, load(lam))));
    k.outputs.push_back(output(b, draw(ExprOp::Bernoulli, kBernoulliSite, load(p))));
    addKernel(m, std::move(k));
  }
};

/// Means across every regime: not positive, NaN, tiny, around the chunk
/// size, chunked, clamped, infinite.
std::vector<float> lambdas(size_t n, unsigned seed) {
  std::vector<float> special = {0.0f,     -0.0f, -1.0f,  kNaN,    -kInf,    1e-30f,   1e-7f,
                                0.01f,    0.2f,  1.0f,   3.0f,    31.999f,  32.0f,    32.0001f,
                                64.0f,    64.5f, 100.0f, 1000.0f, 32768.0f, 40000.0f, kInf,
                                0x1p-24f, 7.25f, 15.0f,  16.0f};
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> logU(std::log(1e-6f), std::log(300.0f));
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = i < special.size() ? special[i] : std::exp(logU(gen));
  std::shuffle(v.begin(), v.end(), gen);
  return v;
}

std::vector<BdlContext> contexts() {
  return {
      {0, 0, 0, 0, 1, 0, 0},
      {42, 0, 5, 3, 10, 1, 0},
      {0x0123456789abcdefull, 1000, 0, 0, 1, 2, 0},
      {7, -5, 0, 17, 20, 0x81, 0}, // an evaluation block, a negative example index
      {~0ull, int64_t(1) << 40, 99, (1 << 24) - 1, 1 << 24, 127, 0},
  };
}

TEST(CodeGenSampler, ExpNegIsAccurate) {
  for (float mu = 0; mu <= sampler::kPoissonChunk; mu += 1.0f / 64) {
    double want = std::exp(-double(mu));
    EXPECT_NEAR(sampler::expNeg(mu), want, 4e-7 * want) << "mu " << mu;
  }
  EXPECT_EQ(sampler::expNeg(0), 1.0f);
}

// At every optimisation level: the optimiser must not change a bit.
class KernelDraws : public ::testing::TestWithParam<int> {};

TEST_P(KernelDraws, EqualReferenceBitForBit) {
  const int64_t rows = 6, cols = 97;
  Draws t(cols);
  JitOptions opts;
  opts.optLevel = GetParam();
  auto j = jit(t.m, opts);
  ASSERT_TRUE(j);
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "draws"));
  ASSERT_TRUE(fn);
  std::vector<float> lam = lambdas(rows * cols, 1), p(rows * cols);
  std::mt19937 gen(2);
  std::uniform_real_distribution<float> u(-0.1f, 1.1f);
  for (float &x : p)
    x = u(gen);
  p[0] = kNaN, p[1] = 0, p[2] = 1, p[3] = -kInf;
  std::vector<float> n(rows * cols), b(rows * cols);
  float *tensors[] = {lam.data(), p.data(), n.data(), b.data()};
  float hp[ir::kFirstParamSlot] = {float(rows), 1.0f / rows, 0};
  size_t nonzero = 0, chunked = 0;
  for (const BdlContext &ctx : contexts()) {
    fn(0, rows, cols, tensors, hp, &ctx);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        size_t i = r * cols + c;
        float wantN = sampler::poisson(sampler::drawKey(ctx, kPoissonSite, r, c), lam[i]);
        float wantB = sampler::bernoulli(sampler::drawKey(ctx, kBernoulliSite, r, c), p[i]);
        ASSERT_TRUE(sameBits(n[i], wantN))
            << "poisson(" << lam[i] << ") at (" << r << ", " << c << "): " << n[i] << " vs "
            << wantN << ", seed " << ctx.seed;
        ASSERT_TRUE(sameBits(b[i], wantB)) << "bernoulli(" << p[i] << ") at " << r << ", " << c;
        nonzero += n[i] != 0;
        chunked += lam[i] > sampler::kPoissonChunk;
      }
  }
  EXPECT_GT(nonzero, 500u);
  EXPECT_GT(chunked, 10u);
}

INSTANTIATE_TEST_SUITE_P(CodeGenSampler, KernelDraws, ::testing::Values(0, 2, 3));

/// Poisson outputs of every form the fast path takes, and one it must not:
///   $0 %n  = poisson[5](%lam)
///   $1 %s  = select(hp[3], poisson[6](%lam), %lam)          (uniform condition)
///   $2 %q  = select(gt(%p, 0.5), poisson[7](%lam), poisson[8](mul(%lam, 3)))
/// and in a second kernel
///   $0 %w  = poisson[10](%lam)                              (read by $1: inline)
///   $1 %w1 = add(%w, 1)
struct DeferredDraws {
  ir::Module m;
  ir::TensorId lam, p, n, s, q, w, w1;
  explicit DeferredDraws(int64_t cols) {
    Dim B = Dim::batch(), C = Dim::constant(cols);
    lam = m.addTensor(tensor("lam", B, C, ir::Role::Input));
    p = m.addTensor(tensor("p", B, C, ir::Role::Input));
    n = m.addTensor(tensor("n", B, C));
    s = m.addTensor(tensor("s", B, C));
    q = m.addTensor(tensor("q", B, C));
    w = m.addTensor(tensor("w", B, C));
    w1 = m.addTensor(tensor("w1", B, C));
    m.params.push_back({"spiking", 1});
    ir::KernelOp k;
    k.name = "deferred";
    k.rows = B;
    k.cols = C;
    k.outputs.push_back(output(n, draw(ExprOp::Poisson, 5, load(lam))));
    k.outputs.push_back(output(s, select(ir::Expr::slot(ir::kFirstParamSlot),
                                         draw(ExprOp::Poisson, 6, load(lam)), load(lam))));
    k.outputs.push_back(
        output(q, select(bin(ExprOp::Gt, load(p), cst(0.5f)), draw(ExprOp::Poisson, 7, load(lam)),
                         draw(ExprOp::Poisson, 8, bin(ExprOp::Mul, load(lam), cst(3))))));
    addKernel(m, std::move(k));
    ir::KernelOp read;
    read.name = "read";
    read.rows = B;
    read.cols = C;
    read.outputs.push_back(output(w, draw(ExprOp::Poisson, 10, load(lam))));
    read.outputs.push_back(output(w1, bin(ExprOp::Add, load(w), cst(1))));
    addKernel(m, std::move(read));
  }
};

struct Target {
  const char *cpu, *features, *needs; // needs: a host feature, or null
  int optLevel;
};

// The fast path and its tail, vectorised for AVX2 and AVX-512 (512-bit
// vectors), must give the reference's bits, as must the inline search.
class DeferredKernelDraws : public ::testing::TestWithParam<Target> {};

TEST_P(DeferredKernelDraws, EqualReferenceBitForBit) {
  const Target &target = GetParam();
  if (target.needs && !llvm::sys::getHostCPUFeatures().lookup(target.needs))
    GTEST_SKIP() << "the host has no " << target.needs;
  // Rows of many vectors and a remainder, and a row of less than one.
  const int64_t rows = 5;
  for (int64_t cols : {203, 10})
    for (bool defer : {true, false}) {
      DeferredDraws t(cols);
      JitOptions opts;
      opts.optLevel = target.optLevel;
      opts.cpu = target.cpu;
      opts.features = target.features;
      opts.emit.deferDraws = defer;
      auto j = jit(t.m, opts);
      ASSERT_TRUE(j);
      // Deferred, the row's pass vectorises (at O2 and up).
      if (target.optLevel >= 2) {
        EXPECT_EQ(j->optimizedIR.find("<16 x float>") != std::string::npos, defer);
      }
      BdlKernelFn fn = j->kernel(kernelSymbol(0, "deferred")),
                  read = j->kernel(kernelSymbol(1, "read"));
      ASSERT_TRUE(fn && read);
      // Means of every regime, many small ones: most counts come from the fast
      // path, some from the tail in every row.
      std::vector<float> lam = lambdas(rows * cols, 7), p(rows * cols);
      std::mt19937 gen(8);
      std::uniform_real_distribution<float> u(0, 1);
      for (size_t i = 0; i < lam.size(); ++i) {
        p[i] = u(gen);
        if (i % 3)
          lam[i] = 2 * u(gen);
      }
      std::vector<std::vector<float>> o(5, std::vector<float>(rows * cols, kNaN));
      float *tensors[] = {lam.data(),  p.data(),    o[0].data(), o[1].data(),
                          o[2].data(), o[3].data(), o[4].data()};
      size_t tail = 0;
      for (float spiking : {1.0f, 0.0f})
        for (const BdlContext &ctx : contexts()) {
          float hp[] = {float(rows), 1.0f / rows, 0, spiking};
          fn(0, rows, cols, tensors, hp, &ctx);
          read(0, rows, cols, tensors, hp, &ctx);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              size_t i = r * cols + c;
              auto poisson = [&](int32_t site, float x) {
                return sampler::poisson(sampler::drawKey(ctx, site, r, c), x);
              };
              float want[] = {poisson(5, lam[i]), spiking != 0 ? poisson(6, lam[i]) : lam[i],
                              p[i] > 0.5f ? poisson(7, lam[i]) : poisson(8, lam[i] * 3),
                              poisson(10, lam[i]), poisson(10, lam[i]) + 1};
              for (int k = 0; k < 5; ++k)
                ASSERT_TRUE(sameBits(o[k][i], want[k]))
                    << "output " << k << " at (" << r << ", " << c << "), lambda " << lam[i] << ": "
                    << o[k][i] << " vs " << want[k] << ", seed " << ctx.seed << ", cols " << cols;
              tail += want[0] > float(kPoissonFastMaxCount) || lam[i] > sampler::kPoissonChunk;
            }
        }
      EXPECT_GT(tail, size_t(5 * rows));
    }
}

INSTANTIATE_TEST_SUITE_P(CodeGenSampler, DeferredKernelDraws,
                         ::testing::Values(Target{"host", "", nullptr, 2},
                                           Target{"x86-64-v3", "", "avx2", 2},
                                           Target{"x86-64-v3", "", "avx2", 3},
                                           Target{"x86-64-v4", "-prefer-256-bit", "avx512f", 2},
                                           Target{"x86-64-v4", "-prefer-256-bit", "avx512f", 3}),
                         [](const ::testing::TestParamInfo<Target> &info) {
                           std::string name = std::string(info.param.cpu) + "_O" +
                                              std::to_string(info.param.optLevel);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(CodeGenSampler, DrawsAtEdges) {
  // Every element: not positive or NaN counts 0; p <= 0 never, p >= 1 always.
  BdlContext ctx{3, 0, 0, 0, 1, 0, 0};
  for (int c = 0; c < 100; ++c) {
    sampler::DrawKey k = sampler::drawKey(ctx, 1, 0, c);
    EXPECT_EQ(sampler::poisson(k, 0), 0);
    EXPECT_EQ(sampler::poisson(k, -3), 0);
    EXPECT_EQ(sampler::poisson(k, kNaN), 0);
    EXPECT_EQ(sampler::bernoulli(k, 0), 0);
    EXPECT_EQ(sampler::bernoulli(k, kNaN), 0);
    EXPECT_EQ(sampler::bernoulli(k, 1), 1);
    // Clamped: an infinite mean is the largest one.
    EXPECT_EQ(sampler::poisson(k, kInf), sampler::poisson(k, sampler::kPoissonMaxMean));
  }
}

TEST(CodeGenSampler, ResultsDoNotDependOnRowSplitOrBatching) {
  const int64_t rows = 9, cols = 33;
  Draws t(cols);
  auto j = jit(t.m);
  ASSERT_TRUE(j);
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "draws"));
  std::vector<float> lam = lambdas(rows * cols, 3), p(rows * cols, 0.4f);
  std::vector<float> n1(rows * cols), b1(rows * cols), n2(rows * cols, -1), b2(rows * cols, -1);
  float hp[ir::kFirstParamSlot] = {float(rows), 1.0f / rows, 0};
  BdlContext ctx{11, 100, 0, 4, 8, 1, 0};
  float *all[] = {lam.data(), p.data(), n1.data(), b1.data()};
  fn(0, rows, cols, all, hp, &ctx);
  float *split[] = {lam.data(), p.data(), n2.data(), b2.data()};
  fn(0, 2, cols, split, hp, &ctx);
  fn(5, rows, cols, split, hp, &ctx);
  fn(2, 3, cols, split, hp, &ctx);
  fn(3, 5, cols, split, hp, &ctx);
  for (int64_t i = 0; i < rows * cols; ++i) {
    ASSERT_TRUE(sameBits(n1[i], n2[i])) << i;
    ASSERT_TRUE(sameBits(b1[i], b2[i])) << i;
  }
  // The same examples in another batch, at other rows: the same draws.
  const int64_t shift = 4;
  BdlContext later = ctx;
  later.example0 = ctx.example0 + shift;
  std::vector<float> n3(rows * cols, -1), b3(rows * cols, -1);
  float *shifted[] = {lam.data() + shift * cols, p.data() + shift * cols, n3.data(), b3.data()};
  fn(0, rows - shift, cols, shifted, hp, &later);
  for (int64_t i = 0; i < (rows - shift) * cols; ++i)
    ASSERT_TRUE(sameBits(n3[i], n1[i + shift * cols])) << i;
  // Another step draws anew.
  BdlContext next = ctx;
  next.step = ctx.step + 1;
  fn(0, rows, cols, split, hp, &next);
  int same = 0;
  for (int64_t i = 0; i < rows * cols; ++i)
    same += b1[i] == b2[i];
  EXPECT_LT(same, rows * cols * 3 / 4);
}

/// Pearson's chi-square over the counts of `draws`, bins merged until each
/// expects >= 5, against the 0.999 quantile (Wilson-Hilferty).
void expectPoisson(const std::vector<float> &draws, double lambda) {
  const double n = double(draws.size());
  std::map<int, double> observed;
  double sum = 0, sum2 = 0;
  for (float x : draws) {
    ASSERT_EQ(x, std::floor(x));
    observed[int(x)] += 1;
    sum += x;
    sum2 += double(x) * x;
  }
  double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, lambda, 5 * std::sqrt(lambda / n)) << "lambda " << lambda;
  EXPECT_NEAR(var, lambda, 6 * std::sqrt((lambda + 2 * lambda * lambda) / n))
      << "lambda " << lambda;

  int kmax = int(lambda + 20 * std::sqrt(lambda) + 20);
  std::vector<double> expected, seen;
  double pk = std::exp(-lambda), binE = 0, binO = 0, cdf = 0;
  for (int k = 0; k <= kmax; ++k) {
    if (k > 0)
      pk *= lambda / k;
    cdf += pk;
    binE += n * pk;
    binO += observed.count(k) ? observed[k] : 0;
    if (binE >= 5 && n * (1 - cdf) >= 5) {
      expected.push_back(binE);
      seen.push_back(binO);
      binE = binO = 0;
    }
  }
  // The tail: everything above the last closed bin.
  double tailO = 0;
  for (auto [k, count] : observed)
    tailO += count;
  for (double o : seen)
    tailO -= o;
  expected.push_back(n - std::accumulate(expected.begin(), expected.end(), 0.0));
  seen.push_back(tailO);
  double chi2 = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    chi2 += (seen[i] - expected[i]) * (seen[i] - expected[i]) / expected[i];
  double df = double(expected.size() - 1), z = 3.09;
  double crit = df * std::pow(1 - 2 / (9 * df) + z * std::sqrt(2 / (9 * df)), 3);
  EXPECT_LT(chi2, crit) << "lambda " << lambda << ": " << expected.size() << " bins";
  EXPECT_GE(expected.size(), 3u);
}

TEST(CodeGenSampler, PoissonAndBernoulliHaveTheirDistributions) {
  // 1000 x 1000 draws of one kernel: poisson[0](hp[3]), bernoulli[1](hp[4]).
  const int64_t rows = 1000, cols = 1000;
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(cols);
  ir::TensorId n = m.addTensor(tensor("n", B, C)), b = m.addTensor(tensor("b", B, C));
  m.params.push_back({"lambda", 0});
  m.params.push_back({"p", 0});
  ir::KernelOp k;
  k.name = "gof";
  k.rows = B;
  k.cols = C;
  k.outputs.push_back(output(n, draw(ExprOp::Poisson, 0, ir::Expr::slot(ir::kFirstParamSlot))));
  k.outputs.push_back(
      output(b, draw(ExprOp::Bernoulli, 1, ir::Expr::slot(ir::kFirstParamSlot + 1))));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "gof"));
  std::vector<float> nv(rows * cols), bv(rows * cols);
  float *tensors[] = {nv.data(), bv.data()};
  BdlContext ctx{20261202, 0, 0, 0, 1, 0, 0};
  for (float lambda : {0.01f, 0.2f, 3.0f, 45.5f}) {
    float hp[] = {float(rows), 1.0f / rows, 0, lambda, 0.3f};
    fn(0, rows, cols, tensors, hp, &ctx);
    expectPoisson(nv, lambda);
    double mean = std::accumulate(bv.begin(), bv.end(), 0.0) / bv.size();
    EXPECT_NEAR(mean, 0.3, 5 * std::sqrt(0.3 * 0.7 / bv.size()));
    ++ctx.step;
  }
}

TEST(CodeGenSampler, NormalDrawsMatchTheReferenceAndAreStandard) {
  // 1000 x 1000 draws of normal[4](): the reference's values (to a few ulps:
  // both call the platform's logf and cosf, the generated code through
  // llvm.log and llvm.cos), mean 0, variance 1 and a symmetric tail.
  const int64_t rows = 1000, cols = 1000;
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(cols);
  ir::TensorId z = m.addTensor(tensor("z", B, C));
  ir::KernelOp k;
  k.name = "normal";
  k.rows = B;
  k.cols = C;
  auto normal = std::make_unique<ir::Expr>();
  normal->op = ExprOp::Normal;
  normal->index = 4;
  k.outputs.push_back(output(z, std::move(normal)));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "normal"));
  std::vector<float> zv(rows * cols);
  float *tensors[] = {zv.data()};
  BdlContext ctx{20261203, 7, 0, 3, 1, 2, 0};
  float hp[] = {float(rows), 1.0f / rows, 0};
  fn(0, rows, cols, tensors, hp, &ctx);
  double sum = 0, squares = 0;
  int64_t beyond2 = 0, below2 = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = zv[r * cols + c];
      float want = sampler::normal(sampler::drawKey(ctx, 4, r, c));
      ASSERT_NEAR(v, want, 4e-6f * std::max(1.0f, std::abs(want))) << "at " << r << ", " << c;
      sum += v;
      squares += double(v) * v;
      beyond2 += v > 2;
      below2 += v < -2;
    }
  double n = double(rows * cols), mean = sum / n, variance = squares / n - mean * mean;
  EXPECT_NEAR(mean, 0, 5 / std::sqrt(n));
  EXPECT_NEAR(variance, 1, 5 * std::sqrt(2 / n));
  // P(z > 2) = 0.02275.
  EXPECT_NEAR(beyond2 / n, 0.02275, 5 * std::sqrt(0.02275 / n));
  EXPECT_NEAR(below2 / n, 0.02275, 5 * std::sqrt(0.02275 / n));
}

TEST(CodeGenSampler, ChunkedMeansHaveMeanAndVariance) {
  BdlContext ctx{5, 0, 0, 0, 1, 0, 0};
  for (float lambda : {100.0f, 1000.0f}) {
    const int n = 20000;
    double sum = 0, sum2 = 0;
    for (int c = 0; c < n; ++c) {
      double x = sampler::poisson(sampler::drawKey(ctx, 2, 0, c), lambda);
      sum += x;
      sum2 += x * x;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    EXPECT_NEAR(mean, lambda, 5 * std::sqrt(lambda / n));
    EXPECT_NEAR(var, lambda, 6 * std::sqrt((lambda + 2.0 * lambda * lambda) / n));
  }
}

TEST(CodeGenSampler, SelectComparisonsAndContext) {
  const int64_t rows = 4, cols = 24;
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(cols);
  ir::TensorId x = m.addTensor(tensor("x", B, C, ir::Role::Input)),
               y = m.addTensor(tensor("y", B, C, ir::Role::Input));
  std::vector<ir::TensorId> outs;
  for (const char *name : {"lt", "le", "gt", "ge", "eq", "ne", "sel", "drawsel", "step"})
    outs.push_back(m.addTensor(tensor(name, B, C)));
  ir::KernelOp k;
  k.name = "cmp";
  k.rows = B;
  k.cols = C;
  ExprOp cmps[] = {ExprOp::Lt, ExprOp::Le, ExprOp::Gt, ExprOp::Ge, ExprOp::Eq, ExprOp::Ne};
  for (int i = 0; i < 6; ++i)
    k.outputs.push_back(output(outs[i], bin(cmps[i], load(x), load(y))));
  k.outputs.push_back(output(outs[6], select(load(x), load(y), cst(-1))));
  k.outputs.push_back(output(outs[7], select(bin(ExprOp::Gt, load(x), cst(0)),
                                             draw(ExprOp::Bernoulli, 3, cst(0.5f)),
                                             draw(ExprOp::Poisson, 4, load(y)))));
  k.outputs.push_back(
      output(outs[8], bin(ExprOp::Add, context(ir::ContextField::Step),
                          bin(ExprOp::Mul, context(ir::ContextField::Steps), cst(1000)))));
  addKernel(m, std::move(k));
  auto j = jit(m);
  ASSERT_TRUE(j);
  BdlKernelFn fn = j->kernel(kernelSymbol(0, "cmp"));
  std::vector<float> xs(rows * cols), ys(rows * cols);
  float vals[] = {-1, 0, -0.0f, 1, 2.5f, kNaN};
  for (int64_t i = 0; i < rows * cols; ++i) {
    xs[i] = vals[i % 6];
    ys[i] = vals[(i / 6) % 6] + 3; // y = NaN + 3 is NaN
  }
  std::vector<std::vector<float>> o(outs.size(), std::vector<float>(rows * cols, kNaN));
  std::vector<float *> tensors = {xs.data(), ys.data()};
  for (auto &v : o)
    tensors.push_back(v.data());
  float hp[ir::kFirstParamSlot] = {float(rows), 1.0f / rows, 0};
  BdlContext ctx{9, 3, 0, 7, 12, 0, 0};
  fn(0, rows, cols, tensors.data(), hp, &ctx);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      size_t i = r * cols + c;
      float a = xs[i], b = ys[i];
      EXPECT_EQ(o[0][i], a < b ? 1 : 0);
      EXPECT_EQ(o[1][i], a <= b ? 1 : 0);
      EXPECT_EQ(o[2][i], a > b ? 1 : 0);
      EXPECT_EQ(o[3][i], a >= b ? 1 : 0);
      EXPECT_EQ(o[4][i], a == b ? 1 : 0);
      EXPECT_EQ(o[5][i], a != b ? 1 : 0);
      EXPECT_TRUE(sameBits(o[6][i], a != 0 ? b : -1.0f)) << a; // NaN != 0 selects b
      float want = a > 0 ? sampler::bernoulli(sampler::drawKey(ctx, 3, r, c), 0.5f)
                         : sampler::poisson(sampler::drawKey(ctx, 4, r, c), b);
      EXPECT_TRUE(sameBits(o[7][i], want));
      EXPECT_EQ(o[8][i], 7 + 12 * 1000);
    }
}

// A stand-in for the runtime's bdl_draw_wald: its arguments, visibly.
float fakeWald(const BdlContext *ctx, int32_t site, float mean, float scale) {
  return mean * scale + float(site) + float(ctx->block);
}

TEST(CodeGenSampler, StepFunctionsTruncateAndClamp) {
  ir::Module m;
  Dim B = Dim::batch(), one = Dim::constant(1);
  ir::TensorId out = m.addTensor(tensor("out", B, one));
  m.params.push_back({"n", 0});
  m.params.push_back({"scale", 0});
  for (int blk = 0; blk < 2; ++blk) {
    ir::KernelOp k;
    k.name = "k";
    k.rows = B;
    k.cols = one;
    k.outputs.push_back(output(out, cst(1)));
    addKernel(m, std::move(k));
  }
  m.trainBlocks[0].stepsExpr = ir::Expr::slot(ir::kFirstParamSlot);
  auto wald = ir::Expr::binary(ExprOp::Wald, ir::Expr::slot(ir::kFirstParamSlot),
                               ir::Expr::slot(ir::kFirstParamSlot + 1));
  wald->index = 6;
  m.trainBlocks[1].stepsExpr = std::move(wald);
  JitOptions opts;
  opts.symbols.push_back({"bdl_draw_wald", reinterpret_cast<void *>(&fakeWald)});
  auto j = jit(m, opts);
  ASSERT_TRUE(j);
  const BdlModel *d = j->model();
  ASSERT_TRUE(d && d->trainBlocks[0].stepsFn && d->trainBlocks[1].stepsFn);
  BdlStepsFn steps = d->trainBlocks[0].stepsFn;
  BdlContext ctx{1, 0, 0, 0, 0, 2, 0};
  struct Case {
    float value;
    int32_t steps;
  } cases[] = {{2.7f, 2},         {3.0f, 3},          {0.99f, 0},
               {-3.5f, 0},        {kNaN, 0},          {-kInf, 0},
               {kInf, INT32_MAX}, {1e10f, INT32_MAX}, {2147483520.0f, 2147483520}};
  for (Case c : cases) {
    float hp[] = {1, 1, 0, c.value, 0};
    EXPECT_EQ(steps(hp, &ctx), c.steps) << c.value;
  }
  float hp[] = {1, 1, 0, 4.0f, 2.5f};
  EXPECT_EQ(d->trainBlocks[1].stepsFn(hp, &ctx), 18); // mean * scale + site + block
}

TEST(CodeGenSampler, DeriveAndDescriptorFields) {
  ir::Module m;
  Dim B = Dim::batch(), C = Dim::constant(4);
  m.params.push_back({"a", 2});
  m.params.push_back({"b", 0});
  m.params.push_back({"c", 0});
  // b = a * 3; c = b > 5 ? b + 1 : 0, reading b's new value.
  m.params[1].derivation = ir::Expr::binary(ExprOp::Mul, ir::Expr::slot(3), cst(3));
  m.params[2].derivation = select(bin(ExprOp::Gt, ir::Expr::slot(4), cst(5)),
                                  bin(ExprOp::Add, ir::Expr::slot(4), cst(1)), cst(0));
  ir::TensorId x = m.addTensor(tensor("x", B, C, ir::Role::Input));
  ir::TensorId w = m.addTensor(tensor("w", C, C, ir::Role::Weight));
  m.tensors[w].init = ir::InitKind::Uniform;
  m.tensors[w].initASlot = 5;
  ir::TensorId h0 = m.addTensor(tensor("h", B, C, ir::Role::State));
  m.addTensor(tensor("h.1", B, C, ir::Role::State));
  ir::TensorId pre = m.addTensor(tensor("pre", B, C));
  m.input = x;
  m.target = m.addTensor(tensor("t", B, C, ir::Role::Target));
  m.predict = h0;
  ir::Block blk;
  blk.name = "run";
  blk.steps = 3;
  blk.resetState = true;
  ir::KernelOp p;
  p.name = "pre";
  p.rows = B;
  p.cols = C;
  p.outputs.push_back(output(pre, bin(ExprOp::Mul, load(x), cst(2))));
  blk.prologue.push_back(std::move(p));
  blk.ops.push_back(ir::RotateOp{h0, 2});
  ir::KernelOp k;
  k.name = "h";
  k.rows = B;
  k.cols = C;
  k.outputs.push_back(output(h0, bin(ExprOp::Add, load(pre), load(h0 + 1))));
  blk.ops.push_back(std::move(k));
  blk.ops.push_back(ir::ReplayOp{h0});
  m.trainBlocks.push_back(std::move(blk));
  ASSERT_TRUE(ir::verify(m, llvm::errs()));

  auto j = jit(m);
  ASSERT_TRUE(j);
  const BdlModel *d = j->model();
  ASSERT_TRUE(d && d->derive);
  float hp[] = {1, 1, 0, 2, 0, 0};
  d->derive(hp);
  EXPECT_EQ(hp[4], 6);
  EXPECT_EQ(hp[5], 7);
  EXPECT_EQ(d->params[0].derived, 0);
  EXPECT_EQ(d->params[1].derived, 1);
  EXPECT_EQ(d->tensors[w].initASlot, 5);
  EXPECT_EQ(d->tensors[w].initBSlot, -1);
  const BdlBlock &b = d->trainBlocks[0];
  EXPECT_EQ(b.stepsFn, nullptr);
  EXPECT_EQ(b.resetState, 1);
  ASSERT_EQ(b.numPrologueOps, 1);
  EXPECT_EQ(b.prologueOps[0].kind, BDL_OP_KERNEL);
  // Kernels are numbered prologue first.
  EXPECT_EQ(reinterpret_cast<void *>(b.prologueOps[0].fn), j->lookup(kernelSymbol(0, "pre")));
  ASSERT_EQ(b.numOps, 3);
  EXPECT_EQ(b.ops[0].kind, BDL_OP_ROTATE);
  EXPECT_EQ(b.ops[0].a, h0);
  EXPECT_EQ(b.ops[0].b, 2);
  EXPECT_EQ(reinterpret_cast<void *>(b.ops[1].fn), j->lookup(kernelSymbol(1, "h")));
  EXPECT_EQ(b.ops[2].kind, BDL_OP_REPLAY);
  EXPECT_EQ(b.ops[2].c, h0);
  EXPECT_EQ(b.ops[2].fn, nullptr);

  // No derivation, no derive function.
  for (ir::Param &prm : m.params)
    prm.derivation.reset();
  auto j2 = jit(m);
  ASSERT_TRUE(j2);
  EXPECT_EQ(j2->model()->derive, nullptr);
}

TEST(CodeGenSampler, EmitRejectsMisplacedOps) {
  ir::Module m;
  m.params.push_back({"a", 2});
  m.params[0].derivation = ir::Expr::slot(ir::kFirstParamSlot); // itself
  llvm::LLVMContext ctx;
  auto mod = emitModule(m, ctx);
  ASSERT_FALSE(mod);
  EXPECT_NE(llvm::toString(mod.takeError()).find("not an earlier slot"), std::string::npos);
}

} // namespace
