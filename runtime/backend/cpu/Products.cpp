//===- backend/cpu/Products.cpp - Products of weights in phases -----------===//
//
// The products a phase repeats every step, done better than one GEMM call
// each (docs/threads.md): spike and short products as runs of scaled rows
// of a cached transposed weight, that copy kept current through a
// weight's only update, and memoised products of unchanged inputs.
//
//===----------------------------------------------------------------------===//

#include "Products.h"

#include "bdl/error.h"
#include "bdl/model.h"

#include "Saxpy.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cblas.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <string>
#include <unordered_map>
#include <vector>

namespace bdl::cpu {

/// Counts the runs of blocks that may change weights: learning and readout
/// blocks, which have one step; phases (time steps) never write a weight. A
/// weight's transposed copy made after one is valid until the next, unless
/// the copy is kept current through the weight's updates (Transposed).
static uint64_t blockRun = 0;
/// Counts the host's writes of weights (initialisation, --load, a restored
/// checkpoint), which no kept-current copy survives.
static uint64_t hostWeightWrites = 0;
/// Counts the runs of blocks: a product the prologue computed (BdlOp.invariantB)
/// holds still until the next.
static uint64_t blockStarts = 0;

void invalidateCaches(bool weights) {
  ++blockRun;
  hostWeightWrites += weights;
}

void noteBlockStart(const BdlBlock &block) {
  ++blockStarts;
  if (!isPhase(block))
    ++blockRun;
}

//===-- Products with spike trains, and short ones -----------------------------===//
//
// C = alpha A B^T + beta C where A's rows are mostly zeros (a spike train:
// about 5% of inputs fire in a step) and B holds still through the phase (a
// weight, or a product the prologue computed: BdlOp.invariantB): each
// non-zero a_i adds a_i times row i of B^T, a contiguous axpy, instead of a
// dot product over every column. B^T is made at the first such product
// after B may have changed (a weight: once per training example, once for a
// whole test set; a prologue's product: once per phase), and only when A
// turns out sparse, so rate models never pay.
//
// A product over a short inner dimension (feedback from a 10-unit layer)
// takes the same path whatever A's density: its k rows of B^T (of B, when B
// is not transposed) are one pass, where OpenBLAS's sgemv makes n dot
// products of length k; 16% of a spiking Guerguiev example at batch 1.
// Sums run in ascending i: the result does not depend on threads.

/// Sparse products start at this inner dimension (shorter spike vectors
/// fire too densely to gain); short ones end at kShortInner.
constexpr int64_t kSparseInner = 64;

/// A spike product's dense rows are each one GEMV while B has at most this
/// many elements (in cache: a hidden layer's 10 x 500 feedforward weight),
/// so that a row's bits depend on that row alone; OpenBLAS's sgemm picks
/// kernels by the whole call's size (its small-matrix path), and a row of a
/// 64-row call can then differ from the same row in a 128-row call. Larger
/// B, where GEMVs would each stream B from memory, go to sgemm in runs.
constexpr int64_t kRowwiseDenseElements = 65536;

static bool isWeight(const BdlModel &model, int32_t tensor) {
  int32_t role = model.tensors[tensor].role;
  return role == BDL_ROLE_WEIGHT || role == BDL_ROLE_FIXED;
}

static bool sparseCandidate(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                            const GemmArgs &g) {
  if (g.transA || !g.transB || !isPhase(block) || !(isWeight(inst.model(), op.b) || op.invariantB))
    return false;
  // Any number of rows: each row takes the sparse path or not by its own
  // spikes (scanSparse), so a row's bits do not depend on how the batch is
  // sliced.
  return g.k <= kShortInner || g.k >= kSparseInner;
}

/// B^T of a weight B, for sparse products. A weight whose only writer is
/// one in-place update (BdlOp.soleWriter) is `tracked`: that update keeps
/// the copy current at batch 1 (updateKeepingTranspose), so it is made once
/// per host write rather than once per training example. Any other copy
/// lasts until the next block that may change weights.
struct Transposed {
  bool weight = true;                 // else a prologue's product: valid while blockStarts is `run`
  uint64_t run = ~uint64_t(0);        // untracked: valid while blockRun is this
  uint64_t hostWrites = ~uint64_t(0); // tracked: valid while hostWeightWrites is this
  bool current = false;               // tracked: and while this holds
  const float *source = nullptr;
  std::vector<float> values;
};

static std::unordered_map<int32_t, Transposed> &transposeCache() {
  static std::unordered_map<int32_t, Transposed> cache;
  return cache;
}

/// Whether `tensor`'s only writer is a soleWriter GEMM of `model`.
static bool tracked(const BdlModel &model, int32_t tensor) {
  static const BdlModel *of = nullptr;
  static std::vector<char> flags;
  if (of != &model) {
    flags.assign(size_t(model.numTensors), 0);
    for (const auto &[blocks, n] : {std::pair{model.trainBlocks, model.numTrainBlocks},
                                    std::pair{model.evalBlocks, model.numEvalBlocks}})
      for (int32_t b = 0; b < n; ++b)
        for (int32_t o = 0; o < blocks[b].numOps; ++o)
          if (const BdlOp &op = blocks[b].ops[o]; op.kind == BDL_OP_GEMM && op.soleWriter)
            flags[size_t(op.c)] = 1;
    of = &model;
  }
  return flags[size_t(tensor)] != 0;
}

static bool isCurrent(const Transposed &t, bool isTracked, const float *source, size_t size) {
  if (t.source != source || t.values.size() != size)
    return false;
  if (!t.weight)
    return t.run == blockStarts;
  return isTracked ? t.current && t.hostWrites == hostWeightWrites : t.run == blockRun;
}

#if defined(__x86_64__)
/// t[i, o] = b[o, i] for an 8 x 8 tile, in registers: the scalar tile loop
/// stores one float at a time, twice as slow on a 500 x 784 weight.
__attribute__((target("avx"))) static void transposeTile8(const float *b, int64_t ldb, float *t,
                                                          int64_t ldt) {
  __m256 r[8], u[8];
  for (int q = 0; q < 8; ++q)
    r[q] = _mm256_loadu_ps(b + q * ldb);
  for (int q = 0; q < 8; q += 2)
    u[q] = _mm256_unpacklo_ps(r[q], r[q + 1]), u[q + 1] = _mm256_unpackhi_ps(r[q], r[q + 1]);
  for (int q = 0; q < 8; q += 4) {
    r[q] = _mm256_shuffle_ps(u[q], u[q + 2], 0x44),
    r[q + 1] = _mm256_shuffle_ps(u[q], u[q + 2], 0xEE);
    r[q + 2] = _mm256_shuffle_ps(u[q + 1], u[q + 3], 0x44);
    r[q + 3] = _mm256_shuffle_ps(u[q + 1], u[q + 3], 0xEE);
  }
  for (int q = 0; q < 4; ++q) {
    _mm256_storeu_ps(t + q * ldt, _mm256_permute2f128_ps(r[q], r[q + 4], 0x20));
    _mm256_storeu_ps(t + (q + 4) * ldt, _mm256_permute2f128_ps(r[q], r[q + 4], 0x31));
  }
}
#endif

static void transposeInto(const GemmArgs &g, std::vector<float> &values) {
  values.resize(size_t(g.n * g.k));
#if defined(__x86_64__)
  static const bool avx = __builtin_cpu_supports("avx");
#else
  constexpr bool avx = false;
#endif
  // Tiles down B's columns first, so that each run of tiles writes whole
  // rows of B^T: 20% faster on a 500 x 784 weight than along B's rows.
  constexpr int64_t kTile = 8; // reads and writes both stay within a few lines
  for (int64_t i0 = 0; i0 < g.k; i0 += kTile)
    for (int64_t o0 = 0; o0 < g.n; o0 += kTile) {
      float *tile = values.data() + i0 * g.n + o0;
#if defined(__x86_64__)
      if (avx && o0 + kTile <= g.n && i0 + kTile <= g.k) {
        transposeTile8(g.b + o0 * g.ldb + i0, g.ldb, tile, g.n);
        continue;
      }
#endif
      for (int64_t o = o0; o < std::min(g.n, o0 + kTile); ++o)
        for (int64_t i = i0; i < std::min(g.k, i0 + kTile); ++i)
          tile[(i - i0) * g.n + (o - o0)] = g.b[o * g.ldb + i];
    }
}

/// B^T of the weight `tensor`, shared by every product of that weight.
static const Transposed &transposed(const BdlModel &model, int32_t tensor, const GemmArgs &g) {
  Transposed &t = transposeCache()[tensor];
  bool isTracked = tracked(model, tensor);
  if (isCurrent(t, isTracked, g.b, size_t(g.n * g.k))) {
    // A test hook (test/E2E/guerguiev-transposes.test): a copy still taken
    // for current (kept current through updates, or made since B last
    // changed) must hold the bits a new transpose would.
    static const bool check = std::getenv("BDL_CHECK_TRANSPOSES") != nullptr;
    if (check) {
      std::vector<float> fresh;
      transposeInto(g, fresh);
      if (std::memcmp(fresh.data(), t.values.data(), fresh.size() * sizeof(float)) != 0)
        throw Error(std::string("internal error: the ") + (isTracked ? "kept-current " : "") +
                    "transpose of '" + model.tensors[tensor].name + "' differs from '" +
                    model.tensors[tensor].name + "' transposed");
    }
    return t;
  }
  transposeInto(g, t.values);
  t.weight = isWeight(model, tensor);
  t.run = t.weight ? blockRun : blockStarts;
  t.hostWrites = hostWeightWrites, t.current = true, t.source = g.b;
  return t;
}

/// Whether v is a spike count (a whole number, negative for signed events).
static bool isCount(float v) { return std::fabs(v) < 65536.0f && float(int32_t(v)) == v; }

/// The non-zeros of A's rows: row r's are nonzero[rowEnd[r-1], rowEnd[r])
/// (rowEnd[-1] = 0), and none when the row has too many for the sparse
/// product to pay (more than one in 8: the scan is cheap next to a GEMV; a
/// short product has no limit); dense[r] says which. Each row is judged on
/// its own spikes, so that the path a row takes, and its bits, do not depend
/// on the other rows of the call. False, and the product goes to BLAS
/// whole, when A holds rates rather than spike counts (a non-whole value
/// among those scanned: a rate model's, or a spiking model's in its
/// non-spiking mode), or every row is dense and B is too large for rowwise
/// GEMVs (kRowwiseDenseElements).
static bool scanSparse(const GemmArgs &g, std::vector<int32_t> &nonzero,
                       std::vector<int64_t> &rowEnd, std::vector<char> &dense) {
  int64_t budget = g.k <= kShortInner ? g.k : g.k / 8, count = 0;
  // Room for every row at its budget, one whole row past it, and a last group of 4.
  nonzero.resize(size_t(g.m * budget + g.k + 4));
  rowEnd.clear();
  dense.assign(size_t(g.m), 0);
  bool anySparse = false, shortInner = g.k <= kShortInner;
  int32_t *out = nonzero.data();
  for (int64_t r = 0; r < g.m; ++r) {
    int64_t rowStart = count;
    const float *a = g.a + r * g.lda;
    // Every index is written and only a non-zero's kept: a branch per
    // input would be mispredicted at almost every spike.
    int64_t i = 0;
#if defined(__x86_64__)
    // 4 at a time: the positions of the set bits of a 4-bit mask, in order,
    // and their number (a table: x86-64's baseline has no popcnt).
    struct Pack {
      alignas(16) std::array<int32_t, 4> at{};
      int32_t count = 0;
    };
    static constexpr auto kPack = [] {
      std::array<Pack, 16> pack{};
      for (int mask = 0; mask < 16; ++mask)
        for (int bit = 0; bit < 4; ++bit)
          if (mask >> bit & 1)
            pack[size_t(mask)].at[size_t(pack[size_t(mask)].count++)] = bit;
      return pack;
    }();
    // A row stops at its budget: a rate model's dense rows are judged in
    // their first quarter or so.
    for (; i + 4 <= g.k && count - rowStart <= budget; i += 4) {
      // Not-equal is true for a NaN, as a[i] != 0 is.
      const Pack &p =
          kPack[size_t(_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(a + i), _mm_setzero_ps())))];
      __m128i at = _mm_load_si128(reinterpret_cast<const __m128i *>(p.at.data()));
      _mm_storeu_si128(reinterpret_cast<__m128i *>(out + count),
                       _mm_add_epi32(at, _mm_set1_epi32(int32_t(i))));
      count += p.count;
    }
#endif
    for (; i < g.k && count - rowStart <= budget; ++i) {
      out[count] = int32_t(i);
      count += a[i] != 0;
    }
    // What was scanned of the row must be counts, unless the product is
    // short (its rows take one path whatever they hold).
    for (int64_t z = rowStart; z < count && !shortInner; ++z)
      if (!isCount(a[out[z]]))
        return false;
    if (count - rowStart > budget) {
      dense[size_t(r)] = 1;
      count = rowStart;
    } else {
      anySparse = true;
    }
    rowEnd.push_back(count);
  }
  return anySparse || g.n * g.k <= kRowwiseDenseElements;
}

/// The sparse rows of the product from B^T; the dense ones go to BLAS, each
/// row alone for a small B, else in runs (docs/threads.md).
static void sparseTimes(const GemmArgs &g, const Transposed &t, const std::vector<int32_t> &nonzero,
                        const std::vector<int64_t> &rowEnd, const std::vector<char> &dense) {
  thread_local std::vector<ScaledRow> terms;
  size_t z = 0;
  for (int64_t r = 0; r < g.m; ++r) {
    if (dense[size_t(r)]) {
      int64_t end = r + 1;
      while (end < g.m && dense[size_t(end)] && g.n * g.k > kRowwiseDenseElements)
        ++end;
      sgemm(rowSlice(g, r, end));
      r = end - 1;
      continue;
    }
    float *c = g.c + r * g.ldc;
    const float *a = g.a + r * g.lda;
    scaleByBeta(g.beta, g.n, c);
    terms.clear();
    for (; z < size_t(rowEnd[size_t(r)]); ++z) {
      int32_t i = nonzero[z];
      terms.push_back({g.alpha * a[i], t.values.data() + i * g.n});
    }
    addScaledRows(g.n, terms.data(), terms.size(), c);
  }
}

const Transposed &SharedTransposes::get(const BdlModel &model, int32_t tensor, const GemmArgs &g) {
  std::lock_guard<std::mutex> lock(mutex);
  const Transposed *&t = made[tensor];
  if (!t)
    t = &transposed(model, tensor, g);
  return *t;
}

/// The product as runs of scaled rows when it is one of a phase's spike or
/// short products; false (nothing written) otherwise. `shared`: where the
/// threads of a split phase get B^T.
bool sparseProduct(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                   const GemmArgs &g, SharedTransposes *shared) {
  if (!g.transA && !g.transB && g.k <= kShortInner && isPhase(block)) {
    scaledRowsProduct(g); // B's rows are the runs: no transposed copy
    return true;
  }
  if (!sparseCandidate(inst, block, op, g))
    return false;
  thread_local std::vector<int32_t> nonzero;
  thread_local std::vector<int64_t> rowEnd;
  thread_local std::vector<char> dense;
  if (!scanSparse(g, nonzero, rowEnd, dense))
    return false;
  const BdlModel &model = inst.model();
  sparseTimes(g, shared ? shared->get(model, op.b, g) : transposed(model, op.b, g), nonzero, rowEnd,
              dense);
  return true;
}

bool memoHit(const Memo &memo, const GemmArgs &g) {
  size_t aSize = size_t(g.m * g.k), cSize = size_t(g.m * g.n);
  return memo.run == blockRun && memo.alpha == g.alpha && memo.a.size() == aSize &&
         memo.c.size() == cSize && g.lda == g.k && g.ldc == g.n &&
         // Bits, not values: a NaN input still hits, -0 and +0 do not.
         // memcmp rather than std::equal: libc's is vectorised.
         std::memcmp(memo.a.data(), g.a, aSize * sizeof(float)) == 0;
}

void memoStore(Memo &memo, const GemmArgs &g) {
  memo.run = blockRun, memo.alpha = g.alpha;
  memo.a.assign(g.a, g.a + g.m * g.k);
  memo.c.assign(g.c, g.c + g.m * g.n);
}

bool memoisable(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                const GemmArgs &g) {
  int32_t role = inst.model().tensors[op.b].role;
  return !g.transA && g.beta == 0 && g.m <= 64 && g.lda == g.k && g.ldc == g.n && isPhase(block) &&
         (role == BDL_ROLE_WEIGHT || role == BDL_ROLE_FIXED);
}

/// The only update of a weight C (BdlOp.soleWriter), and at batch 1 the same
/// update of C's transposed copy when that is current: C_ij and its copy's
/// (j, i) both become fma(alpha a_i, b_j, C_ij) where both factors are
/// non-zero (outerProduct; addOuterRow with the operands swapped), so the
/// copy stays C^T bit for bit and is not made again for the next example.
/// Otherwise the copy is no longer current.
void updateKeepingTranspose(ThreadPool &threads, ModelInstance &inst, const BdlOp &op,
                            const GemmArgs &g) {
  runGemmSlices(threads, gemmSlices(g, threads.size()), g);
  auto it = transposeCache().find(op.c);
  if (it == transposeCache().end())
    return;
  Transposed &t = it->second;
  bool outer = g.k == 1 && g.beta == 1 && !g.transB; // b contiguous: outerProduct's fma path
  if (!outer || !tracked(inst.model(), op.c) ||
      !isCurrent(t, /*isTracked=*/true, g.c, size_t(g.m * g.n))) {
    t.current = false;
    return;
  }
  thread_local std::vector<float> scales;
  scales.resize(size_t(g.m));
  int64_t aStride = g.transA ? 1 : g.lda;
  for (int64_t i = 0; i < g.m; ++i)
    scales[size_t(i)] = g.alpha * g.a[i * aStride];
  for (int64_t j = 0; j < g.n; ++j)
    addOuterRow(g.m, g.b[j], scales.data(), t.values.data() + j * g.m);
}

} // namespace bdl::cpu
