//===- bdlc.cpp - The bdl compiler driver ---------------------------------===//
//
//   bdlc model.bdl -o net              compile and link an experiment binary
//   bdlc model.bdl --emit=ast|ir|llvm  print a stage
//   bdlc model.bdl --emit=obj -o m.o   an object to link yourself
//   bdlc model.bdl --target=cuda -o net         CPU kernels plus their PTX:
//                                               ./net train --device cuda
//   bdlc model.bdl --target=cuda --emit=ptx     the kernels as PTX
//   bdlc model.bdl --target=cuda-host -o net    the GPU's kernel bodies run by
//                                               a host loop over the launch grid
//
// Exit codes: 0 success, 1 errors in the model, 2 bad command line,
// 3 internal compiler error (an IR verifier failure: a bdlc bug).
//
//===----------------------------------------------------------------------===//
#include "BuildConfig.h"
#include "Link.h"

#include "ast/ASTDumper.h"
#include "codegen/CodeGen.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "lower/Lowering.h"
#include "parse/Parser.h"
#include "sema/Sema.h"
#include "support/LargeStack.h"
#include "transforms/CheckGradients.h"
#include "transforms/Passes.h"

#include "CLI/CLI.hpp"
#include "llvm/Config/llvm-config.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include <optional>

namespace bdl {
namespace {

struct Options {
  std::string input;
  std::string output;
  std::string emit = "exe";
  int optLevel = 2;
  std::string cpu = "host";
  std::string target = "cpu";
  std::string gpu = "sm_80";
  std::vector<std::string> printAfter;
  bool printAfterAll = false;
  bool noFuse = false;
  bool noFoldMomentum = false;
  bool noGuard = false;
  bool verifyEach = false;
  bool printSolvers = false;
  bool checkGradients = false;
  std::vector<std::string> importDirs;
};

constexpr int kExitOk = 0, kExitModelError = 1, kExitUsage = 2, kExitInternal = 3;

/// Opens -o (or stdout) for a textual stage.
std::unique_ptr<llvm::ToolOutputFile> openTextOutput(const Options &o) {
  std::error_code ec;
  auto out = std::make_unique<llvm::ToolOutputFile>(o.output.empty() ? "-" : o.output, ec,
                                                    llvm::sys::fs::OF_Text);
  if (ec) {
    llvm::errs() << "bdlc: error: cannot write '" << o.output << "': " << ec.message() << "\n";
    return nullptr;
  }
  return out;
}

bool runPipeline(ir::Module &m, const Options &o) {
  auto printRequested = [&](std::string_view name) {
    if (o.printAfterAll)
      return true;
    for (const std::string &p : o.printAfter)
      if (p == name)
        return true;
    return false;
  };
  if (printRequested("lower")) {
    llvm::outs() << "; IR after lower\n";
    ir::print(m, llvm::outs());
  }
  for (const Pass &pass : defaultPipeline()) {
    if ((o.noFuse && pass.name == "fuse") || (o.noFoldMomentum && pass.name == "fold-momentum") ||
        (o.noGuard && pass.name == "guard"))
      continue;
    pass.run(m);
    if (printRequested(pass.name)) {
      llvm::outs() << "; IR after " << pass.name << "\n";
      ir::print(m, llvm::outs());
    }
    if (o.verifyEach && !ir::verify(m, llvm::errs())) {
      llvm::errs() << "bdlc: internal error: IR verification failed after '" << pass.name << "'\n";
      return false;
    }
  }
  if (!ir::verify(m, llvm::errs(), /*lowered=*/true)) {
    llvm::errs() << "bdlc: internal error: IR verification failed\n";
    return false;
  }
  return true;
}

/// The kernels as PTX for o.gpu; with --emit=llvm, prints the optimised
/// device module instead and returns an empty string. Errors are printed;
/// `rc` says which exit code they mean.
std::optional<std::string> buildPtx(const ir::Module &module, const Options &o, int &rc) {
  llvm::LLVMContext context;
  codegen::EmitOptions emitOptions;
  emitOptions.kernels = codegen::EmitOptions::Kernels::Ptx;
  auto llvmModule = codegen::emitModule(module, context, emitOptions);
  if (!llvmModule) {
    llvm::errs() << "bdlc: internal error: " << llvm::toString(llvmModule.takeError()) << "\n";
    rc = kExitInternal;
    return std::nullopt;
  }
  auto tm = codegen::createPtxTargetMachine(o.gpu, o.optLevel);
  if (!tm) {
    llvm::errs() << "bdlc: error: " << llvm::toString(tm.takeError()) << "\n";
    rc = kExitUsage;
    return std::nullopt;
  }
  rc = kExitModelError;
  if (auto err = codegen::prepareForPtx(**llvmModule, **tm, codegen::findLibdevice())) {
    llvm::errs() << "bdlc: error: " << llvm::toString(std::move(err)) << "\n";
    return std::nullopt;
  }
  codegen::optimize(**llvmModule, **tm, o.optLevel);
  if (o.emit == "llvm") {
    auto out = openTextOutput(o);
    if (!out)
      return std::nullopt;
    (*llvmModule)->print(out->os(), nullptr);
    out->keep();
    return std::string();
  }
  auto text = codegen::emitAssemblyText(**llvmModule, **tm);
  if (!text) {
    llvm::errs() << "bdlc: error: " << llvm::toString(text.takeError()) << "\n";
    return std::nullopt;
  }
  return std::move(*text);
}

int compile(const Options &o) {
  llvm::SourceMgr sourceMgr;
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(o.input, /*IsText=*/true);
  if (!buffer) {
    llvm::errs() << "bdlc: error: cannot open '" << o.input << "': " << buffer.getError().message()
                 << "\n";
    return kExitModelError;
  }
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  DiagnosticEngine diags(sourceMgr, llvm::errs());

  std::unique_ptr<ast::ModelFile> file = parseModel(diags);
  if (!file)
    return kExitModelError;
  std::vector<std::string> searchPath = o.importDirs;
  searchPath.push_back(BDL_STDLIB_DIR);
  if (!loadImports(*file, diags, searchPath) || !sema::expandDefinitions(*file, diags))
    return kExitModelError;
  if (o.emit == "ast") {
    auto out = openTextOutput(o);
    if (!out)
      return kExitModelError;
    ast::dump(*file, sourceMgr, out->os());
    out->keep();
    return kExitOk;
  }
  std::unique_ptr<sema::CheckedModel> checked = sema::check(*file, diags);
  if (!checked)
    return kExitModelError;
  if (o.printSolvers) {
    sema::printSolvers(*checked, llvm::outs());
    return kExitOk;
  }
  if (o.emit == "sema") {
    auto out = openTextOutput(o);
    if (!out)
      return kExitModelError;
    sema::print(*checked, out->os());
    out->keep();
    return kExitOk;
  }

  ir::Module module = lower(*checked);
  if (!ir::verify(module, llvm::errs())) {
    llvm::errs() << "bdlc: internal error: IR verification failed after lowering\n";
    return kExitInternal;
  }
  if (o.checkGradients)
    return checkGradients(module, {}, llvm::outs()) ? kExitOk : kExitModelError;
  if (!runPipeline(module, o))
    return kExitInternal;
  if (o.emit == "ir") {
    auto out = openTextOutput(o);
    if (!out)
      return kExitModelError;
    ir::print(module, out->os());
    out->keep();
    return kExitOk;
  }

  llvm::LLVMContext context;
  codegen::EmitOptions emitOptions;
  if (o.target == "cuda") {
    // The device half first; the host half embeds it.
    int rc = kExitOk;
    std::optional<std::string> ptx = buildPtx(module, o, rc);
    if (!ptx)
      return rc;
    if (o.emit == "llvm")
      return kExitOk;
    if (o.emit == "ptx") {
      auto out = openTextOutput(o);
      if (!out)
        return kExitModelError;
      out->os() << *ptx;
      out->keep();
      return kExitOk;
    }
    emitOptions.embeddedPtx = std::move(*ptx);
    emitOptions.embeddedPtxArch = o.gpu;
  }
  if (o.target == "cuda-host")
    emitOptions.kernels = codegen::EmitOptions::Kernels::HostGrid;
  auto llvmModule = codegen::emitModule(module, context, emitOptions);
  if (!llvmModule) {
    llvm::errs() << "bdlc: internal error: " << llvm::toString(llvmModule.takeError()) << "\n";
    return kExitInternal;
  }
  codegen::TargetOptions targetOptions;
  targetOptions.cpu = o.cpu;
  targetOptions.optLevel = o.optLevel;
  auto tm = codegen::createTargetMachine(targetOptions);
  if (!tm) {
    llvm::errs() << "bdlc: error: " << llvm::toString(tm.takeError()) << "\n";
    return kExitUsage;
  }
  codegen::optimize(**llvmModule, **tm, o.optLevel);
  if (o.emit == "llvm") {
    auto out = openTextOutput(o);
    if (!out)
      return kExitModelError;
    (*llvmModule)->print(out->os(), nullptr);
    out->keep();
    return kExitOk;
  }

  std::string stem = llvm::sys::path::stem(o.input).str();
  if (o.emit == "obj") {
    std::string path = o.output.empty() ? stem + ".o" : o.output;
    if (auto err = codegen::emitObject(**llvmModule, **tm, path)) {
      llvm::errs() << "bdlc: error: " << llvm::toString(std::move(err)) << "\n";
      return kExitModelError;
    }
    return kExitOk;
  }
  llvm::SmallString<128> object;
  if (auto ec = llvm::sys::fs::createTemporaryFile("bdl-" + stem, "o", object)) {
    llvm::errs() << "bdlc: error: cannot create a temporary object file: " << ec.message() << "\n";
    return kExitModelError;
  }
  llvm::FileRemover removeObject(object);
  if (auto err = codegen::emitObject(**llvmModule, **tm, object)) {
    llvm::errs() << "bdlc: error: " << llvm::toString(std::move(err)) << "\n";
    return kExitModelError;
  }
  std::string output = o.output.empty() ? stem : o.output;
  return linkExecutable(object, output, llvm::errs()) ? kExitOk : kExitModelError;
}

} // namespace
} // namespace bdl

int main(int argc, char **argv) {
  bdl::Options o;
  CLI::App app{"bdlc " BDL_VERSION " - compiles .bdl models into experiment binaries"};
  app.set_version_flag("--version", "bdlc " BDL_VERSION " (LLVM " LLVM_VERSION_STRING ")");
  app.add_option("input", o.input, "the .bdl model ('-' reads standard input)")->required();
  app.add_option("-o,--output", o.output, "output file (default: the model's file stem)");
  app.add_option("--emit", o.emit, "stage to produce")
      ->check(CLI::IsMember({"ast", "sema", "ir", "llvm", "obj", "exe", "ptx"}));
  app.add_option("--target", o.target,
                 "cpu (default); cuda: the CPU's kernels plus their PTX, so that the binary also "
                 "trains with --device cuda (--emit=ptx prints the PTX); cuda-host: an executable "
                 "whose kernels are the GPU's, run by a host loop over the launch grid")
      ->check(CLI::IsMember({"cpu", "cuda", "cuda-host"}));
  app.add_option("--gpu", o.gpu,
                 "GPU architecture for --target=cuda: sm_80 (default) or sm_90; newer GPUs run "
                 "sm_90 PTX through the driver's JIT")
      ->check(CLI::IsMember({"sm_80", "sm_90"}));
  app.add_option("-O", o.optLevel, "optimisation level 0-3 (default 2)")->check(CLI::Range(0, 3));
  app.add_option("--cpu", o.cpu,
                 "target CPU: 'host' (default) or an LLVM CPU name, e.g. x86-64-v3");
  std::string passNames = "lower";
  for (const bdl::Pass &pass : bdl::defaultPipeline())
    passNames += ", " + std::string(pass.name);
  app.add_option("--print-after", o.printAfter, "print the IR after a pass: " + passNames)
      ->delimiter(',');
  app.add_flag("--print-after-all", o.printAfterAll, "print the IR after every pass");
  app.add_flag("--no-fuse", o.noFuse, "skip elementwise fusion");
  app.add_flag("--no-fold-momentum", o.noFoldMomentum,
               "keep gradients in their own buffers (no momentum folded into GEMMs)");
  app.add_flag("--no-guard", o.noGuard,
               "run every product, also those read only under ifs on params that do not hold");
  app.add_flag("--verify-each", o.verifyEach, "run the IR verifier after every pass");
  app.add_flag("--check-gradients", o.checkGradients,
               "compare every grad() with central finite differences in double precision "
               "(random weights and data), print the largest relative errors and exit");
  app.add_option("-I", o.importDirs,
                 "look for imported libraries in DIR first (then " BDL_STDLIB_DIR ")");
  app.add_flag("--print-solvers", o.printSolvers,
               "list every ODE's state and integration method, then stop");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : bdl::kExitUsage;
  }
  if (o.emit == "ptx" && o.target != "cuda") {
    llvm::errs() << "bdlc: error: --emit=ptx needs --target=cuda\n";
    return bdl::kExitUsage;
  }
  for (const std::string &p : o.printAfter) {
    if (p != "lower" && !bdl::findPass(p)) {
      llvm::errs() << "bdlc: error: unknown pass '" << p << "' in --print-after\n";
      return bdl::kExitUsage;
    }
  }

  return bdl::runWithLargeStack([&] { return bdl::compile(o); });
}
