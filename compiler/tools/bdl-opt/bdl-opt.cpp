//===- bdl-opt.cpp - Runs IR passes on textual IR -------------------------===//
//
//   bdl-opt in.bdlir                      parse, verify and print again
//   bdl-opt --pass=fold,fuse in.bdlir     run passes in that order
//   bdl-opt --pass=fuse --print-after=fuse --verify-each in.bdlir -o out.bdlir
//   bdl-opt --emit-llvm [-O2 --cpu=x86-64-v3] in.bdlir   LLVM IR of the result
//   bdl-opt --check-gradients in.bdlir    its grad ops against finite differences
//
// The passes are the default pipeline's (transforms/Pipeline.cpp), so a
// pass test is IR in, IR out, with no front end in between.
//
// Exit codes: 0 success, 1 the input does not parse or verify, 2 bad command
// line, 3 a pass produced IR that does not verify (a bdl bug).
//
//===----------------------------------------------------------------------===//
#include "codegen/CodeGen.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "support/LargeStack.h"
#include "transforms/CheckGradients.h"
#include "transforms/Passes.h"

#include "CLI/CLI.hpp"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>

namespace bdl {
namespace {

constexpr int kExitOk = 0, kExitBadInput = 1, kExitUsage = 2, kExitInternal = 3;

struct Options {
  std::string input;
  std::string output = "-";
  std::vector<std::string> passes;
  std::vector<std::string> printAfter;
  bool printAfterAll = false;
  bool verifyEach = false;
  bool emitLLVM = false;
  bool checkGradients = false;
  int optLevel = 0;
  std::string cpu = "x86-64-v3";
};

std::string passNames() {
  std::string names;
  for (const Pass &p : defaultPipeline())
    names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

/// Checks the pass names on the command line; false (after saying why) if
/// one names no pass or asks to print after a pass that does not run.
bool checkPassNames(const Options &o) {
  for (const std::string &p : o.passes)
    if (!findPass(p)) {
      llvm::errs() << "bdl-opt: error: unknown pass '" << p
                   << "' in --pass (passes: " << passNames() << ")\n";
      return false;
    }
  for (const std::string &p : o.printAfter) {
    if (!findPass(p)) {
      llvm::errs() << "bdl-opt: error: unknown pass '" << p
                   << "' in --print-after (passes: " << passNames() << ")\n";
      return false;
    }
    if (std::find(o.passes.begin(), o.passes.end(), p) == o.passes.end()) {
      llvm::errs() << "bdl-opt: error: --print-after=" << p << " names a pass that --pass does "
                   << "not run\n";
      return false;
    }
  }
  return true;
}

/// Runs the verifier on what was parsed and points each problem at its text.
bool verifyParsed(const ir::Module &m, const ir::SourceLocations &locs, llvm::SourceMgr &sm) {
  std::vector<ir::Problem> problems = ir::verifyModule(m);
  for (const ir::Problem &p : problems)
    sm.PrintMessage(llvm::errs(), locs.find(m, p.entity), llvm::SourceMgr::DK_Error, p.message);
  return problems.empty();
}

int run(const Options &o) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(o.input, /*IsText=*/true);
  if (!buffer) {
    llvm::errs() << "bdl-opt: error: cannot open '" << o.input
                 << "': " << buffer.getError().message() << "\n";
    return kExitBadInput;
  }
  llvm::SourceMgr sm;
  sm.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  ir::SourceLocations locs;
  std::optional<ir::Module> m = ir::parseModule(sm, llvm::errs(), &locs);
  if (!m || !verifyParsed(*m, locs, sm))
    return kExitBadInput;
  if (o.checkGradients)
    return checkGradients(*m, {}, llvm::outs()) ? kExitOk : kExitBadInput;

  for (const std::string &name : o.passes) {
    const Pass &pass = *findPass(name);
    pass.run(*m);
    if (o.printAfterAll ||
        std::find(o.printAfter.begin(), o.printAfter.end(), name) != o.printAfter.end()) {
      llvm::outs() << "; IR after " << pass.name << "\n";
      ir::print(*m, llvm::outs());
    }
    if (o.verifyEach && !ir::verify(*m, llvm::errs())) {
      llvm::errs() << "bdl-opt: internal error: IR verification failed after '" << pass.name
                   << "'\n";
      return kExitInternal;
    }
  }
  if (!ir::verify(*m, llvm::errs())) {
    llvm::errs() << "bdl-opt: internal error: IR verification failed after the passes\n";
    return kExitInternal;
  }

  std::error_code ec;
  llvm::ToolOutputFile out(o.output, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    llvm::errs() << "bdl-opt: error: cannot write '" << o.output << "': " << ec.message() << "\n";
    return kExitBadInput;
  }
  if (o.emitLLVM) {
    // The code generator's view, for codegen tests on IR inputs.
    llvm::LLVMContext ctx;
    auto mod = codegen::emitModule(*m, ctx);
    if (!mod) {
      llvm::errs() << "bdl-opt: error: " << llvm::toString(mod.takeError()) << "\n";
      return kExitInternal;
    }
    if (o.optLevel > 0) {
      codegen::TargetOptions target;
      target.cpu = o.cpu;
      auto tm = codegen::createTargetMachine(target);
      if (!tm) {
        llvm::errs() << "bdl-opt: error: " << llvm::toString(tm.takeError()) << "\n";
        return kExitUsage;
      }
      codegen::optimize(**mod, **tm, o.optLevel);
    }
    (*mod)->print(out.os(), nullptr);
  } else {
    ir::print(*m, out.os());
  }
  out.keep();
  return kExitOk;
}

} // namespace
} // namespace bdl

int main(int argc, char **argv) {
  bdl::Options o;
  CLI::App app{"bdl-opt - runs bdl IR passes on textual IR (bdlc --emit=ir)"};
  app.add_option("input", o.input, "the IR file ('-' reads standard input)")->required();
  app.add_option("-o,--output", o.output, "output file (default: standard output)");
  app.add_option("--pass", o.passes,
                 "passes to run, in order, comma separated: " + bdl::passNames())
      ->delimiter(',');
  app.add_option("--print-after", o.printAfter,
                 "print the IR to standard output after these passes")
      ->delimiter(',');
  app.add_flag("--print-after-all", o.printAfterAll, "print the IR after every pass");
  app.add_flag("--verify-each", o.verifyEach, "run the IR verifier after every pass");
  app.add_flag("--emit-llvm", o.emitLLVM, "print the LLVM IR of the result instead");
  app.add_flag("--check-gradients", o.checkGradients,
               "differentiate, compare every grad op with finite differences in double "
               "precision and exit (bdlc --check-gradients)");
  app.add_option("-O", o.optLevel, "with --emit-llvm: optimise at this level (default 0: none)")
      ->check(CLI::Range(0, 3));
  app.add_option("--cpu", o.cpu, "with --emit-llvm -O1..3: the target CPU (default x86-64-v3)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : bdl::kExitUsage;
  }
  if (!bdl::checkPassNames(o))
    return bdl::kExitUsage;
  return bdl::runWithLargeStack([&] { return bdl::run(o); });
}
