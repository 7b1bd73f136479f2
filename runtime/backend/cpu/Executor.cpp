//===- backend/cpu/Executor.cpp - Blocks on OpenBLAS and a thread pool ----===//
//
// One owner of the cores (docs/threads.md): the thread pool. OpenBLAS is
// single-threaded; a large GEMM is split over the pool like a large kernel.
//
//===----------------------------------------------------------------------===//

#include "bdl/executor.h"
#include "bdl/error.h"
#include "bdl/image.h"
#include "bdl/model.h"

#include "Parallel.h"
#include "Saxpy.h"
#include "ThreadPool.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cblas.h>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace bdl {

static std::string shapeStr(int64_t r, int64_t c) {
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

} // namespace bdl

namespace bdl::cpu {

static std::unique_ptr<ThreadPool> &pool() {
  static std::unique_ptr<ThreadPool> instance;
  return instance;
}

static ThreadPool &kernelPool() {
  if (!pool())
    setThreads(int(std::max(1u, std::thread::hardware_concurrency())));
  return *pool();
}

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

static bool isPhase(const BdlBlock &block) { return block.steps > 1 || block.stepsFn; }

void invalidateCaches(bool weights) {
  ++blockRun;
  hostWeightWrites += weights;
}

/// The GEMM's arguments for rows [r0, r1) of op(A) = A and of C.
static GemmArgs rowSlice(const GemmArgs &g, int64_t r0, int64_t r1) {
  GemmArgs s = g;
  s.m = r1 - r0, s.a = g.a + r0 * g.lda, s.c = g.c + r0 * g.ldc;
  return s;
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

static bool isWeight(const BdlModel &model, int32_t tensor) {
  int32_t role = model.tensors[tensor].role;
  return role == BDL_ROLE_WEIGHT || role == BDL_ROLE_FIXED;
}

static bool sparseCandidate(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                            const GemmArgs &g) {
  if (g.transA || !g.transB || !isPhase(block) || !(isWeight(inst.model(), op.b) || op.invariantB))
    return false;
  // A short product, whatever the rows: a row's bits do not depend on how
  // the batch is sliced.
  return g.k <= kShortInner || (g.m <= 64 && g.k >= kSparseInner);
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

/// The non-zeros of A's rows (nonzero[0, rowEnd.back()); the entries past
/// it are scratch), or false when there are too many for the sparse product
/// to pay (more than one in 8: the scan is cheap next to a GEMV; a short
/// product has no limit).
static bool scanSparse(const GemmArgs &g, std::vector<int32_t> &nonzero,
                       std::vector<int64_t> &rowEnd) {
  int64_t budget = g.k <= kShortInner ? g.m * g.k : g.m * g.k / 8, count = 0;
  // Room for one whole row past the budget, and a last group of 4.
  nonzero.resize(size_t(budget + g.k + 4));
  rowEnd.clear();
  int32_t *out = nonzero.data();
  for (int64_t r = 0; r < g.m; ++r) {
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
    for (; i + 4 <= g.k; i += 4) {
      // Not-equal is true for a NaN, as a[i] != 0 is.
      const Pack &p =
          kPack[size_t(_mm_movemask_ps(_mm_cmpneq_ps(_mm_loadu_ps(a + i), _mm_setzero_ps())))];
      __m128i at = _mm_load_si128(reinterpret_cast<const __m128i *>(p.at.data()));
      _mm_storeu_si128(reinterpret_cast<__m128i *>(out + count),
                       _mm_add_epi32(at, _mm_set1_epi32(int32_t(i))));
      count += p.count;
    }
#endif
    for (; i < g.k; ++i) {
      out[count] = int32_t(i);
      count += a[i] != 0;
    }
    if (count > budget)
      return false;
    rowEnd.push_back(count);
  }
  return true;
}

static void sparseTimes(const GemmArgs &g, const Transposed &t, const std::vector<int32_t> &nonzero,
                        const std::vector<int64_t> &rowEnd) {
  thread_local std::vector<ScaledRow> terms;
  size_t z = 0;
  for (int64_t r = 0; r < g.m; ++r) {
    float *c = g.c + r * g.ldc;
    const float *a = g.a + r * g.lda;
    if (g.beta == 0)
      std::fill(c, c + g.n, 0.0f);
    else if (g.beta != 1)
      cblas_sscal(int(g.n), g.beta, c, 1);
    terms.clear();
    for (; z < size_t(rowEnd[size_t(r)]); ++z) {
      int32_t i = nonzero[z];
      terms.push_back({g.alpha * a[i], t.values.data() + i * g.n});
    }
    addScaledRows(g.n, terms.data(), terms.size(), c);
  }
}

/// Weights' transposes for the threads of a phase split by examples: made
/// by the first thread whose product turns out sparse, then shared
/// read-only. A rate model's phases never make one.
class SharedTransposes {
public:
  const Transposed &get(const BdlModel &model, int32_t tensor, const GemmArgs &g) {
    std::lock_guard<std::mutex> lock(mutex);
    const Transposed *&t = made[tensor];
    if (!t)
      t = &transposed(model, tensor, g);
    return *t;
  }

private:
  std::mutex mutex;
  std::unordered_map<int32_t, const Transposed *> made;
};

/// The product as runs of scaled rows when it is one of a phase's spike or
/// short products; false (nothing written) otherwise. `shared`: where the
/// threads of a split phase get B^T.
static bool sparseProduct(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                          const GemmArgs &g, SharedTransposes *shared = nullptr) {
  if (!g.transA && !g.transB && g.k <= kShortInner && isPhase(block)) {
    scaledRowsProduct(g); // B's rows are the runs: no transposed copy
    return true;
  }
  if (!sparseCandidate(inst, block, op, g))
    return false;
  thread_local std::vector<int32_t> nonzero;
  thread_local std::vector<int64_t> rowEnd;
  if (!scanSparse(g, nonzero, rowEnd))
    return false;
  const BdlModel &model = inst.model();
  sparseTimes(g, shared ? shared->get(model, op.b, g) : transposed(model, op.b, g), nonzero,
              rowEnd);
  return true;
}

/// A product of a weight with vectors that are the same as the last time
/// this product ran in this weight version (an input held for a whole
/// phase, a rate that has settled) is the same product: the last result is
/// copied instead of recomputed. This is loop-invariant hoisting decided at
/// run time, where a model's flags (--set spiking=false) show what is
/// constant. Products are told apart by their operand tensors, not by op:
/// the forward and the target phase compute the same input product.
using MemoKey = std::tuple<int32_t, int32_t, int32_t, int32_t, int32_t>;

static MemoKey memoKey(const BdlOp &op) { return {op.a, op.b, op.c, op.transA, op.transB}; }

struct Memo {
  uint64_t run = ~uint64_t(0);
  float alpha = 0;
  std::vector<float> a, c;
};

static bool memoHit(const Memo &memo, const GemmArgs &g) {
  size_t aSize = size_t(g.m * g.k), cSize = size_t(g.m * g.n);
  return memo.run == blockRun && memo.alpha == g.alpha && memo.a.size() == aSize &&
         memo.c.size() == cSize && g.lda == g.k && g.ldc == g.n &&
         std::equal(memo.a.begin(), memo.a.end(), g.a, [](float x, float y) {
           return std::bit_cast<uint32_t>(x) == std::bit_cast<uint32_t>(y);
         });
}

static void memoStore(Memo &memo, const GemmArgs &g) {
  memo.run = blockRun, memo.alpha = g.alpha;
  memo.a.assign(g.a, g.a + g.m * g.k);
  memo.c.assign(g.c, g.c + g.m * g.n);
}

static bool memoisable(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                       const GemmArgs &g) {
  int32_t role = inst.model().tensors[op.b].role;
  return !g.transA && g.beta == 0 && g.m <= 64 && g.lda == g.k && g.ldc == g.n && isPhase(block) &&
         (role == BDL_ROLE_WEIGHT || role == BDL_ROLE_FIXED);
}

} // namespace bdl::cpu

namespace bdl {

GemmShape gemmShape(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op) {
  int64_t ra = inst.rows(op.a), ca = inst.cols(op.a);
  int64_t rb = inst.rows(op.b), cb = inst.cols(op.b);
  int64_t rc = inst.rows(op.c), cc = inst.cols(op.c);
  int64_t m = op.transA ? ca : ra, k = op.transA ? ra : ca;
  int64_t kb = op.transB ? cb : rb, n = op.transB ? rb : cb;
  if (k != kb || rc != m || cc != n) {
    const BdlTensorDesc *t = inst.model().tensors;
    throw Error("GEMM '" + std::string(op.name ? op.name : "?") + "' in block '" +
                (block.name ? block.name : "?") + "': shapes do not agree: " + t[op.c].name +
                shapeStr(rc, cc) + " = " + t[op.a].name + shapeStr(ra, ca) +
                (op.transA ? "^T" : "") + " * " + t[op.b].name + shapeStr(rb, cb) +
                (op.transB ? "^T" : ""));
  }
  GemmShape g;
  g.transA = op.transA != 0, g.transB = op.transB != 0;
  g.m = m, g.n = n, g.k = k;
  g.lda = ca, g.ldb = cb, g.ldc = cc;
  g.alpha = op.alpha * (op.alphaSlot >= 0 ? inst.hp()[op.alphaSlot] : 1.0f);
  g.beta = op.beta * (op.betaSlot >= 0 ? inst.hp()[op.betaSlot] : 1.0f);
  return g;
}

int32_t blockSteps(const ModelInstance &inst, const BdlBlock &block, const BdlContext &ctx) {
  if (!block.stepsFn)
    return block.steps;
  int32_t steps = block.stepsFn(inst.hp(), &ctx);
  if (steps < 0)
    throw Error("block '" + std::string(block.name ? block.name : "?") + "' drew " +
                std::to_string(steps) + " steps");
  return steps;
}

void applyReplay(ModelInstance &inst, const BdlBlock &block, const BdlOp &op) {
  ModelInstance::Replay *r = inst.replay(op.c);
  if (!r)
    return;
  const BdlTensorDesc &t = inst.model().tensors[op.c];
  if (t.rows.kind == BDL_DIM_BATCH && inst.batch() != 1)
    throw Error("--replay of '" + std::string(t.name) + "' needs batch 1 (one recorded example " +
                "per step), but the batch has " + std::to_string(inst.batch()) + " rows");
  if (r->next >= r->rows)
    throw Error(r->source + ": ran out of recorded steps: it has " + std::to_string(r->rows) +
                " rows, and block '" + (block.name ? block.name : "?") + "' needs row " +
                std::to_string(r->next + 1) + " for '" + t.name + "'");
  std::copy_n(r->values.data() + r->next * r->cols, r->cols, inst.data(op.c));
  ++r->next;
}

void runImageOp(ModelInstance &inst, const BdlOp &op) {
  // Each slice of examples writes only its own examples' rows.
  float *const *t = inst.tensorTable();
  const BdlWindow &w = op.window;
  if (op.image == BDL_IMAGE_RESHAPE) {
    int64_t n = inst.rows(op.c) * inst.cols(op.c);
    std::copy_n(t[op.a], n, t[op.c]);
    return;
  }
  int64_t batch = inst.batch();
  cpu::ThreadPool &threads = cpu::kernelPool();
  int slices = int(std::min<int64_t>(threads.size(), batch));
  int64_t per = (batch + slices - 1) / slices;
  threads.run(slices, [&](int slice) {
    int64_t b0 = slice * per, b1 = std::min(batch, b0 + per);
    if (b0 >= b1)
      return;
    switch (op.image) {
    case BDL_IMAGE_IM2COL:
      return image::im2col(w, b0, b1, t[op.a], t[op.c]);
    case BDL_IMAGE_COL2IM:
      return image::col2im(w, b0, b1, t[op.a], t[op.c]);
    case BDL_IMAGE_MAXPOOL:
      return image::maxPool(w, b0, b1, t[op.a], t[op.c]);
    case BDL_IMAGE_MAXPOOL_ADJOINT:
      return image::maxPoolAdjoint(w, b0, b1, t[op.a], t[op.b], t[op.c]);
    }
  });
}

} // namespace bdl

namespace bdl::cpu {

/// The arguments of a GEMM op over the tensors of `table`.
static GemmArgs gemmArgs(const ModelInstance &inst, const BdlBlock &block, const BdlOp &op,
                         float *const *table) {
  GemmShape shape = gemmShape(inst, block, op);
  GemmArgs g;
  g.transA = shape.transA, g.transB = shape.transB;
  g.m = shape.m, g.n = shape.n, g.k = shape.k;
  g.alpha = shape.alpha;
  g.a = table[op.a], g.lda = shape.lda;
  g.b = table[op.b], g.ldb = shape.ldb;
  g.beta = shape.beta;
  g.c = table[op.c], g.ldc = shape.ldc;
  return g;
}

/// The only update of a weight C (BdlOp.soleWriter), and at batch 1 the same
/// update of C's transposed copy when that is current: C_ij and its copy's
/// (j, i) both become fma(alpha a_i, b_j, C_ij) where both factors are
/// non-zero (outerProduct; addOuterRow with the operands swapped), so the
/// copy stays C^T bit for bit and is not made again for the next example.
/// Otherwise the copy is no longer current.
static void updateKeepingTranspose(ModelInstance &inst, const BdlOp &op, const GemmArgs &g) {
  ThreadPool &threads = kernelPool();
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

static void runGemm(ModelInstance &inst, const BdlBlock &block, const BdlOp &op) {
  GemmArgs g = gemmArgs(inst, block, op, inst.tensorTable());
  if (op.soleWriter)
    return updateKeepingTranspose(inst, op, g);
  if (sparseProduct(inst, block, op, g))
    return;
  static std::map<MemoKey, Memo> memos;
  Memo *memo = memoisable(inst, block, op, g) ? &memos[memoKey(op)] : nullptr;
  if (memo && memoHit(*memo, g)) {
    std::copy(memo->c.begin(), memo->c.end(), g.c);
    return;
  }
  ThreadPool &threads = kernelPool();
  runGemmSlices(threads, gemmSlices(g, threads.size()), g);
  if (memo)
    memoStore(*memo, g);
}

static void runKernel(ModelInstance &inst, const BdlOp &op, const BdlContext &ctx) {
  int64_t rows = inst.resolve(op.rows), cols = inst.resolve(op.cols);
  ThreadPool &threads = kernelPool();
  // Below the threshold this is one inline call on this thread.
  int slices = op.parallel ? kernelSlices(rows, cols, threads.size()) : 1;
  runKernelSlices(threads, slices, op.fn, rows, cols, inst.tensorTable(), inst.hp(), &ctx);
}

static StepObserver *stepObserver = nullptr;

void setStepObserver(StepObserver *observer) { stepObserver = observer; }

StepObserver *currentStepObserver() { return stepObserver; }

static void runOps(ModelInstance &inst, const BdlBlock &block, const BdlOp *ops, int32_t n,
                   const BdlContext &ctx, bool evaluation) {
  for (int32_t o = 0; o < n; ++o) {
    const BdlOp &op = ops[o];
    switch (op.kind) {
    case BDL_OP_KERNEL:
      runKernel(inst, op, ctx);
      break;
    case BDL_OP_GEMM:
      runGemm(inst, block, op);
      break;
    case BDL_OP_ROTATE:
      inst.rotate(op.a, op.b);
      break;
    case BDL_OP_REPLAY:
      if (!evaluation)
        applyReplay(inst, block, op);
      break;
    case BDL_OP_IMAGE:
      runImageOp(inst, op);
      break;
    }
  }
}

//===-- Phases split by rows --------------------------------------------------===//
//
// Almost every op of a phase touches only its own example's rows, and the
// rows of a batch evolve independently within a phase. Then each thread runs
// the whole phase, every step, for its slice of the batch: one hand-over per
// phase instead of one per op (docs/threads.md). Each slice rotates its own
// copy of the tensor table; the instance applies the same rotations after.

/// Whether op reads and writes only tensors without a batch dimension (a
/// kernel over a weight's shape, a product of weights): what a prologue
/// computes from weights and params alone, such as a masked feedback matrix.
/// No row-local op writes such a tensor (its outputs have the batch's rows),
/// so the op gives the same result run before all of them.
static bool modelWide(const ModelInstance &inst, const BdlOp &op) {
  const BdlTensorDesc *t = inst.model().tensors;
  auto batched = [&](int32_t i) { return t[i].rows.kind == BDL_DIM_BATCH; };
  if (op.kind == BDL_OP_KERNEL)
    return op.rows.kind != BDL_DIM_BATCH;
  if (op.kind == BDL_OP_GEMM)
    return !batched(op.a) && !batched(op.b) && !batched(op.c);
  return false;
}

/// Whether a phase can run as one task per slice of examples: every step op
/// and every prologue op is row-local, except prologue ops that are
/// model-wide (run first, whole, by runPhaseSliced).
static bool rowLocal(ModelInstance &inst, const BdlBlock &block) {
  const BdlTensorDesc *t = inst.model().tensors;
  // One row per example: a slice of examples is a slice of rows. (An
  // image's rows are its pixels; its ops run unsliced.)
  auto perExample = [](BdlDim d) { return d.kind == BDL_DIM_BATCH && d.value == 1; };
  auto batched = [&](int32_t i) { return perExample(t[i].rows); };
  auto local = [&](const BdlOp &op) {
    switch (op.kind) {
    case BDL_OP_KERNEL:
      return op.parallel != 0 && perExample(op.rows);
    case BDL_OP_GEMM:
      return !op.transA && batched(op.a) && batched(op.c) && !batched(op.b);
    case BDL_OP_ROTATE:
      return true;
    case BDL_OP_REPLAY: // a replay reads the run's recorded rows in order
      return inst.replay(op.c) == nullptr;
    default:
      return false;
    }
  };
  return std::all_of(block.ops, block.ops + block.numOps, local) &&
         std::all_of(block.prologueOps, block.prologueOps + block.numPrologueOps,
                     [&](const BdlOp &op) { return local(op) || modelWide(inst, op); });
}

/// Whether a phase has enough work to pay for a hand-over to each thread
/// (kParallelKernelElements, counting a GEMM's multiply-adds at 1/16 of an
/// element of a kernel: BLAS does 16 per instruction).
static bool worthSlicing(const ModelInstance &inst, const BdlBlock &block, int32_t steps) {
  int64_t work = 0;
  for (int32_t o = 0; o < block.numOps; ++o) {
    const BdlOp &op = block.ops[o];
    if (op.kind == BDL_OP_KERNEL)
      work += inst.resolve(op.rows) * inst.resolve(op.cols);
    else if (op.kind == BDL_OP_GEMM)
      work +=
          inst.rows(op.a) * inst.cols(op.a) * (op.transB ? inst.rows(op.b) : inst.cols(op.b)) / 16;
  }
  return work * std::max(steps, 1) >= kParallelKernelElements;
}

static void runPhaseSliced(ModelInstance &inst, const BdlBlock &block, int32_t steps,
                           const BdlContext &ctx, int slices) {
  const BdlModel &m = inst.model();
  std::vector<BdlOp> perSlice; // the prologue less its model-wide ops
  for (int32_t o = 0; o < block.numPrologueOps; ++o) {
    if (modelWide(inst, block.prologueOps[o]))
      runOps(inst, block, &block.prologueOps[o], 1, ctx, /*evaluation=*/false);
    else
      perSlice.push_back(block.prologueOps[o]);
  }
  const BdlOp *prologue = perSlice.data();
  const int32_t numPrologue = int32_t(perSlice.size());
  SharedTransposes transposes;
  int64_t batch = inst.batch(), per = (batch + slices - 1) / slices;
  int64_t time0 = inst.time();
  // Memoised products per (op, slice), made here: the threads only look up.
  static std::map<std::pair<MemoKey, int>, Memo> memos;
  for (const BdlOp *ops : {prologue, block.ops})
    for (int32_t o = 0; o < (ops == block.ops ? block.numOps : numPrologue); ++o)
      if (ops[o].kind == BDL_OP_GEMM)
        for (int slice = 0; slice < slices; ++slice)
          memos[{memoKey(ops[o]), slice}];
  kernelPool().run(slices, [&](int slice) {
    int64_t r0 = slice * per, r1 = std::min(batch, r0 + per);
    if (r0 >= r1)
      return;
    std::vector<float *> table(inst.tensorTable(), inst.tensorTable() + m.numTensors);
    BdlContext c = ctx;
    auto run = [&](const BdlOp *ops, int32_t n) {
      for (int32_t o = 0; o < n; ++o) {
        const BdlOp &op = ops[o];
        if (op.kind == BDL_OP_KERNEL) {
          op.fn(r0, r1, inst.resolve(op.cols), table.data(), inst.hp(), &c);
        } else if (op.kind == BDL_OP_GEMM) {
          GemmArgs g = rowSlice(gemmArgs(inst, block, op, table.data()), r0, r1);
          if (sparseProduct(inst, block, op, g, &transposes))
            continue;
          Memo *memo =
              memoisable(inst, block, op, g) ? &memos.find({memoKey(op), slice})->second : nullptr;
          if (memo && memoHit(*memo, g)) {
            std::copy(memo->c.begin(), memo->c.end(), g.c);
            continue;
          }
          runGemmSlices(kernelPool(), 1, g); // one slice: on this thread
          if (memo)
            memoStore(*memo, g);
        } else if (op.kind == BDL_OP_ROTATE) {
          std::rotate(table.begin() + op.a, table.begin() + op.a + op.b - 1,
                      table.begin() + op.a + op.b);
        }
      }
    };
    run(prologue, numPrologue);
    for (int32_t step = 0; step < steps; ++step) {
      c.step = step, c.time = time0 + step;
      run(block.ops, block.numOps);
    }
  });
  auto rotations = [&](const BdlOp *ops, int32_t n) {
    for (int32_t o = 0; o < n; ++o)
      if (ops[o].kind == BDL_OP_ROTATE)
        inst.rotate(ops[o].a, ops[o].b);
  };
  rotations(prologue, numPrologue);
  for (int32_t step = 0; step < steps; ++step)
    rotations(block.ops, block.numOps);
  inst.setTime(time0 + steps);
}

bool splitsByExamples(ModelInstance &inst, const BdlBlock &block) {
  return isPhase(block) && rowLocal(inst, block);
}

void runBlocks(ModelInstance &inst, const BdlBlock *blocks, int32_t numBlocks, bool evaluation) {
  BdlContext ctx{};
  ctx.seed = inst.seed();
  ctx.example0 = inst.example0();
  int32_t monitorBlocks = 0; // before b: they take no part in the draws' keys
  for (int32_t b = 0; b < numBlocks; ++b) {
    const BdlBlock &block = blocks[b];
    MonitorBlockScope monitorScope(inst, block, monitorBlocks);
    if (monitorScope.skip)
      continue;
    ++blockStarts;
    if (block.steps == 1 && !block.stepsFn)
      ++blockRun;
    if (block.resetState)
      inst.resetState();
    ctx.block = monitorScope.index(b) | (evaluation ? BDL_EVAL_BLOCK : 0);
    ctx.time = inst.time();
    ctx.step = 0;
    ctx.steps = 0;
    int32_t steps = blockSteps(inst, block, ctx);
    ctx.steps = steps;
    int slices = int(std::min<int64_t>(kernelPool().size(), inst.batch()));
    if (slices > 1 && !stepObserver && isPhase(block) && rowLocal(inst, block) &&
        worthSlicing(inst, block, steps)) {
      runPhaseSliced(inst, block, steps, ctx, slices);
      continue;
    }
    runOps(inst, block, block.prologueOps, block.numPrologueOps, ctx, evaluation);
    for (int32_t step = 0; step < steps; ++step) {
      ctx.step = step;
      ctx.time = inst.time();
      runOps(inst, block, block.ops, block.numOps, ctx, evaluation);
      inst.setTime(ctx.time + 1);
      if (stepObserver)
        stepObserver->afterStep(inst, ctx);
    }
  }
}

void setThreads(int threads) {
  threads = std::max(threads, 1);
  if (!pool() || pool()->size() != threads)
    pool() = std::make_unique<ThreadPool>(threads);
  // The pool owns the cores; OpenBLAS's own threads would spin on the same
  // ones between GEMMs (19% of a 2-thread run in sched_yield).
  openblas_set_num_threads(1);
}

int threads() { return kernelPool().size(); }

void forSlices(int64_t count, int64_t bytesEach,
               const std::function<void(int64_t begin, int64_t end)> &body) {
  ThreadPool &threads = kernelPool();
  int slices = count * bytesEach < kParallelHostBytes
                   ? 1
                   : int(std::clamp<int64_t>(threads.size(), 1, std::max<int64_t>(count, 1)));
  if (slices == 1)
    return body(0, count);
  int64_t per = (count + slices - 1) / slices;
  threads.run(slices, [&](int t) {
    int64_t begin = t * per, end = std::min(count, begin + per);
    if (begin < end)
      body(begin, end);
  });
}

} // namespace bdl::cpu
