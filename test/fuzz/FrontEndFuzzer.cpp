//===- FrontEndFuzzer.cpp - libFuzzer harness of the bdlc front end -------===//
//
// Feeds arbitrary bytes through every stage bdlc runs before code generation:
// scanning, parsing, sema, lowering, each pass of the default pipeline, and
// the IR verifier after lowering and after every pass. Besides the
// sanitizers' findings, a run aborts on a broken contract:
//  - a stage that rejects its input without reporting an error;
//  - a model that sema accepted but that lowers to IR the verifier rejects
//    (that is always a compiler bug, never the user's);
//  - textual IR that does not read back into the same text (print, parse,
//    print), after lowering and after every pass.
// Inputs run on the same large stack as bdlc (support/LargeStack.h).
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "lower/Lowering.h"
#include "parse/Parser.h"
#include "sema/Sema.h"
#include "support/Diagnostics.h"
#include "support/LargeStack.h"
#include "transforms/Passes.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void brokenContract(const char *what, const std::string &detail) {
  std::fprintf(stderr, "bdl-fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string printed(const bdl::ir::Module &module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  bdl::ir::print(module, os);
  return text;
}

/// The module after `stage` verifies and its text reads back into itself.
void checkModule(const bdl::ir::Module &module, std::string_view stage) {
  std::string problems;
  llvm::raw_string_ostream problemStream(problems);
  if (!bdl::ir::verify(module, problemStream))
    brokenContract("IR verification failed on a model sema accepted",
                   "after " + std::string(stage) + ":\n" + problems);
  std::string text = printed(module);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.bdlir"),
                               llvm::SMLoc());
  std::optional<bdl::ir::Module> reread = bdl::ir::parseModule(sourceMgr, problemStream);
  if (!reread)
    brokenContract("printed IR does not parse",
                   "after " + std::string(stage) + ":\n" + problems + "\n" + text);
  if (printed(*reread) != text)
    brokenContract("printed IR does not read back into the same text",
                   "after " + std::string(stage) + ":\n" + text);
}

void compileFrontEnd(llvm::StringRef source) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(source, "fuzz.bdl"),
                               llvm::SMLoc());
  // Rendering diagnostics (source lines, carets, ranges) is part of the
  // front end too, so they are printed, into a string nobody reads.
  std::string diagnosticText;
  llvm::raw_string_ostream diagnosticStream(diagnosticText);
  bdl::DiagnosticEngine diags(sourceMgr, diagnosticStream);

  std::unique_ptr<bdl::ast::ModelFile> file = bdl::parseModel(diags);
  if (!file) {
    if (!diags.hasErrors())
      brokenContract("the parser rejected the input without an error", "");
    return;
  }
  // The standard library only: models that import std.neurons (the
  // dynamics examples) get past their imports into sema and lowering.
  static const std::vector<std::string> searchPath = {BDL_FUZZ_STDLIB_DIR};
  if (!bdl::loadImports(*file, diags, searchPath) ||
      !bdl::sema::expandDefinitions(*file, diags)) {
    if (!diags.hasErrors())
      brokenContract("imports or definitions failed without an error", "");
    return;
  }
  std::unique_ptr<bdl::sema::CheckedModel> checked = bdl::sema::check(*file, diags);
  if (!checked) {
    if (!diags.hasErrors())
      brokenContract("sema rejected the input without an error", "");
    return;
  }
  if (diags.hasErrors())
    brokenContract("sema accepted a model after reporting errors", diagnosticText);

  bdl::ir::Module module = bdl::lower(*checked);
  checkModule(module, "lowering");
  for (const bdl::Pass &pass : bdl::defaultPipeline()) {
    pass.run(module);
    checkModule(module, pass.name);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef source(reinterpret_cast<const char *>(data), size);
  bdl::runWithLargeStack([&] {
    compileFrontEnd(source);
    return 0;
  });
  return 0;
}
