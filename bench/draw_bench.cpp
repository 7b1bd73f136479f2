//===- draw_bench.cpp - Nanoseconds per Poisson draw in generated kernels -===//
//
// Compiles the kernel `n = poisson[1](lam)` over [rows, cols] through the
// real code generator (host CPU, O2), JITs it twice, with the deferred fast
// path (EmitOptions::deferDraws) and with the inline search loop, and
// prints the time per draw at a range of means, one thread. Both versions
// are checked against bdl/sampler.h on every element before timing.
//
//   build/bin/draw_bench [ROWS COLS REPEATS]   (default 64 784 200)
//
//===----------------------------------------------------------------------===//
#include "bdl/abi.h"
#include "bdl/sampler.h"
#include "codegen/CodeGen.h"
#include "ir/IR.h"

#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <vector>

using namespace bdl;

namespace {

constexpr int32_t kSite = 1;
constexpr int kTrials = 5;

double threadSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

ir::Module drawModule(int64_t cols) {
  ir::Module m;
  auto tensor = [&](const char *name, ir::Role role) {
    ir::Tensor t;
    t.name = name;
    t.rows = ir::Dim::batch();
    t.cols = ir::Dim::constant(cols);
    t.role = role;
    return m.addTensor(std::move(t));
  };
  ir::TensorId lam = tensor("lam", ir::Role::Input), n = tensor("n", ir::Role::Temp);
  ir::KernelOp k;
  k.name = "draw";
  k.rows = ir::Dim::batch();
  k.cols = ir::Dim::constant(cols);
  ir::KernelOutput out;
  out.tensor = n;
  out.value = ir::Expr::unary(ir::ExprOp::Poisson, ir::Expr::load(lam, ir::Access::Full));
  out.value->index = kSite;
  k.outputs.push_back(std::move(out));
  ir::Block b;
  b.name = "step";
  b.ops.emplace_back(std::move(k));
  m.trainBlocks.push_back(std::move(b));
  return m;
}

/// The kernel, JIT-compiled; the LLJIT must outlive the returned pointer.
BdlKernelFn compile(const ir::Module &m, bool defer, std::unique_ptr<llvm::orc::LLJIT> &jit) {
  auto ctx = std::make_unique<llvm::LLVMContext>();
  codegen::EmitOptions emit;
  emit.deferDraws = defer;
  auto mod = codegen::emitModule(m, *ctx, emit);
  auto tm = codegen::createTargetMachine({});
  if (!mod || !tm) {
    std::fprintf(stderr, "draw_bench: cannot compile the kernel\n");
    std::exit(1);
  }
  codegen::optimize(**mod, **tm, 2);
  auto j = llvm::orc::LLJITBuilder().create();
  if (!j || (*j)->addIRModule(llvm::orc::ThreadSafeModule(std::move(*mod), std::move(ctx)))) {
    std::fprintf(stderr, "draw_bench: cannot JIT the kernel\n");
    std::exit(1);
  }
  jit = std::move(*j);
  auto sym = jit->lookup(codegen::kernelSymbol(0, "draw"));
  if (!sym) {
    std::fprintf(stderr, "draw_bench: no kernel symbol\n");
    std::exit(1);
  }
  return sym->toPtr<BdlKernelFn>();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  if (const char *a = std::getenv("XARGS")) {
    const char *args[] = {"draw_bench", a};
    llvm::cl::ParseCommandLineOptions(2, args);
  }
  const int64_t rows = argc > 1 ? std::atol(argv[1]) : 64;
  const int64_t cols = argc > 2 ? std::atol(argv[2]) : 784;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 200;
  ir::Module m = drawModule(cols);
  std::unique_ptr<llvm::orc::LLJIT> jitFast, jitLoop;
  BdlKernelFn fast = compile(m, true, jitFast), loop = compile(m, false, jitLoop);

  std::printf("ns per draw, [%lld x %lld] per call, %d calls, host CPU, O2\n", (long long)rows,
              (long long)cols, repeats);
  std::printf("%-22s %10s %10s %8s\n", "means", "loop", "fast", "speedup");
  std::vector<float> lam(rows * cols), n(rows * cols);
  float *tensors[] = {lam.data(), n.data()};
  float hp[ir::kFirstParamSlot] = {float(rows), 1.0f / float(rows), 0};
  struct Case {
    const char *name;
    float mean, zeros; // a share `zeros` of the means is 0 (as in MNIST's pixels)
  } cases[] = {{"0.02", 0.02f, 0}, {"0.2", 0.2f, 0}, {"0.2, 80% zero", 0.2f, 0.8f},
               {"1", 1.0f, 0},     {"5", 5.0f, 0},   {"50", 50.0f, 0}};
  for (const Case &c : cases) {
    std::mt19937 gen(1);
    std::uniform_real_distribution<float> u(0, 1);
    for (float &x : lam)
      x = u(gen) < c.zeros ? 0.0f : c.mean * 2 * u(gen); // mean c.mean where not zero
    double ns[2];
    BdlKernelFn fns[2] = {loop, fast};
    for (int v = 0; v < 2; ++v) {
      BdlContext ctx{12345, 0, 0, 0, 1, 0, 0};
      fns[v](0, rows, cols, tensors, hp, &ctx);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t col = 0; col < cols; ++col) {
          float want = sampler::poisson(sampler::drawKey(ctx, kSite, r, col), lam[r * cols + col]);
          if (std::bit_cast<uint32_t>(want) != std::bit_cast<uint32_t>(n[r * cols + col])) {
            std::fprintf(stderr, "draw_bench: mismatch at (%lld, %lld)\n", (long long)r,
                         (long long)col);
            return 1;
          }
        }
      // The best of a few trials in this thread's CPU time: the machines
      // these run on are shared.
      ns[v] = 1e300;
      for (int trial = 0; trial < kTrials; ++trial) {
        double t0 = threadSeconds();
        for (int i = 0; i < repeats; ++i) {
          ctx.step = i;
          fns[v](0, rows, cols, tensors, hp, &ctx);
        }
        ns[v] =
            std::min(ns[v], (threadSeconds() - t0) * 1e9 / (double(repeats) * double(rows * cols)));
      }
    }
    std::printf("%-22s %10.2f %10.2f %7.1fx\n", c.name, ns[0], ns[1], ns[0] / ns[1]);
  }
  return 0;
}
