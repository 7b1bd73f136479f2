//===- ModuleEmitter.cpp - ir::Module -> llvm::Module --------------------===//
#include "DescriptorEmitter.h"
#include "KernelEmitter.h"
#include "codegen/CodeGen.h"
#include "codegen/ElementEmitter.h"
#include "codegen/cuda/KernelEmitter.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <variant>

using namespace llvm;

namespace bdl::codegen {

std::string kernelSymbol(unsigned ordinal, StringRef name) {
  std::string s = "bdl_k" + std::to_string(ordinal) + "_";
  for (char ch : name)
    s += isAlnum(ch) || ch == '_' ? ch : '_';
  return s;
}

Expected<std::unique_ptr<Module>> emitModule(const ir::Module &m, LLVMContext &ctx,
                                             const EmitOptions &opts) {
  auto mod = std::make_unique<Module>(m.name.empty() ? "bdl" : m.name, ctx);
  if (!m.sourceFile.empty())
    mod->setSourceFileName(m.sourceFile);

  std::vector<Function *> kernels, stepsFns;
  // The forward, target and evaluation phases repeat most of each other's
  // kernels: one function per distinct body halves the code LLVM compiles.
  StringMap<Function *> byBody;
  for (const auto *blocks : {&m.trainBlocks, &m.evalBlocks})
    for (const ir::Block &b : *blocks) {
      for (const auto *ops : {&b.prologue, &b.ops})
        for (const ir::Op &o : *ops) {
          const auto *k = std::get_if<ir::KernelOp>(&o);
          if (!k)
            continue;
          if (std::vector<ir::Problem> problems = ir::verifyKernel(m, *k); !problems.empty())
            return createStringError(inconvertibleErrorCode(),
                                     "kernel @" + k->name + ": " + problems.front().message);
          Function *&same = byBody[ir::kernelBody(m, *k)];
          if (same) {
            kernels.push_back(same);
            continue;
          }
          std::string symbol = kernelSymbol(kernels.size(), k->name);
          switch (opts.kernels) {
          case EmitOptions::Kernels::Cpu:
            kernels.push_back(cpu::emitKernel(*mod, m, *k, symbol, opts));
            break;
          case EmitOptions::Kernels::Ptx:
            kernels.push_back(cuda::emitPtxKernel(*mod, m, *k, symbol, opts));
            break;
          case EmitOptions::Kernels::HostGrid:
            kernels.push_back(cuda::emitHostGridKernel(*mod, m, *k, symbol, opts));
            break;
          }
          same = kernels.back();
        }
      if (opts.kernels == EmitOptions::Kernels::Ptx)
        continue; // step counts are host code
      Function *steps = nullptr;
      if (b.stepsExpr) {
        if (std::vector<ir::Problem> problems = ir::verifyStepsExpr(m, *b.stepsExpr);
            !problems.empty())
          return createStringError(inconvertibleErrorCode(),
                                   "block " + b.name + ": " + problems.front().message);
        steps =
            emitStepsFunction(*mod, *b.stepsExpr, "bdl_steps" + Twine(stepsFns.size()).str(), opts);
      }
      stepsFns.push_back(steps);
    }
  if (opts.kernels != EmitOptions::Kernels::Ptx) {
    if (std::vector<ir::Problem> problems = ir::verifyDerivations(m); !problems.empty())
      return createStringError(inconvertibleErrorCode(), problems.front().message);
    Function *derive = emitDeriveFunction(*mod, m, opts);
    if (Error e = cpu::emitDescriptor(*mod, m, kernels, stepsFns, derive, opts.embeddedPtx,
                                      opts.embeddedPtxArch))
      return e;
  }

  std::string msg;
  raw_string_ostream os(msg);
  if (verifyModule(*mod, &os))
    return createStringError(inconvertibleErrorCode(),
                             "bdlc internal error: invalid LLVM IR: " + os.str());
  return mod;
}

} // namespace bdl::codegen
