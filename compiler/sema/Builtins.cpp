//===- Builtins.cpp -------------------------------------------------------===//
#include "sema/Builtins.h"

#include "ir/IR.h"

namespace bdl::sema {

const Builtin *findBuiltin(std::string_view name) {
  using F = Builtin::Form;
  static const Builtin builtins[] = {
      {"sigmoid", F::Elementwise, 1},
      {"tanh", F::Elementwise, 1},
      {"relu", F::Elementwise, 1},
      {"exp", F::Elementwise, 1},
      {"log", F::Elementwise, 1},
      {"abs", F::Elementwise, 1},
      {"sqrt", F::Elementwise, 1},
      {"dsigmoid", F::Elementwise, 1},
      {"dtanh", F::Elementwise, 1},
      {"drelu", F::Elementwise, 1},
      {"max", F::Elementwise, 2},
      {"min", F::Elementwise, 2},
      {"softmax", F::RowToRow, 1},
      {"sum", F::RowToScalar, 1},
      {"cross_entropy", F::RowToScalar, 2},
      {"mse", F::RowToScalar, 2},
      {"outer", F::Outer, 2},
      {"grad", F::Gradient, 2},
      {"angle", F::Statistic, 2},
      {"norm", F::Statistic, 1},
      {"update", F::Statistic, 1},
      {"conv2d", F::Image, 2},
      {"maxpool2d", F::Image, 2},
      {"batchnorm", F::Image, 3},
      {"flatten", F::Image, 1},
      {"zeros", F::Initialiser, 0},
      {"xavier", F::Initialiser, 0},
      {"kaiming", F::Initialiser, 0},
      {"eye", F::Initialiser, 0},
      {"uniform", F::Initialiser, 2},
      {"normal", F::Initialiser, 2},
  };
  for (const Builtin &b : builtins)
    if (name == b.name)
      return &b;
  return nullptr;
}

const RuntimeScalar *findRuntimeScalar(std::string_view name) {
  static const RuntimeScalar scalars[] = {
      {"epoch", ir::kEpochSlot, "the runtime's epoch counter, from 0"},
      {"batch_size", ir::kBatchSlot, "the number of examples in the current batch"},
      {"step", -1 - (int)ir::ContextField::Step, "the time step within the phase, from 0"},
      {"phase_steps", -1 - (int)ir::ContextField::Steps, "the number of steps of the phase"},
  };
  for (const RuntimeScalar &s : scalars)
    if (name == s.name)
      return &s;
  return nullptr;
}

} // namespace bdl::sema
