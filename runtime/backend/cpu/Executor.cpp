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
#include "Products.h"
#include "Profile.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cblas.h>
#include <map>
#include <memory>
#include <string>
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

static void runGemm(ModelInstance &inst, const BdlBlock &block, const BdlOp &op) {
  GemmArgs g = gemmArgs(inst, block, op, inst.tensorTable());
  if (op.soleWriter)
    return updateKeepingTranspose(kernelPool(), inst, op, g);
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

bool opRuns(const ModelInstance &inst, const BdlOp &op) {
  return op.numGuardLiterals == 0 || stepObserver || guardHolds(op, inst.hp());
}

static void runOps(ModelInstance &inst, const BdlBlock &block, const BdlOp *ops, int32_t n,
                   const BdlContext &ctx, bool evaluation) {
  for (int32_t o = 0; o < n; ++o) {
    const BdlOp &op = ops[o];
    if (!opRuns(inst, op))
      continue;
    ScopedOpTimer timer(block, evaluation, &op, o);
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
        if (!opRuns(inst, op))
          continue;
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
      if (ops[o].kind == BDL_OP_ROTATE && opRuns(inst, ops[o]))
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
    noteBlockStart(block);
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
      ScopedOpTimer timer(block, evaluation, nullptr, -1);
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
  runRowSlices(threads, count * bytesEach < kParallelHostBytes ? 1 : threads.size(), count, body);
}

} // namespace bdl::cpu
