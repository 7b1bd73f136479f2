//===- CodeGenTestUtil.cpp - Build, optimise and JIT bdl modules in tests -===//
#include "CodeGenTestUtil.h"

#include "llvm/ExecutionEngine/Orc/Core.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/SubtargetFeature.h"

#include <gtest/gtest.h>

namespace bdl::codegen::test {

struct Jitted::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
};

Jitted::~Jitted() = default;

void *Jitted::lookup(const std::string &symbol) {
  auto addr = impl->jit->lookup(symbol);
  if (!addr) {
    ADD_FAILURE() << "lookup " << symbol << ": " << llvm::toString(addr.takeError());
    return nullptr;
  }
  return addr->toPtr<void *>();
}

void addKernel(ir::Module &m, ir::KernelOp k) {
  ir::Block b;
  b.name = "step";
  b.ops.emplace_back(std::move(k));
  m.trainBlocks.push_back(std::move(b));
}

std::unique_ptr<Jitted> jit(const ir::Module &m, const JitOptions &opts) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto mod = emitModule(m, *ctx, opts.emit);
  if (!mod) {
    ADD_FAILURE() << "emitModule: " << llvm::toString(mod.takeError());
    return nullptr;
  }
  TargetOptions target;
  target.cpu = opts.cpu;
  target.features = opts.features;
  auto tm = createTargetMachine(target);
  if (!tm) {
    ADD_FAILURE() << "createTargetMachine: " << llvm::toString(tm.takeError());
    return nullptr;
  }
  optimize(**mod, **tm, opts.optLevel, opts.libmvec);

  auto result = std::make_unique<Jitted>();
  llvm::raw_string_ostream os(result->optimizedIR);
  (*mod)->print(os, nullptr);

  if (opts.libmvec) {
    std::string err;
    if (llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1", &err)) {
      ADD_FAILURE() << "libmvec: " << err;
      return nullptr;
    }
  }
  llvm::orc::LLJITBuilder builder;
  if (opts.cpu != "host") {
    // Compile for the chosen CPU too, not the host's.
    llvm::orc::JITTargetMachineBuilder jtmb((*tm)->getTargetTriple());
    jtmb.setCPU((*tm)->getTargetCPU().str());
    jtmb.addFeatures(llvm::SubtargetFeatures((*tm)->getTargetFeatureString()).getFeatures());
    builder.setJITTargetMachineBuilder(std::move(jtmb));
  }
  auto j = builder.create();
  if (!j) {
    ADD_FAILURE() << "LLJIT: " << llvm::toString(j.takeError());
    return nullptr;
  }
  if (!opts.symbols.empty()) {
    llvm::orc::SymbolMap symbols;
    for (const auto &[name, address] : opts.symbols)
      symbols[(*j)->mangleAndIntern(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                              llvm::JITSymbolFlags::Exported |
                                                  llvm::JITSymbolFlags::Callable};
    if (auto err = (*j)->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(symbols)))) {
      ADD_FAILURE() << "symbols: " << llvm::toString(std::move(err));
      return nullptr;
    }
  }
  if (auto err = (*j)->addIRModule(llvm::orc::ThreadSafeModule(std::move(*mod), std::move(ctx)))) {
    ADD_FAILURE() << "addIRModule: " << llvm::toString(std::move(err));
    return nullptr;
  }
  result->impl = std::make_unique<Jitted::Impl>();
  result->impl->jit = std::move(*j);
  return result;
}

std::string optimizedIR(const ir::Module &m, const TargetOptions &target, int optLevel,
                        const EmitOptions &emit) {
  llvm::LLVMContext ctx;
  auto mod = emitModule(m, ctx, emit);
  if (!mod) {
    ADD_FAILURE() << "emitModule: " << llvm::toString(mod.takeError());
    return "";
  }
  auto tm = createTargetMachine(target);
  if (!tm) {
    ADD_FAILURE() << "createTargetMachine: " << llvm::toString(tm.takeError());
    return "";
  }
  optimize(**mod, **tm, optLevel);
  std::string s;
  llvm::raw_string_ostream os(s);
  (*mod)->print(os, nullptr);
  return s;
}

} // namespace bdl::codegen::test
