//===- Passes.h - IR-to-IR transforms -------------------------*- C++ -*-===//
#ifndef BDL_TRANSFORMS_PASSES_H
#define BDL_TRANSFORMS_PASSES_H

#include "ir/IR.h"

#include <string_view>
#include <vector>

namespace bdl {

/// Replaces every grad op by the reverse sweep that computes it
/// (Differentiate.cpp). First in the pipeline: no backend handles a grad op.
void differentiate(ir::Module &m);

/// Evaluates constant subexpressions and drops exact identities (x*1, x-0, ...).
void foldConstants(ir::Module &m);

/// Inlines single-use elementwise temporaries into their consumer, merges
/// adjacent Map kernels over the same iteration space into one, and stops
/// storing temporaries that nothing outside their kernel reads.
void fuseElementwise(ir::Module &m);

/// Lets a GEMM accumulate straight into an optimiser's velocity
/// (v = alpha op(A) op(B) + mu v) when the gradient it wrote is read by that
/// momentum step alone (FoldMomentumIntoGemm.cpp).
void foldMomentumIntoGemm(ir::Module &m);

/// Moves the ops of a phase whose inputs do not change within it (weights,
/// params, the input) into the phase's prologue (HoistInvariants.cpp).
void hoistInvariants(ir::Module &m);

/// Gives each GEMM and rotation whose result is read only under selects on
/// params the condition under which it is read, so the runtime can skip it
/// otherwise (GuardOps.cpp).
void guardOps(ir::Module &m);

struct Pass {
  std::string_view name;
  std::string_view summary;
  void (*run)(ir::Module &);
};

/// The default pipeline, in order: the one list of passes. `bdlc
/// --print-after=NAME` and `bdl-opt --pass=NAME` name these.
const std::vector<Pass> &defaultPipeline();

/// The pass of the default pipeline called `name`, or null.
const Pass *findPass(std::string_view name);

} // namespace bdl

#endif
