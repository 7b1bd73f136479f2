//===- cli/Info.cpp - `net info`: the model, its tensors and schedule -----===//
//
// The schedule is data (the descriptor's blocks and ops), so this prints
// what the executor will run, op by op, with the shapes resolved at the
// current params (--set hidden=... changes them).
//
//===----------------------------------------------------------------------===//
#include "cli/Info.h"

#include "bdl/executor.h"
#include "bdl/model.h"
#include "tune/Tuner.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace bdl {

namespace {

std::string shapeOf(const ModelInstance &inst, BdlDim rows, BdlDim cols) {
  return "[" + inst.describeDim(rows) + ", " + inst.describeDim(cols) + "]";
}

std::string tensorRef(const ModelInstance &inst, int t, bool trans) {
  const BdlTensorDesc &d = inst.model().tensors[t];
  return std::string(d.name) + (trans ? "^T" : "") + shapeOf(inst, d.rows, d.cols);
}

/// "*lr", "/batch": what a scale factor's hp slot multiplies it by.
std::string slotSuffix(const BdlModel &m, int32_t slot) {
  if (slot == BDL_HP_BATCH)
    return "*batch";
  if (slot == BDL_HP_INV_BATCH)
    return "/batch";
  if (slot >= BDL_HP_FIRST_PARAM)
    return std::string("*") + m.params[slot - BDL_HP_FIRST_PARAM].name;
  return "";
}

void printOp(const ModelInstance &inst, const BdlOp &op, const char *indent) {
  const BdlModel &m = inst.model();
  const char *name = op.name ? op.name : "?";
  auto scale = [&](float factor, int32_t slot) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", double(factor));
    return text + slotSuffix(m, slot);
  };
  switch (op.kind) {
  case BDL_OP_GEMM:
    std::printf("%s%-8s%-24s %s = %s * %s %s + %s * %s\n", indent, opKindName(op.kind), name,
                tensorRef(inst, op.c, false).c_str(), scale(op.alpha, op.alphaSlot).c_str(),
                tensorRef(inst, op.a, op.transA).c_str(), tensorRef(inst, op.b, op.transB).c_str(),
                scale(op.beta, op.betaSlot).c_str(), m.tensors[op.c].name);
    break;
  case BDL_OP_KERNEL:
    std::printf("%s%-8s%-24s over %s%s\n", indent, opKindName(op.kind), name,
                shapeOf(inst, op.rows, op.cols).c_str(), op.parallel ? "  parallel" : "");
    break;
  case BDL_OP_ROTATE:
    std::printf("%s%-8s%-24s %s .. %s (%d tensors, one step back)\n", indent, opKindName(op.kind),
                name, m.tensors[op.a].name, m.tensors[op.a + op.b - 1].name, op.b);
    break;
  case BDL_OP_REPLAY:
    std::printf("%s%-8s%-24s %s (with --replay %s=FILE)\n", indent, opKindName(op.kind), name,
                m.tensors[op.c].name, m.tensors[op.c].name);
    break;
  case BDL_OP_IMAGE: {
    const BdlWindow &w = op.window;
    std::printf("%s%-8s%-24s %s", indent, opKindName(op.kind), name,
                tensorRef(inst, op.c, false).c_str());
    if (op.image != BDL_IMAGE_RESHAPE)
      std::printf("  window %dx%d stride %d pad %d over [%d, %d, %d]", w.kernelH, w.kernelW,
                  w.stride, w.pad, w.channels, w.height, w.width);
    std::printf("\n");
    break;
  }
  }
  if (op.numGuardLiterals > 0)
    std::printf("%s        when %s: %s at these params\n", indent, guardText(m, op).c_str(),
                guardHolds(op, inst.hp()) ? "runs" : "skipped");
}

void printBlocks(ModelInstance &inst, const char *title, const BdlBlock *blocks, int n) {
  std::printf("%s blocks:\n", title);
  if (n == 0)
    std::printf("  (none)\n");
  for (int b = 0; b < n; ++b) {
    const BdlBlock &block = blocks[b];
    std::string steps = block.stepsFn
                            ? "steps drawn per batch"
                            : std::to_string(block.steps) + (block.steps == 1 ? " step" : " steps");
    std::printf("  %s  (%s, %d ops", block.name ? block.name : "?", steps.c_str(), block.numOps);
    if (block.numPrologueOps)
      std::printf(", %d prologue op%s", block.numPrologueOps, block.numPrologueOps == 1 ? "" : "s");
    if (block.resetState)
      std::printf(", resets state");
    if (block.monitorsOnly)
      std::printf(", monitored batches only");
    if (block.afterWarmup)
      std::printf(", after the warm-up epochs");
    if (cpu::splitsByExamples(inst, block))
      std::printf(", split by examples");
    std::printf(")\n");
    if (block.numPrologueOps) {
      std::printf("    prologue:\n");
      for (int i = 0; i < block.numPrologueOps; ++i)
        printOp(inst, block.prologueOps[i], "      ");
      std::printf("    each step:\n");
    }
    for (int i = 0; i < block.numOps; ++i)
      printOp(inst, block.ops[i], block.numPrologueOps ? "      " : "    ");
  }
}

} // namespace

int printModelInfo(ModelInstance &inst) {
  const BdlModel &model = inst.model();
  const BdlModel &m = model;
  std::printf("model    %s\nsource   %s\nabi      %u\n", m.name, m.sourceFile ? m.sourceFile : "?",
              m.abiVersion);
  std::printf("dataset  %s  (epochs %d, batch %d, validation %d", m.dataset ? m.dataset : "?",
              m.epochs, m.batch, m.validation);
  if (m.warmup)
    std::printf(", warm-up %d", m.warmup);
  std::printf(")\n");
  std::printf("tune     objective %s\n", tune::spelling(tune::modelObjective(m)).c_str());
  if (m.ptx)
    std::printf("ptx      %s (%zu bytes): --device cuda on %s or newer GPUs; the driver "
                "compiles it for the GPU it finds (LLVM 19 writes PTX up to sm_90: newer GPUs "
                "always run it through that JIT)\n",
                m.ptxArch ? m.ptxArch : "?", std::strlen(m.ptx), m.ptxArch ? m.ptxArch : "?");
  else
    std::printf("ptx      none: CPU only (bdlc --target=cuda adds PTX for --device cuda)\n");
  std::printf("params:\n");
  if (m.numParams == 0)
    std::printf("  (none)\n");
  static const char *tuneNames[] = {"", "linear", "log", "int", "bool", "choice"};
  for (int i = 0; i < m.numParams; ++i) {
    const BdlParamDesc &p = m.params[i];
    std::printf("  %-20s %-4s %-12g", p.name, paramTypeName(p.type), inst.param(i));
    if (p.derived)
      std::printf(" (derived)");
    else if (inst.param(i) != p.value)
      std::printf(" (default %g)", p.value);
    if (p.tune == BDL_TUNE_CHOICE) {
      std::printf(" tune choice [");
      for (int c = 0; c < p.numChoices; ++c)
        std::printf("%s%g", c ? ", " : "", p.choices[c]);
      std::printf("]");
    } else if (p.tune > BDL_TUNE_NONE && p.tune <= BDL_TUNE_BOOL) {
      std::printf(" tune %s [%g, %g]", tuneNames[p.tune], p.lo, p.hi);
    }
    std::printf("\n");
  }
  std::printf("tensors:\n");
  for (int i = 0; i < m.numTensors; ++i) {
    const BdlTensorDesc &t = m.tensors[i];
    std::string extra;
    if (t.role == BDL_ROLE_WEIGHT || t.role == BDL_ROLE_FIXED)
      extra = std::string("init ") + initName(t.init);
    if (i == m.inputTensor)
      extra += "(model input)";
    if (i == m.targetTensor)
      extra += "(model target)";
    if (i == m.predictTensor)
      extra += (extra.empty() ? "" : " ") + std::string("(prediction)");
    if (i == m.lossTensor)
      extra += (extra.empty() ? "" : " ") + std::string("(loss)");
    for (int32_t j = 0; j < m.numMonitors; ++j)
      if (i == m.monitorTensors[j])
        extra += (extra.empty() ? "" : " ") + std::string("(monitor ") + m.monitorNames[j] + ")";
    std::printf("  %-20s %-9s %-24s %s\n", t.name, roleName(t.role),
                shapeOf(inst, t.rows, t.cols).c_str(), extra.c_str());
  }
  printBlocks(inst, "train", m.trainBlocks, m.numTrainBlocks);
  printBlocks(inst, "eval", m.evalBlocks, m.numEvalBlocks);
  return ExitOk;
}

} // namespace bdl
