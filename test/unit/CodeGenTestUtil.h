//===- CodeGenTestUtil.h - Build, optimise and JIT bdl modules in tests ---===//
#ifndef BDL_TEST_CODEGENTESTUTIL_H
#define BDL_TEST_CODEGENTESTUTIL_H

#include "bdl/abi.h"
#include "codegen/CodeGen.h"
#include "ir/IR.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bdl::codegen::test {

inline ir::Tensor tensor(std::string name, ir::Dim rows, ir::Dim cols,
                         ir::Role role = ir::Role::Temp) {
  ir::Tensor t;
  t.name = std::move(name);
  t.rows = rows;
  t.cols = cols;
  t.role = role;
  return t;
}

inline ir::KernelOutput output(ir::TensorId t, ir::ExprPtr value, bool stored = true) {
  ir::KernelOutput o;
  o.tensor = t;
  o.value = std::move(value);
  o.stored = stored;
  return o;
}

inline ir::ExprPtr un(ir::ExprOp op, ir::ExprPtr x) { return ir::Expr::unary(op, std::move(x)); }
inline ir::ExprPtr bin(ir::ExprOp op, ir::ExprPtr l, ir::ExprPtr r) {
  return ir::Expr::binary(op, std::move(l), std::move(r));
}
inline ir::ExprPtr load(ir::TensorId t, ir::Access a = ir::Access::Full) {
  return ir::Expr::load(t, a);
}
inline ir::ExprPtr cst(float v) { return ir::Expr::constant(v); }

/// Appends `k` as the only op of a training block "step".
void addKernel(ir::Module &m, ir::KernelOp k);

struct JitOptions {
  int optLevel = 2;
  /// The CPU and extra features to optimise and compile for (as in
  /// TargetOptions); it must run on the host.
  std::string cpu = "host", features;
  EmitOptions emit;
  bool libmvec = false; // map llvm.exp etc. to glibc's libmvec
  /// Symbols the module may call (e.g. a stand-in for bdl_draw_wald).
  std::vector<std::pair<std::string, void *>> symbols;
};

/// A module emitted, verified, optimised for the host and JIT-compiled.
class Jitted {
public:
  ~Jitted();
  void *lookup(const std::string &symbol);
  BdlKernelFn kernel(const std::string &symbol) {
    return reinterpret_cast<BdlKernelFn>(lookup(symbol));
  }
  const BdlModel *model() { return static_cast<const BdlModel *>(lookup("bdl_model")); }
  std::string optimizedIR; // after optimize(), before JIT compilation

  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Fails the current test (and returns null) if any step fails.
std::unique_ptr<Jitted> jit(const ir::Module &m, const JitOptions &opts = {});

/// The optimised IR of `m` for `target`, or "" after a test failure.
std::string optimizedIR(const ir::Module &m, const TargetOptions &target, int optLevel = 2,
                        const EmitOptions &emit = {});

} // namespace bdl::codegen::test

#endif // BDL_TEST_CODEGENTESTUTIL_H
