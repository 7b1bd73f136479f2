//===- Imports.cpp - `import std.neurons` ---------------------------------===//
//
// An import names a library file on the search path (`std.neurons` is
// std/neurons.bdl). Libraries hold definitions only; their `def`s join the
// importing model's, and diagnostics inside them point into the library's
// own buffer of the SourceMgr.
//
//===----------------------------------------------------------------------===//
#include "parse/Parser.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <optional>
#include <set>

namespace bdl {
namespace {

class ImportLoader {
public:
  ImportLoader(DiagnosticEngine &diags, const std::vector<std::string> &searchPath)
      : diags(diags), searchPath(searchPath) {}

  bool load(ast::ModelFile &into, const ast::ModelFile &from, const std::string &self) {
    for (const ast::ImportDecl &imp : from.imports) {
      if (imp.name == self || llvm::is_contained(active, imp.name)) {
        std::string chain;
        for (const std::string &a : active)
          chain += a + " -> ";
        diags.report(imp.range, DiagID::err_import_cycle, imp.name,
                     chain + (active.empty() ? self + " -> " : "") + imp.name);
        return false;
      }
      if (!done.insert(imp.name).second)
        continue;
      std::string path = find(imp.name);
      if (path.empty()) {
        diags.report(imp.range, DiagID::err_import_not_found, imp.name,
                     llvm::join(searchPath, ", "));
        return false;
      }
      auto buffer = llvm::MemoryBuffer::getFile(path);
      if (!buffer) {
        diags.report(imp.range, DiagID::err_import_not_found, imp.name, path);
        return false;
      }
      llvm::SourceMgr &sm = diags.getSourceMgr();
      unsigned id = sm.AddNewSourceBuffer(std::move(*buffer), imp.range.Start);
      std::unique_ptr<ast::ModelFile> library = parseBuffer(diags, id);
      if (!library)
        return false;
      if (!library->isLibrary || library->name.name != imp.name) {
        diags.report(library->name.range, DiagID::err_import_not_library, imp.name);
        return false;
      }
      if (std::optional<llvm::SMRange> stray = firstNonDefinition(*library)) {
        diags.report(library->name.range, DiagID::err_import_not_library, imp.name);
        diags.report(*stray, DiagID::note_not_in_library);
        return false;
      }
      active.push_back(imp.name);
      bool ok = load(into, *library, imp.name);
      active.pop_back();
      if (!ok)
        return false;
      for (ast::DefDecl &d : library->defs)
        into.defs.push_back(std::move(d));
      for (ast::ConstDecl &c : library->consts)
        into.consts.push_back(std::move(c));
      libraries.push_back(std::move(library));
    }
    return true;
  }

  /// Libraries stay alive with the model: the definitions moved out of them
  /// are self-contained, but their paths name buffers diagnostics print.
  std::vector<std::unique_ptr<ast::ModelFile>> libraries;

private:
  /// Where a library declares something other than a def or a const.
  static std::optional<llvm::SMRange> firstNonDefinition(const ast::ModelFile &f) {
    std::vector<llvm::SMRange> found;
    for (const ast::ParamDecl &d : f.params)
      found.push_back(d.name.range);
    for (const ast::TensorDecl &d : f.tensors)
      found.push_back(d.name.range);
    for (const ast::LayerDecl &d : f.layers)
      found.push_back(d.name.range);
    for (const ast::PopulationDecl &d : f.populations)
      found.push_back(d.name.range);
    for (const ast::PhaseDecl &d : f.phases)
      found.push_back(d.name.range);
    for (const ast::PhaseStmt &d : f.strayAssignments)
      found.push_back(d.range);
    for (const ast::LearnDecl &d : f.learns)
      found.push_back(d.keywordRange);
    for (const ast::TrainDecl &d : f.trains)
      found.push_back(d.keywordRange);
    for (const ast::EvaluateDecl &d : f.evaluates)
      found.push_back(d.keywordRange);
    if (found.empty())
      return std::nullopt;
    return *std::min_element(found.begin(), found.end(), [](llvm::SMRange a, llvm::SMRange b) {
      return a.Start.getPointer() < b.Start.getPointer();
    });
  }

  std::string find(const std::string &name) const {
    llvm::SmallVector<llvm::StringRef, 4> parts;
    llvm::StringRef(name).split(parts, '.');
    for (const std::string &dir : searchPath) {
      llvm::SmallString<256> path(dir);
      for (llvm::StringRef part : parts)
        llvm::sys::path::append(path, part);
      path += ".bdl";
      if (llvm::sys::fs::is_regular_file(path))
        return std::string(path);
    }
    return "";
  }

  DiagnosticEngine &diags;
  const std::vector<std::string> &searchPath;
  std::vector<std::string> active; // the libraries being loaded, outermost first
  std::set<std::string> done;
};

} // namespace

bool loadImports(ast::ModelFile &file, DiagnosticEngine &diags,
                 const std::vector<std::string> &searchPath) {
  ImportLoader loader(diags, searchPath);
  std::string self = file.isLibrary ? file.name.name : "";
  return loader.load(file, file, self);
}

} // namespace bdl
