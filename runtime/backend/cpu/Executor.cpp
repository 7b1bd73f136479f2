//===- backend/cpu/Executor.cpp - Blocks on OpenBLAS and a thread pool ----===//

#include "bdl/executor.h"
#include "bdl/error.h"
#include "bdl/model.h"

#include "ThreadPool.h"

#include <algorithm>
#include <cblas.h>
#include <memory>
#include <string>

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

static std::string shapeStr(int64_t r, int64_t c) {
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

static void runGemm(ModelInstance &inst, const BdlBlock &block, const BdlOp &op) {
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
  float alpha = op.alpha * (op.alphaSlot >= 0 ? inst.hp()[op.alphaSlot] : 1.0f);
  cblas_sgemm(CblasRowMajor, op.transA ? CblasTrans : CblasNoTrans,
              op.transB ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, inst.data(op.a),
              int(ca), inst.data(op.b), int(cb), op.beta, inst.data(op.c), int(cc));
}

static void runKernel(ModelInstance &inst, const BdlOp &op) {
  int64_t rows = inst.resolve(op.rows), cols = inst.resolve(op.cols);
  float *const *tensors = inst.tensorTable();
  const float *hp = inst.hp();
  ThreadPool &threads = kernelPool();
  if (!op.parallel || threads.size() < 2 || rows < 2 || rows * cols < kParallelKernelElements) {
    op.fn(0, rows, cols, tensors, hp);
    return;
  }
  // One contiguous slice of rows per thread: the slices are disjoint, so
  // the result does not depend on which thread runs which slice.
  int64_t chunks = std::min<int64_t>(threads.size(), rows);
  int64_t per = (rows + chunks - 1) / chunks;
  threads.run(int(chunks), [&](int t) {
    int64_t begin = t * per, end = std::min(rows, begin + per);
    if (begin < end)
      op.fn(begin, end, cols, tensors, hp);
  });
}

void runBlocks(ModelInstance &inst, const BdlBlock *blocks, int32_t numBlocks) {
  for (int32_t b = 0; b < numBlocks; ++b) {
    const BdlBlock &block = blocks[b];
    for (int32_t step = 0; step < block.steps; ++step)
      for (int32_t o = 0; o < block.numOps; ++o) {
        const BdlOp &op = block.ops[o];
        if (op.kind == BDL_OP_GEMM)
          runGemm(inst, block, op);
        else
          runKernel(inst, op);
      }
  }
}

void setThreads(int threads) {
  threads = std::max(threads, 1);
  if (!pool() || pool()->size() != threads)
    pool() = std::make_unique<ThreadPool>(threads);
  openblas_set_num_threads(threads);
}

int threads() { return kernelPool().size(); }

} // namespace bdl::cpu
