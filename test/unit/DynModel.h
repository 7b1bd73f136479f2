//===- DynModel.h - A hand-written model with neuron dynamics -------------===//
//
// What bdlc would emit for a small spiking classifier under ABI v4: a
// forward phase of a drawn number of steps (a step function with a Wald
// draw) whose prologue computes the loop-invariant drive, a soma that
// integrates it, a spike history moved back by ROTATE every step, spikes
// drawn from the context's Philox keys and open to REPLAY, a learning block,
// a fixed gain initialised from a derived parameter, and evaluation blocks
// that reset the state before each example. The state carries across
// examples in training, so resuming must restore it and the time.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TEST_DYNMODEL_H
#define BDL_TEST_DYNMODEL_H

#include "TinyModel.h"
#include "bdl/abi.h"
#include "bdl/rng.h"

#include <cmath>
#include <vector>

namespace bdl::test {

enum DynTensor {
  DX,  // input [B, F]
  DY,  // target [B, K]
  DW,  // weight [K, F]
  DU,  // state: soma [B, K]
  DS0, // state: spikes now, 1 and 2 steps ago [B, K]
  DS1,
  DS2,
  DDrive, // temp: x W^T, the prologue's [B, K]
  DPred,  // temp: mean soma over the phase [B, K]
  DAcc,   // temp: its running sum [B, K]
  DGain,  // fixed [1, K], const init from the derived parameter `gain`
  DCtx,   // temp [1, 8]: the context of the last soma call
  DLoss,  // temp [B, 1]
  DGrad,  // temp [B, K]
  NumDynTensors
};

// Parameter indices (ints, not an enum: they are added to BDL_HP_FIRST_PARAM).
constexpr int PLr = 0, PTau = 1, PGain = 2;
constexpr int kGainSlot = BDL_HP_FIRST_PARAM + PGain;
constexpr int32_t kSpikeSite = 1, kStepsSite = 2;

/// gain = 2 * tau
inline void dynDerive(float *hp) { hp[kGainSlot] = 2.0f * hp[BDL_HP_FIRST_PARAM + PTau]; }

/// 3 + int(Wald(2, 1)), at most 12: the phase length, drawn once per batch.
inline int32_t dynSteps(const float *, const BdlContext *ctx) {
  float w = bdl_draw_wald(ctx, kStepsSite, 2.0f, 1.0f);
  return 3 + int32_t(std::fmin(w, 9.0f));
}

inline void dynZeroAcc(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                       const BdlContext *) {
  for (int64_t k = r0 * cols; k < r1 * cols; ++k)
    t[DAcc][k] = 0;
}

/// u = tau u + gain drive + 0.25 (spikes 1 step ago) - 0.1 [time % 3 == 0]
inline void dynSoma(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *hp,
                    const BdlContext *ctx) {
  float tau = hp[BDL_HP_FIRST_PARAM + PTau];
  float kick = ctx->time % 3 == 0 ? 0.1f : 0.0f;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t k = r * cols + c;
      t[DU][k] = tau * t[DU][k] + t[DGain][c] * t[DDrive][k] + 0.25f * t[DS1][k] - kick;
    }
  if (r0 == 0) {
    float *log = t[DCtx];
    log[0] = float(ctx->seed);
    log[1] = float(ctx->example0);
    log[2] = float(ctx->time);
    log[3] = float(ctx->step);
    log[4] = float(ctx->steps);
    log[5] = float(ctx->block);
  }
}

/// s0 = 1 with probability sigmoid(u): a draw keyed like generated code's.
inline void dynSpike(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                     const BdlContext *ctx) {
  PhiloxKey key{uint32_t(ctx->seed), uint32_t(ctx->seed >> 32)};
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      PhiloxCounter ctr{uint32_t(c), uint32_t(ctx->step), uint32_t(ctx->example0 + r),
                        BDL_DRAW_STREAM | uint32_t(kSpikeSite) << 8 | uint32_t(ctx->block)};
      float u01 = float(philox4x32(ctr, key)[0] >> 8) * 0x1p-24f;
      float p = 1.0f / (1.0f + std::exp(-t[DU][r * cols + c]));
      t[DS0][r * cols + c] = u01 < p ? 1.0f : 0.0f;
    }
}

inline void dynAccumulate(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *,
                          const BdlContext *ctx) {
  for (int64_t k = r0 * cols; k < r1 * cols; ++k) {
    t[DAcc][k] += t[DU][k];
    t[DPred][k] = t[DAcc][k] / float(ctx->step + 1);
  }
}

/// Softmax cross-entropy of the prediction: the loss and the gradient.
inline void dynLossGrad(int64_t r0, int64_t r1, int64_t cols, float *const *t, const float *hp,
                        const BdlContext *) {
  for (int64_t r = r0; r < r1; ++r) {
    const float *z = t[DPred] + r * cols;
    float mx = -INFINITY, sum = 0, loss = 0;
    for (int64_t c = 0; c < cols; ++c)
      mx = std::fmax(mx, z[c]);
    for (int64_t c = 0; c < cols; ++c)
      sum += std::exp(z[c] - mx);
    for (int64_t c = 0; c < cols; ++c) {
      float p = std::exp(z[c] - mx) / sum;
      float y = t[DY][r * cols + c];
      if (y > 0)
        loss = -std::log(std::fmax(p, 1e-30f));
      t[DGrad][r * cols + c] = (p - y) * hp[BDL_HP_INV_BATCH];
    }
    t[DLoss][r] = loss;
  }
}

struct DynModel {
  std::vector<BdlTensorDesc> tensors;
  std::vector<BdlParamDesc> params;
  std::vector<BdlOp> prologue, stepOps, learnOps;
  std::vector<BdlBlock> trainBlocks, evalBlocks;
  BdlModel model{};

  DynModel(int32_t features, int32_t classes) {
    auto c = [](int32_t v) { return BdlDim{BDL_DIM_CONST, v}; };
    BdlDim b{BDL_DIM_BATCH, 1}, k = c(classes);
    auto t = [](const char *name, int32_t role, int32_t init, BdlDim rows, BdlDim cols) {
      return BdlTensorDesc{name, role, init, rows, cols, 0, 0, -1, -1};
    };
    tensors = {
        t("x", BDL_ROLE_INPUT, BDL_INIT_ZERO, b, c(features)),
        t("y", BDL_ROLE_TARGET, BDL_INIT_ZERO, b, k),
        t("W", BDL_ROLE_WEIGHT, BDL_INIT_XAVIER, k, c(features)),
        t("out.u", BDL_ROLE_STATE, BDL_INIT_ZERO, b, k),
        t("out.s0", BDL_ROLE_STATE, BDL_INIT_ZERO, b, k),
        t("out.s1", BDL_ROLE_STATE, BDL_INIT_ZERO, b, k),
        t("out.s2", BDL_ROLE_STATE, BDL_INIT_ZERO, b, k),
        t("drive", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, k),
        t("pred", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, k),
        t("acc", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, k),
        t("gain", BDL_ROLE_FIXED, BDL_INIT_CONST, c(1), k),
        t("ctx", BDL_ROLE_TEMP, BDL_INIT_ZERO, c(1), c(8)),
        t("loss", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, c(1)),
        t("grad", BDL_ROLE_TEMP, BDL_INIT_ZERO, b, k),
    };
    tensors[DGain].initASlot = kGainSlot;
    params = {{"lr", 0.05, 0, 0, BDL_PARAM_REAL, BDL_TUNE_NONE, 0},
              {"tau", 0.5, 0, 0, BDL_PARAM_REAL, BDL_TUNE_NONE, 0},
              {"gain", 0, 0, 0, BDL_PARAM_REAL, BDL_TUNE_NONE, 1}};
    prologue = {TinyModel::gemm("drive", DX, DW, DDrive, false, true, -1, 1.0f, 0.0f),
                TinyModel::kernel("zero_acc", dynZeroAcc, b, k)};
    BdlOp rotate{};
    rotate.kind = BDL_OP_ROTATE;
    rotate.a = DS0;
    rotate.b = 3;
    rotate.c = -1;
    rotate.name = "rotate_spikes";
    BdlOp replay{};
    replay.kind = BDL_OP_REPLAY;
    replay.a = replay.b = -1;
    replay.c = DS0;
    replay.name = "replay_spikes";
    stepOps = {rotate, TinyModel::kernel("soma", dynSoma, b, k, false),
               TinyModel::kernel("spike", dynSpike, b, k), replay,
               TinyModel::kernel("accumulate", dynAccumulate, b, k)};
    learnOps = {TinyModel::kernel("loss_grad", dynLossGrad, b, k),
                TinyModel::gemm("update_W", DGrad, DX, DW, true, false, BDL_HP_FIRST_PARAM + PLr,
                                -1.0f, 1.0f)};
    BdlBlock forward{"forward",
                     0,
                     int32_t(stepOps.size()),
                     stepOps.data(),
                     dynSteps,
                     int32_t(prologue.size()),
                     0,
                     prologue.data()};
    BdlBlock learn{"learn", 1, int32_t(learnOps.size()), learnOps.data(), nullptr, 0, 0, nullptr};
    trainBlocks = {forward, learn};
    BdlBlock test{"test",
                  5,
                  int32_t(stepOps.size()),
                  stepOps.data(),
                  nullptr,
                  int32_t(prologue.size()),
                  1,
                  prologue.data()};
    evalBlocks = {test, BdlBlock{"loss", 1, 1, learnOps.data(), nullptr, 0, 0, nullptr}};

    model.name = "dyn";
    model.sourceFile = "DynModel.h";
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
    model.inputTensor = DX;
    model.targetTensor = DY;
    model.predictTensor = DPred;
    model.lossTensor = DLoss;
    model.epochs = 2;
    model.batch = 1;
    model.derive = dynDerive;
  }
  DynModel(const DynModel &) = delete;
};

} // namespace bdl::test

#endif // BDL_TEST_DYNMODEL_H
