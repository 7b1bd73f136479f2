//===- Pipeline.cpp -------------------------------------------------------===//
#include "transforms/Passes.h"

namespace bdl {

const std::vector<Pass> &defaultPipeline() {
  static const std::vector<Pass> passes = {
      {"differentiate", "grad ops replaced by reverse-mode sweeps", differentiate},
      {"fold", "constant folding", foldConstants},
      // Before fusion, which would otherwise merge invariant and varying kernels.
      {"hoist", "loop invariants of a phase into its prologue", hoistInvariants},
      {"fuse", "elementwise fusion", fuseElementwise},
      // After fusion, which may inline a scaled gradient into the step.
      {"fold-momentum", "momentum folded into the gradient GEMM", foldMomentumIntoGemm},
      // Fusion builds new expression trees out of folded pieces; fold again.
      {"fold-fused", "constant folding after fusion", foldConstants},
      // Last: it reads the selects of the final kernels.
      {"guard", "ops read only under ifs on params run only when they hold", guardOps},
  };
  return passes;
}

const Pass *findPass(std::string_view name) {
  for (const Pass &pass : defaultPipeline())
    if (pass.name == name)
      return &pass;
  return nullptr;
}

} // namespace bdl
