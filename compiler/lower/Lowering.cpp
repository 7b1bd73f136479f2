//===- Lowering.cpp - The checked model to IR -----------------------------===//
#include "lower/Lowerer.h"

namespace bdl {

ir::Module lower(const sema::CheckedModel &model) { return lowering::Lowerer(model).run(); }

} // namespace bdl
