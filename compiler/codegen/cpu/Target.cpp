//===- Target.cpp - Target machine, pass pipeline, object emission -------===//
#include "codegen/CodeGen.h"

#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace bdl::codegen {
namespace {

void initTargets() {
  static bool done = [] {
    InitializeAllTargetInfos();
    InitializeAllTargets();
    InitializeAllTargetMCs();
    InitializeAllAsmPrinters();
    InitializeAllAsmParsers();
    return true;
  }();
  (void)done;
}

CodeGenOptLevel codeGenLevel(int level) {
  switch (level) {
  case 0:
    return CodeGenOptLevel::None;
  case 1:
    return CodeGenOptLevel::Less;
  case 2:
    return CodeGenOptLevel::Default;
  default:
    return CodeGenOptLevel::Aggressive;
  }
}

/// Gives the module the target's triple and data layout unless it has them.
void configure(Module &m, TargetMachine &tm) {
  if (m.getTargetTriple().empty())
    m.setTargetTriple(tm.getTargetTriple().str());
  if (m.getDataLayout().isDefault())
    m.setDataLayout(tm.createDataLayout());
}

} // namespace

Expected<std::unique_ptr<TargetMachine>> createTargetMachine(const TargetOptions &opts) {
  initTargets();
  std::string triple =
      opts.triple.empty() ? sys::getDefaultTargetTriple() : Triple::normalize(opts.triple);
  std::string error;
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return createStringError(inconvertibleErrorCode(), "target '" + triple + "': " + error);

  std::string cpu = opts.cpu;
  SubtargetFeatures features;
  if (cpu.empty() || cpu == "host") {
    cpu = sys::getHostCPUName().str();
    for (const auto &f : sys::getHostCPUFeatures())
      features.AddFeature(f.first(), f.second);
  }
  if (!opts.features.empty())
    features.addFeaturesVector(SubtargetFeatures(opts.features).getFeatures());
  std::unique_ptr<MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, "", ""));
  if (!sti || !sti->isCPUStringValid(cpu))
    return createStringError(inconvertibleErrorCode(),
                             "unknown CPU '" + cpu + "' for target '" + triple + "'");

  llvm::TargetOptions to;
  std::unique_ptr<TargetMachine> tm(target->createTargetMachine(triple, cpu, features.getString(),
                                                                to, Reloc::PIC_, std::nullopt,
                                                                codeGenLevel(opts.optLevel)));
  if (!tm)
    return createStringError(inconvertibleErrorCode(),
                             "cannot create a target machine for " + triple);
  return tm;
}

void optimize(Module &m, TargetMachine &tm, int optLevel, bool libmvec) {
  configure(m, tm);
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  // Before registerFunctionAnalyses, which would register a default one.
  Triple triple(m.getTargetTriple());
  TargetLibraryInfoImpl tlii(triple);
  if (libmvec)
    tlii.addVectorizableFunctionsFromVecLib(TargetLibraryInfoImpl::LIBMVEC_X86, triple);
  fam.registerPass([&] { return TargetLibraryAnalysis(tlii); });
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PipelineTuningOptions pto;
  PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);

  OptimizationLevel level = optLevel <= 0   ? OptimizationLevel::O0
                            : optLevel == 1 ? OptimizationLevel::O1
                            : optLevel == 2 ? OptimizationLevel::O2
                                            : OptimizationLevel::O3;
  ModulePassManager mpm = level == OptimizationLevel::O0 ? pb.buildO0DefaultPipeline(level)
                                                         : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
}

namespace {

Error emitTo(Module &m, TargetMachine &tm, raw_pwrite_stream &os, CodeGenFileType type) {
  configure(m, tm);
  // The assembly printer flushes into `os` when the pass manager goes.
  legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type))
    return createStringError(inconvertibleErrorCode(), "the target cannot emit this file type");
  pm.run(m);
  return Error::success();
}

Error emitFile(Module &m, TargetMachine &tm, StringRef path, CodeGenFileType type) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return createStringError(ec, "cannot open '" + path + "': " + ec.message());
  if (Error e = emitTo(m, tm, os, type))
    return e;
  os.close();
  if (os.has_error())
    return createStringError(os.error(), "error writing '" + path + "'");
  return Error::success();
}

} // namespace

Error emitObject(Module &m, TargetMachine &tm, StringRef path) {
  configure(m, tm);
  if (Triple(m.getTargetTriple()).getArch() == Triple(sys::getProcessTriple()).getArch())
    if (Error e = verifyDescriptorLayout(m.getDataLayout()))
      return e;
  return emitFile(m, tm, path, CodeGenFileType::ObjectFile);
}

Error emitAssembly(Module &m, TargetMachine &tm, StringRef path) {
  return emitFile(m, tm, path, CodeGenFileType::AssemblyFile);
}

Expected<std::string> emitAssemblyText(Module &m, TargetMachine &tm) {
  SmallString<0> text;
  raw_svector_ostream os(text);
  if (Error e = emitTo(m, tm, os, CodeGenFileType::AssemblyFile))
    return e;
  return std::string(text);
}

} // namespace bdl::codegen
