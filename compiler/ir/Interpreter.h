//===- Interpreter.h - The IR evaluated in double precision ----*- C++ -*-===//
//
// A reference evaluator of a module's schedule, independent of code
// generation: every tensor a vector of doubles, every op a plain loop with
// the generated code's semantics (ir::apply). It checks transforms against
// mathematics rather than against another float computation: bdlc
// --check-gradients compares the differentiate pass's gradients with central
// finite differences through it. Deterministic ops only: a random draw, a
// rotation or a replay (the dynamics) is refused.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_INTERPRETER_H
#define BDL_IR_INTERPRETER_H

#include "ir/IR.h"

#include <string>
#include <vector>

namespace bdl::ir {

class Interpreter {
public:
  /// Every tensor zero, at the params' default values and `batch` examples.
  Interpreter(const Module &m, int64_t batch);

  int64_t extent(Dim d) const;
  int64_t rows(TensorId t) const { return extent(m.tensors[t].rows); }
  int64_t cols(TensorId t) const { return extent(m.tensors[t].cols); }
  std::vector<double> &tensor(TensorId t) { return values[t]; }
  const std::vector<double> &tensor(TensorId t) const { return values[t]; }

  /// Runs the blocks once each, in order (one step each: the verifier's
  /// rules for a schedule with grads). Empty on success, else what it
  /// cannot evaluate.
  std::string run(const std::vector<Block> &blocks);

private:
  std::string runOp(const Op &op);
  void gemm(const GemmOp &g);
  void image(const ImageOp &i);
  void kernel(const KernelOp &k);
  double eval(const Expr &e, int64_t r, int64_t c, const std::vector<double> &locals) const;

  const Module &m;
  int64_t batch;
  std::vector<double> hp;
  std::vector<std::vector<double>> values;
};

} // namespace bdl::ir

#endif // BDL_IR_INTERPRETER_H
