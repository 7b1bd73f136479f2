//===- core/VerifyModel.cpp - Checks of a descriptor before it runs -------===//
//
// verifyModel (bdl/model.h): everything the runtime relies on in a BdlModel,
// checked once when a model is loaded, so that a descriptor that does not
// match this runtime (another ABI version, a damaged or hand-made one) fails
// with a message instead of running off a buffer.
//
//===----------------------------------------------------------------------===//

#include "Descriptor.h"
#include "bdl/error.h"
#include "bdl/image.h"
#include "bdl/model.h"

#include <string>

namespace bdl {

/// An image op's operands must be the images and patches its window says,
/// or the generated code and bdl/image.h would run off their buffers.
template <typename Fail>
static void checkImageOp(const BdlModel &m, const BdlOp &op, const std::string &oname,
                         Fail &&fail) {
  bool adjoint = op.image == BDL_IMAGE_MAXPOOL_ADJOINT;
  for (int32_t t : {op.a, op.c, adjoint ? op.b : op.a})
    if (t < 0 || t >= m.numTensors)
      return fail(oname + " names tensor " + std::to_string(t) + " of " +
                  std::to_string(m.numTensors));
  if (op.image < BDL_IMAGE_IM2COL || op.image > BDL_IMAGE_RESHAPE)
    return fail(oname + " has unknown image kind " + std::to_string(op.image));
  const BdlTensorDesc &in = m.tensors[op.a], &out = m.tensors[op.c];
  auto isConst = [](BdlDim d) { return d.kind == BDL_DIM_CONST; };
  if (op.image == BDL_IMAGE_RESHAPE) {
    bool sameSize =
        in.rows.kind == out.rows.kind && in.rows.kind != BDL_DIM_PARAM && isConst(in.cols) &&
        isConst(out.cols) &&
        int64_t(in.rows.value) * in.cols.value == int64_t(out.rows.value) * out.cols.value;
    if (!sameSize)
      fail(oname + " reshapes '" + std::string(in.name) + "' into '" + out.name +
           "' of another size");
    return;
  }
  const BdlWindow &w = op.window;
  if (w.channels < 1 || w.height < 1 || w.width < 1 || w.kernelH < 1 || w.kernelW < 1 ||
      w.stride < 1 || w.pad < 0 || w.pad >= w.kernelH || w.pad >= w.kernelW ||
      w.height + 2 * w.pad < w.kernelH || w.width + 2 * w.pad < w.kernelW)
    return fail(oname + " has a window that does not fit its image");
  int64_t pixels = int64_t(w.height) * w.width,
          positions = image::outHeight(w) * image::outWidth(w);
  int64_t patch = int64_t(w.channels) * w.kernelH * w.kernelW;
  auto expect = [&](const BdlTensorDesc &t, int64_t perExample, int64_t cols) {
    if (t.rows.kind != BDL_DIM_BATCH || t.rows.value != perExample || !isConst(t.cols) ||
        t.cols.value != cols)
      fail(oname + ": tensor '" + std::string(t.name) + "' is not [B*" +
           std::to_string(perExample) + ", " + std::to_string(cols) + "]");
  };
  bool fromImage = op.image != BDL_IMAGE_COL2IM;
  expect(in, fromImage ? pixels : positions, fromImage ? w.channels : patch);
  switch (op.image) {
  case BDL_IMAGE_IM2COL:
    return expect(out, positions, patch);
  case BDL_IMAGE_COL2IM:
  case BDL_IMAGE_MAXPOOL_ADJOINT:
    if (adjoint)
      expect(m.tensors[op.b], positions, w.channels);
    return expect(out, pixels, w.channels);
  default:
    return expect(out, positions, w.channels);
  }
}

void verifyModel(const BdlModel &m) {
  std::string where = "model '" + nameOr(m.name) + "': ";
  auto fail = [&](const std::string &what) { throw Error(where + what); };
  if (m.abiVersion != BDL_ABI_VERSION)
    fail("compiled for runtime ABI version " + std::to_string(m.abiVersion) +
         " but this runtime implements version " + std::to_string(BDL_ABI_VERSION) +
         "; recompile the model with a matching bdlc");
  if (m.numTensors < 0 || m.numParams < 0 || m.numTrainBlocks < 0 || m.numEvalBlocks < 0)
    fail("negative table size");
  if ((m.numTensors && !m.tensors) || (m.numParams && !m.params) ||
      (m.numTrainBlocks && !m.trainBlocks) || (m.numEvalBlocks && !m.evalBlocks) ||
      m.numMonitors < 0 || (m.numMonitors && (!m.monitorTensors || !m.monitorNames)))
    fail("missing table");
  for (int32_t i = 0; i < m.numMonitors; ++i)
    if (!m.monitorNames[i] || m.monitorTensors[i] < 0 || m.monitorTensors[i] >= m.numTensors)
      fail("monitor " + std::to_string(i) + " names no tensor of the model");

  auto checkDim = [&](BdlDim d, const std::string &what) {
    if (d.kind == BDL_DIM_CONST) {
      if (d.value < 1)
        fail(what + " has extent " + std::to_string(d.value));
    } else if (d.kind == BDL_DIM_PARAM) {
      if (d.value < 0 || d.value >= m.numParams)
        fail(what + " refers to parameter " + std::to_string(d.value) + " of " +
             std::to_string(m.numParams));
    } else if (d.kind == BDL_DIM_BATCH) {
      if (d.value < 1)
        fail(what + " has " + std::to_string(d.value) + " rows per example");
    } else {
      fail(what + " has unknown dimension kind " + std::to_string(d.kind));
    }
  };
  for (int i = 0; i < m.numTensors; ++i) {
    const BdlTensorDesc &t = m.tensors[i];
    std::string name = "tensor '" + nameOr(t.name) + "'";
    if (!t.name)
      fail("tensor " + std::to_string(i) + " has no name");
    if (t.role < BDL_ROLE_INPUT || t.role > BDL_ROLE_OPTIMIZER)
      fail(name + " has unknown role " + std::to_string(t.role));
    if (t.init < BDL_INIT_ZERO || t.init > BDL_INIT_EYE)
      fail(name + " has unknown initialiser " + std::to_string(t.init));
    checkDim(t.rows, name + " rows");
    checkDim(t.cols, name + " cols");
    // Runtime slots (the batch, the epoch) are no initialiser arguments: a
    // slot below the parameters is a descriptor that forgot to say -1.
    for (auto [slot, which] : {std::pair{t.initASlot, "initASlot"}, {t.initBSlot, "initBSlot"}})
      if (slot != -1 && (slot < BDL_HP_FIRST_PARAM || slot >= BDL_HP_FIRST_PARAM + m.numParams))
        fail(name + " " + which + " " + std::to_string(slot) +
             " is not a parameter's hp slot (-1 for none)");
  }
  bool anyDerived = false;
  for (int i = 0; i < m.numParams; ++i) {
    const BdlParamDesc &p = m.params[i];
    if (!p.name)
      fail("parameter " + std::to_string(i) + " has no name");
    if (p.tune < BDL_TUNE_NONE || p.tune > BDL_TUNE_CHOICE)
      fail("parameter '" + nameOr(p.name) + "' has unknown tune kind " + std::to_string(p.tune));
    if (p.tune == BDL_TUNE_CHOICE && (p.numChoices < 1 || !p.choices))
      fail("parameter '" + nameOr(p.name) + "' is a choice without values");
    anyDerived = anyDerived || p.derived;
  }
  if (anyDerived && !m.derive)
    fail("has derived parameters but no derive function");

  auto checkTensor = [&](int32_t index, const std::string &what, bool optional) {
    if (optional && index == -1)
      return;
    if (index < 0 || index >= m.numTensors)
      fail(what + " is tensor " + std::to_string(index) + " of " + std::to_string(m.numTensors));
  };
  checkTensor(m.inputTensor, "input", false);
  checkTensor(m.targetTensor, "target", false);
  checkTensor(m.predictTensor, "prediction", false);
  checkTensor(m.lossTensor, "loss", true);
  if (m.inputChannels || m.inputHeight || m.inputWidth) {
    const BdlTensorDesc &x = m.tensors[m.inputTensor];
    if (m.inputChannels < 1 || m.inputHeight < 1 || m.inputWidth < 1 ||
        x.rows.kind != BDL_DIM_BATCH || x.rows.value != int64_t(m.inputHeight) * m.inputWidth ||
        x.cols.kind != BDL_DIM_CONST || x.cols.value != m.inputChannels)
      fail("input image [" + std::to_string(m.inputChannels) + ", " +
           std::to_string(m.inputHeight) + ", " + std::to_string(m.inputWidth) +
           "] does not match input tensor '" + nameOr(x.name) + "'");
  }

  // A guard reads params only (their slots hold for a whole run), and only
  // GEMMs and rotations carry one.
  auto checkGuard = [&](const BdlOp &op, const std::string &oname) {
    if (op.numGuardLiterals == 0)
      return;
    if (op.numGuardLiterals < 0 || !op.guard ||
        (op.kind != BDL_OP_GEMM && op.kind != BDL_OP_ROTATE) ||
        !(op.guard[op.numGuardLiterals - 1].flags & BDL_GUARD_LAST))
      return fail(oname + " has a malformed guard");
    for (int32_t i = 0; i < op.numGuardLiterals; ++i) {
      int32_t slot = op.guard[i].slot;
      if (slot < BDL_HP_FIRST_PARAM || slot >= BDL_HP_FIRST_PARAM + m.numParams)
        fail(oname + "'s guard reads hp slot " + std::to_string(slot) + ", not a parameter's");
    }
  };

  auto checkBlocks = [&](const BdlBlock *blocks, int32_t n) {
    for (int b = 0; b < n; ++b) {
      const BdlBlock &block = blocks[b];
      std::string bname = "block '" + nameOr(block.name) + "'";
      if (block.steps < 0 || block.numOps < 0 || (block.numOps && !block.ops) ||
          block.numPrologueOps < 0 || (block.numPrologueOps && !block.prologueOps))
        fail(bname + " is malformed");
      auto opAt = [&](int o) -> const BdlOp & {
        return o < block.numPrologueOps ? block.prologueOps[o]
                                        : block.ops[o - block.numPrologueOps];
      };
      for (int o = 0; o < block.numPrologueOps + block.numOps; ++o) {
        const BdlOp &op = opAt(o);
        std::string oname = bname + " op '" + nameOr(op.name) + "'";
        if (op.kind == BDL_OP_GEMM) {
          checkTensor(op.a, oname + " operand a", false);
          checkTensor(op.b, oname + " operand b", false);
          checkTensor(op.c, oname + " operand c", false);
          if (op.c == op.a || op.c == op.b)
            fail(oname + " writes one of its inputs");
          for (int32_t slot : {op.alphaSlot, op.betaSlot})
            if (slot >= BDL_HP_FIRST_PARAM + m.numParams)
              fail(oname + " scales by hp slot " + std::to_string(slot));
        } else if (op.kind == BDL_OP_KERNEL) {
          if (!op.fn)
            fail(oname + " has no function");
          checkDim(op.rows, oname + " rows");
          checkDim(op.cols, oname + " cols");
        } else if (op.kind == BDL_OP_ROTATE) {
          if (op.b < 1 || op.a < 0 || op.a > m.numTensors - op.b)
            fail(oname + " rotates tensors " + std::to_string(op.a) + ".." +
                 std::to_string(int64_t(op.a) + op.b - 1) + " of " + std::to_string(m.numTensors));
          // Buffers change hands: every one must fit every tensor.
          const BdlTensorDesc &first = m.tensors[op.a];
          for (int32_t j = 1; j < op.b; ++j) {
            const BdlTensorDesc &t = m.tensors[op.a + j];
            if (t.rows.kind != first.rows.kind || t.rows.value != first.rows.value ||
                t.cols.kind != first.cols.kind || t.cols.value != first.cols.value ||
                t.role != first.role)
              fail(oname + " rotates '" + nameOr(first.name) + "' and '" + nameOr(t.name) +
                   "', which differ in shape or role");
          }
        } else if (op.kind == BDL_OP_REPLAY) {
          checkTensor(op.c, oname + " operand c", false);
        } else if (op.kind == BDL_OP_IMAGE) {
          checkImageOp(m, op, oname, fail);
        } else {
          fail(oname + " has unknown kind " + std::to_string(op.kind));
        }
        checkGuard(op, oname);
      }
    }
  };
  checkBlocks(m.trainBlocks, m.numTrainBlocks);
  checkBlocks(m.evalBlocks, m.numEvalBlocks);
}

} // namespace bdl
