//===- Target.cpp - The NVPTX target and libdevice -----------------------===//
#include "codegen/CodeGen.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/IntrinsicInst.h"
#include "llvm/IR/Module.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/IPO/Internalize.h"

#include <cstdlib>
#include <set>

using namespace llvm;

namespace bdl::codegen {

Expected<std::unique_ptr<TargetMachine>> createPtxTargetMachine(const std::string &gpu,
                                                                int optLevel) {
  TargetOptions opts;
  opts.triple = "nvptx64-nvidia-cuda";
  opts.cpu = gpu;
  opts.optLevel = optLevel;
  return createTargetMachine(opts);
}

std::string findLibdevice() {
  std::vector<std::string> roots;
  if (const char *home = std::getenv("CUDA_HOME"); home && *home)
    roots.push_back(home);
  roots.push_back("/usr/local/cuda");
  for (const std::string &root : roots) {
    SmallString<256> path(root);
    sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
    if (sys::fs::exists(path))
      return std::string(path);
  }
  return "";
}

Error prepareForPtx(Module &m, TargetMachine &tm, const std::string &libdevice) {
  m.setTargetTriple(tm.getTargetTriple().str());
  m.setDataLayout(tm.createDataLayout());
  LLVMContext &ctx = m.getContext();
  Type *f32 = Type::getFloatTy(ctx);

  // llvm.log / llvm.pow / llvm.acos / llvm.cos on f32 -> libdevice (NVPTX
  // cannot lower them without approximations).
  std::vector<IntrinsicInst *> calls;
  for (Function &f : m)
    for (BasicBlock &bb : f)
      for (Instruction &inst : bb)
        if (auto *call = dyn_cast<IntrinsicInst>(&inst))
          if (call->getType() == f32 && (call->getIntrinsicID() == Intrinsic::log ||
                                         call->getIntrinsicID() == Intrinsic::pow ||
                                         call->getIntrinsicID() == Intrinsic::acos ||
                                         call->getIntrinsicID() == Intrinsic::cos))
            calls.push_back(call);
  for (IntrinsicInst *call : calls) {
    Intrinsic::ID id = call->getIntrinsicID();
    std::vector<Type *> params(id == Intrinsic::pow ? 2 : 1, f32);
    const char *name = id == Intrinsic::log   ? "__nv_logf"
                       : id == Intrinsic::pow ? "__nv_powf"
                       : id == Intrinsic::cos ? "__nv_cosf"
                                              : "__nv_acosf";
    FunctionCallee callee = m.getOrInsertFunction(name, FunctionType::get(f32, params, false));
    std::vector<Value *> args(call->arg_begin(), call->arg_end());
    CallInst *replacement = CallInst::Create(callee, args, "", call->getIterator());
    replacement->takeName(call);
    call->replaceAllUsesWith(replacement);
    call->eraseFromParent();
  }

  if (!calls.empty()) {
    if (libdevice.empty())
      return createStringError(
          inconvertibleErrorCode(),
          "the model calls log, pow or acos, which PTX takes from libdevice, and "
          "no libdevice.10.bc was found (set CUDA_HOME to the CUDA toolkit)");
    SMDiagnostic error;
    std::unique_ptr<Module> lib = parseIRFile(libdevice, error, ctx);
    if (!lib)
      return createStringError(inconvertibleErrorCode(),
                               "cannot read '" + libdevice + "': " + error.getMessage().str());
    lib->setTargetTriple(m.getTargetTriple());
    lib->setDataLayout(m.getDataLayout());
    if (Linker::linkModules(m, std::move(lib), Linker::LinkOnlyNeeded))
      return createStringError(inconvertibleErrorCode(), "cannot link '" + libdevice + "'");
  }

  // Only the kernels are entry points.
  std::set<std::string> kernels;
  for (Function &f : m)
    if (f.getCallingConv() == CallingConv::PTX_Kernel)
      kernels.insert(f.getName().str());
  internalizeModule(m,
                    [&](const GlobalValue &gv) { return kernels.count(gv.getName().str()) != 0; });
  m.addModuleFlag(Module::Override, "nvvm-reflect-ftz", uint32_t(0));
  return Error::success();
}

} // namespace bdl::codegen
