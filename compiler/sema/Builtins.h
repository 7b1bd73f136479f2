//===- Builtins.h - The functions a .bdl expression may call ---*- C++ -*-===//
#ifndef BDL_SEMA_BUILTINS_H
#define BDL_SEMA_BUILTINS_H

#include <string_view>

namespace bdl::sema {

struct Builtin {
  enum class Form {
    Elementwise, // per element; two arguments broadcast
    RowToRow,    // one example's vector to a vector (softmax)
    RowToScalar, // one example's vector(s) to a scalar (losses, sum)
    Outer,       // outer(a, b): a matrix
    Gradient,    // grad(L, W): a weight's shape (sema/Shapes.cpp, gradShape)
    Statistic,   // angle, norm, update, mean(x): learn-block scalars (statisticShape)
    Initialiser, // only after a tensor's '='
    Image        // conv2d, maxpool2d, batchnorm, flatten (sema/Images.cpp)
  };
  const char *name;
  Form form;
  unsigned arity;
};

/// Null if `name` is not a builtin.
const Builtin *findBuiltin(std::string_view name);

/// A predeclared name for a scalar the runtime sets (`epoch`). A model's own
/// declaration of the name hides it; a learn-block value may not.
struct RuntimeScalar {
  const char *name;
  int slot; // hp[slot], or -1 - ir::ContextField for a step counter
  const char *meaning;
};

/// Null if `name` is not predeclared.
const RuntimeScalar *findRuntimeScalar(std::string_view name);

} // namespace bdl::sema

#endif
