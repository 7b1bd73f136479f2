//===- ParallelTest.cpp - The thread pool and the GEMM bands --------------===//

#include "Parallel.h"
#include "Saxpy.h"
#include "ThreadPool.h"

#include <cblas.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

using namespace bdl::cpu;

namespace {

/// Runs `runs` runs of 1..size() tasks; every task index of every run must
/// run exactly once. Every 50th run waits long enough for the workers to
/// stop polling and block, so both hand-overs are exercised.
void expectEveryTaskOnce(ThreadPool &pool, int runs) {
  std::vector<std::atomic<int>> calls(pool.size());
  std::vector<int> expected(pool.size(), 0);
  for (int r = 0; r < runs; ++r) {
    int tasks = 1 + r % pool.size();
    pool.run(tasks, [&](int i) { calls[i].fetch_add(1); });
    for (int i = 0; i < tasks; ++i)
      ++expected[i];
    if (r % 50 == 49)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (int i = 0; i < pool.size(); ++i)
    EXPECT_EQ(calls[i].load(), expected[i]) << "task " << i;
}

TEST(ThreadPool, RunsEveryTaskOncePolling) {
  ThreadPool pool(3);
  expectEveryTaskOnce(pool, 3000);
}

TEST(ThreadPool, RunsEveryTaskOnceBlocking) {
  ThreadPool pool(3, PoolWaiting{.workerPollMicroseconds = 0, .callerPollMicroseconds = 0});
  expectEveryTaskOnce(pool, 3000);
}

TEST(ThreadPool, RunsEveryTaskOnceAfterAPreemption) {
  // Any gap counts as a lost core: every wait blocks at once afterwards.
  ThreadPool pool(3, PoolWaiting{.preemptedMicroseconds = 0});
  expectEveryTaskOnce(pool, 3000);
}

TEST(ThreadPool, TheCallerSeesTheWorkersWrites) {
  ThreadPool pool(2);
  std::vector<int> slots(2);
  for (int r = 0; r < 2000; ++r) {
    pool.run(2, [&](int i) { slots[i] = r; });
    ASSERT_EQ(slots[1], r);
  }
}

/// C = alpha op(A) op(B) + beta C in double, row-major.
std::vector<float> reference(const GemmArgs &g, const std::vector<float> &c0) {
  std::vector<float> c(c0);
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        double a = g.transA ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        double b = g.transB ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        s += a * b;
      }
      c[i * g.ldc + j] = float(g.alpha * s + g.beta * c0[i * g.ldc + j]);
    }
  return c;
}

/// Within float rounding of the double-precision product.
void expectClose(const std::vector<float> &got, const std::vector<float> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::fabs(want[i]))) << "element " << i;
}

// Bands need not give the bits of one whole call: OpenBLAS picks kernels by
// size (a smaller band may take its small-matrix path), and those sum in
// another order. For a given band count the result is the same every time.
TEST(GemmBands, ComputeTheWholeProductAndAreDeterministic) {
  openblas_set_num_threads(1);
  ThreadPool pool(4);
  int64_t shapes[][3] = {{37, 53, 19}, {53, 37, 19}, {300, 40, 200}, {40, 300, 200}};
  for (auto [m, n, k] : shapes)
    for (int transA = 0; transA < 2; ++transA)
      for (int transB = 0; transB < 2; ++transB) {
        SCOPED_TRACE(testing::Message()
                     << m << "x" << n << "x" << k << " transA " << transA << " transB " << transB);
        std::vector<float> a(m * k), b(k * n), c0(m * n);
        for (size_t i = 0; i < a.size(); ++i)
          a[i] = std::sin(float(i)) * 0.5f;
        for (size_t i = 0; i < b.size(); ++i)
          b[i] = std::cos(float(i) * 0.3f);
        for (size_t i = 0; i < c0.size(); ++i)
          c0[i] = float(i % 7) - 3;
        GemmArgs g;
        g.transA = transA, g.transB = transB, g.m = m, g.n = n, g.k = k;
        g.alpha = 0.75f, g.beta = 0.9f;
        g.a = a.data(), g.lda = transA ? m : k;
        g.b = b.data(), g.ldb = transB ? k : n;
        g.ldc = n;
        std::vector<float> want = reference(g, c0);
        for (int slices : {1, 2, 3, 4}) {
          SCOPED_TRACE(testing::Message() << slices << " slices");
          std::vector<float> banded(c0), again(c0);
          g.c = banded.data();
          runGemmSlices(pool, slices, g);
          expectClose(banded, want);
          g.c = again.data();
          runGemmSlices(pool, slices, g);
          ASSERT_EQ(again, banded);
        }
      }
}

// The sparse products' runs give one fused multiply-add per row and element,
// in row order, whichever path (AVX-512, AVX2, scalar) and length: every
// block size and masked tail. Sines and cosines of unrelated periods: fused
// and unfused multiply-adds disagree in many elements.
TEST(ScaledRows, AddLikeSuccessiveFusedMultiplyAdds) {
  std::vector<float> values(1100 * 6);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = std::sin(float(i) * 0.37f) * 3;
  for (int64_t n : {1,  7,  8,  9,  15,  16,  17,  31,  32,  33,  63,
                    64, 65, 95, 96, 100, 127, 128, 129, 500, 784, 1055}) {
    for (size_t count : {0, 1, 2, 5}) {
      SCOPED_TRACE(testing::Message() << "n " << n << ", " << count << " rows");
      std::vector<ScaledRow> rows;
      for (size_t j = 0; j < count; ++j) // one zero scale, which counts like the others
        rows.push_back(
            {j == 2 ? 0.0f : std::cos(float(j) * 1.3f) - 0.25f, values.data() + j * 1100 + j % 4});
      std::vector<float> want(size_t(n) + 3), got;
      for (size_t o = 0; o < want.size(); ++o)
        want[o] = std::cos(float(o) * 0.11f);
      got = want;
      for (const ScaledRow &r : rows)
        for (int64_t o = 0; o < n; ++o)
          want[size_t(o) + 1] = std::fma(r.scale, r.values[o], want[size_t(o) + 1]);
      addScaledRows(n, rows.data(), rows.size(), got.data() + 1);
      for (size_t o = 0; o < want.size(); ++o)
        ASSERT_EQ(std::bit_cast<uint32_t>(got[o]), std::bit_cast<uint32_t>(want[o]))
            << "element " << o << ": " << got[o] << " vs " << want[o];
    }
  }
}

// An outer-product row changes exactly the elements whose two factors are
// non-zero, by one fma, at every length (vector blocks and tails); so a
// matrix and its transpose updated row by row (the weight and its copy for
// spike products) stay transposes bit for bit, -0 and zeros included.
// A short product's row r is beta C_r (0 ignores C, NaN included) then one
// fused multiply-add per i in order with alpha a_ri: the bits of that loop,
// with A as given or transposed and B's leading dimension wider than n.
TEST(ScaledRowsProduct, IsOneFusedMultiplyAddPerInnerIndexInOrder) {
  for (int transA = 0; transA < 2; ++transA)
    for (float beta : {0.0f, 1.0f, 0.9f})
      for (auto [m, n, k] : {std::array<int64_t, 3>{1, 500, 10}, {16, 37, 3}, {5, 17, 32}}) {
        SCOPED_TRACE(testing::Message()
                     << m << "x" << n << "x" << k << " transA " << transA << " beta " << beta);
        int64_t ldb = n + 3;
        std::vector<float> a(size_t(m * k)), b(size_t(k * ldb)), c0(size_t(m * n));
        for (size_t i = 0; i < a.size(); ++i)
          a[i] = i % 5 == 2 ? 0.0f : std::sin(float(i) * 0.71f);
        for (size_t i = 0; i < b.size(); ++i)
          b[i] = std::cos(float(i) * 0.37f) * 3;
        for (size_t i = 0; i < c0.size(); ++i)
          c0[i] = i == 4 ? NAN : std::sin(float(i) * 1.3f);
        GemmArgs g;
        g.transA = transA, g.m = m, g.n = n, g.k = k, g.alpha = 0.75f, g.beta = beta;
        g.a = a.data(), g.lda = transA ? m : k, g.b = b.data(), g.ldb = ldb, g.ldc = n;
        std::vector<float> want(c0), got(c0);
        for (int64_t r = 0; r < m; ++r)
          for (int64_t j = 0; j < n; ++j) {
            float &w = want[size_t(r * n + j)];
            w = beta == 0 ? 0.0f : beta == 1 ? w : beta * w;
            for (int64_t i = 0; i < k; ++i) {
              float air = transA ? a[size_t(i * m + r)] : a[size_t(r * k + i)];
              w = std::fma(g.alpha * air, b[size_t(i * ldb + j)], w);
            }
          }
        g.c = got.data();
        scaledRowsProduct(g);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i])) << i;
      }
}

TEST(OuterRows, TransposeStaysExact) {
  for (int64_t m : {1, 7, 16, 33, 500})
    for (int64_t n : {1, 9, 17, 64, 130, 784}) {
      SCOPED_TRACE(testing::Message() << m << " x " << n);
      std::vector<float> c(static_cast<size_t>(m * n)), t = c, s(static_cast<size_t>(m)),
                                                        b(static_cast<size_t>(n));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float v = (i + j) % 11 == 0 ? -0.0f : std::sin(float(i * n + j) * 0.37f);
          c[size_t(i * n + j)] = t[size_t(j * m + i)] = v;
        }
      for (int64_t i = 0; i < m; ++i)
        s[size_t(i)] = i % 3 == 0 ? 0.0f : std::cos(float(i) * 1.3f);
      for (int64_t j = 0; j < n; ++j)
        b[size_t(j)] = j % 4 == 1 ? 0.0f : std::cos(float(j) * 0.7f) * 2;
      std::vector<float> want = c;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          if (s[size_t(i)] != 0 && b[size_t(j)] != 0)
            want[size_t(i * n + j)] = std::fma(s[size_t(i)], b[size_t(j)], want[size_t(i * n + j)]);
      for (int64_t i = 0; i < m; ++i)
        addOuterRow(n, s[size_t(i)], b.data(), c.data() + i * n);
      for (int64_t j = 0; j < n; ++j)
        addOuterRow(m, b[size_t(j)], s.data(), t.data() + j * m);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_EQ(std::bit_cast<uint32_t>(c[size_t(i * n + j)]),
                    std::bit_cast<uint32_t>(want[size_t(i * n + j)]))
              << i << ", " << j;
          ASSERT_EQ(std::bit_cast<uint32_t>(t[size_t(j * m + i)]),
                    std::bit_cast<uint32_t>(c[size_t(i * n + j)]))
              << i << ", " << j;
        }
    }
}

} // namespace
