//===- Lowering.h - Checked AST to bdl IR ---------------------*- C++ -*-===//
//
// Puts the batch dimension in (every per-example value becomes a
// [batch, n] tensor), turns `@` into GEMMs, softmax and losses into row
// reductions, and a learning rule into gradient terms (one GEMM per outer
// product, averaged over the batch) followed by one optimiser kernel per
// weight. Elementwise expressions become unfused Map kernels; fusion is a
// separate pass.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_LOWER_LOWERING_H
#define BDL_LOWER_LOWERING_H

#include "ir/IR.h"
#include "sema/Sema.h"

namespace bdl {

ir::Module lower(const sema::CheckedModel &model);

} // namespace bdl

#endif
