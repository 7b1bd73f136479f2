//===- CheckGradients.h - grad() against finite differences ----*- C++ -*-===//
#ifndef BDL_TRANSFORMS_CHECKGRADIENTS_H
#define BDL_TRANSFORMS_CHECKGRADIENTS_H

#include "ir/IR.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>

namespace bdl {

struct GradientCheckOptions {
  int64_t batch = 3;
  uint64_t seed = 1;
  int samples = 24;        // weight elements compared per grad (all if fewer)
  double tolerance = 1e-6; // largest relative error accepted
  double step = 1e-3;      // finite difference step, relative to max(1, |w|)
};

/// Differentiates `m` (a lowered module, before any other pass) and
/// compares every grad op's result with central finite differences of the
/// batch-mean loss, both evaluated in double precision by the IR interpreter
/// on random weights, inputs and targets. Prints one line per grad; returns
/// whether every one is within the tolerance (false, with the reason
/// printed, if the module has no grad or cannot be interpreted).
bool checkGradients(ir::Module &m, const GradientCheckOptions &opts, llvm::raw_ostream &os);

} // namespace bdl

#endif
