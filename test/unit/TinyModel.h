//===- TinyModel.h - A hand-written softmax regression for the tests ------===//
//
// What bdlc would emit for `logits = x W^T + b; softmax; cross-entropy; SGD`,
// written by hand: a GEMM for the logits, kernels for the softmax, the loss
// and the gradient, a GEMM that applies the weight update in place, and a
// kernel for the bias update.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TEST_TINYMODEL_H
#define BDL_TEST_TINYMODEL_H

#include "bdl/abi.h"

#include <cmath>
#include <vector>

namespace bdl::test {

enum TinyTensor { X, Y, W, Bias, Logits, Prob, Loss, Grad, NumTinyTensors };

inline void softmaxKernel(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                          const BdlContext *) {
  for (int64_t r = r0; r < r1; ++r) {
    const float *z = t[Logits] + r * cols;
    float *p = t[Prob] + r * cols;
    float mx = -INFINITY;
    for (int64_t c = 0; c < cols; ++c)
      mx = std::fmax(mx, z[c] + t[Bias][c]);
    float sum = 0;
    for (int64_t c = 0; c < cols; ++c)
      sum += p[c] = std::exp(z[c] + t[Bias][c] - mx);
    for (int64_t c = 0; c < cols; ++c)
      p[c] /= sum;
  }
}

/// Iteration space [B, classes], one loss value per row.
inline void lossKernel(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                       const BdlContext *) {
  for (int64_t r = r0; r < r1; ++r) {
    float l = 0;
    for (int64_t c = 0; c < cols; ++c)
      if (t[Y][r * cols + c] > 0)
        l = -std::log(t[Prob][r * cols + c]);
    t[Loss][r] = l;
  }
}

inline void gradKernel(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *hp,
                       const BdlContext *) {
  for (int64_t k = r0 * cols; k < r1 * cols; ++k)
    t[Grad][k] = (t[Prob][k] - t[Y][k]) * hp[BDL_HP_INV_BATCH];
}

inline void biasKernel(int64_t, int64_t, int64_t cols, float *const *t, const float *hp,
                       const BdlContext *) {
  int64_t rows = int64_t(hp[BDL_HP_BATCH]);
  for (int64_t c = 0; c < cols; ++c) {
    float g = 0;
    for (int64_t r = 0; r < rows; ++r)
      g += t[Grad][r * cols + c];
    t[Bias][c] -= hp[BDL_HP_FIRST_PARAM] * g;
  }
}

/// Owns the descriptor tables; `model` points into them.
struct TinyModel {
  std::vector<BdlTensorDesc> tensors;
  std::vector<BdlParamDesc> params;
  std::vector<BdlOp> forwardOps, lossOps, learnOps;
  std::vector<BdlBlock> trainBlocks, evalBlocks;
  BdlModel model{};

  /// `evalLoss`: whether the eval blocks compute the loss too.
  TinyModel(int32_t features, int32_t classes, bool evalLoss = true, float lr = 0.5f) {
    auto c = [](int32_t v) { return BdlDim{BDL_DIM_CONST, v}; };
    BdlDim b{BDL_DIM_BATCH, 1};
    tensors = {
        {"x", BDL_ROLE_INPUT, BDL_INIT_ZERO, b, c(features), 0, 0, -1, -1},
        {"y", BDL_ROLE_TARGET, BDL_INIT_ZERO, b, c(classes), 0, 0, -1, -1},
        {"W", BDL_ROLE_WEIGHT, BDL_INIT_XAVIER, c(classes), c(features), 0, 0, -1, -1},
        {"b", BDL_ROLE_WEIGHT, BDL_INIT_ZERO, c(1), c(classes), 0, 0, -1, -1},
        {"logits", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, c(classes), 0, 0, -1, -1},
        {"prob", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, c(classes), 0, 0, -1, -1},
        {"loss", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, c(1), 0, 0, -1, -1},
        {"grad", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, c(classes), 0, 0, -1, -1},
    };
    params = {{"lr", lr, 1e-3, 1.0, BDL_PARAM_REAL, BDL_TUNE_LOG}};
    forwardOps = {
        gemm("logits", X, W, Logits, false, true, -1, 1.0f, 0.0f),
        kernel("softmax", softmaxKernel, b, c(classes)),
    };
    lossOps = {kernel("loss", lossKernel, b, c(classes))};
    learnOps = {
        kernel("grad", gradKernel, b, c(classes)),
        gemm("update_W", Grad, X, W, true, false, BDL_HP_FIRST_PARAM, -1.0f, 1.0f),
        kernel("update_b", biasKernel, c(1), c(classes), false),
    };
    trainBlocks = {block("forward", forwardOps), block("loss", lossOps), block("learn", learnOps)};
    evalBlocks = {block("forward", forwardOps)};
    if (evalLoss)
      evalBlocks.push_back(block("loss", lossOps));

    model.name = "tiny";
    model.sourceFile = "TinyModel.h";
    model.dataset = "mnist";
    model.tensors = tensors.data();
    model.params = params.data();
    model.trainBlocks = trainBlocks.data();
    model.evalBlocks = evalBlocks.data();
    model.abiVersion = BDL_ABI_VERSION;
    model.numTensors = int32_t(tensors.size());
    model.numParams = int32_t(params.size());
    model.numTrainBlocks = int32_t(trainBlocks.size());
    model.numEvalBlocks = int32_t(evalBlocks.size());
    model.inputTensor = X;
    model.targetTensor = Y;
    model.predictTensor = Prob;
    model.lossTensor = Loss;
    model.epochs = 3;
    model.batch = 16;
    model.validation = 0;
  }
  TinyModel(const TinyModel &) = delete;

  static BdlOp gemm(const char *name, int a, int bt, int ct, bool ta, bool tb, int slot,
                    float alpha, float beta) {
    BdlOp op{};
    op.kind = BDL_OP_GEMM;
    op.a = a;
    op.b = bt;
    op.c = ct;
    op.transA = ta;
    op.transB = tb;
    op.alphaSlot = slot;
    op.betaSlot = -1;
    op.alpha = alpha;
    op.beta = beta;
    op.name = name;
    return op;
  }
  static BdlOp kernel(const char *name, BdlKernelFn fn, BdlDim rows, BdlDim cols,
                      bool parallel = true) {
    BdlOp op{};
    op.kind = BDL_OP_KERNEL;
    op.parallel = parallel;
    op.a = op.b = op.c = -1;
    op.alphaSlot = op.betaSlot = -1;
    op.fn = fn;
    op.name = name;
    op.rows = rows;
    op.cols = cols;
    return op;
  }
  static BdlBlock block(const char *name, const std::vector<BdlOp> &ops) {
    return {name, 1, int32_t(ops.size()), ops.data()};
  }
};

} // namespace bdl::test

#endif // BDL_TEST_TINYMODEL_H
