//===- Diagnostics.h - clang-style diagnostics ----------------*- C++ -*-===//
//
// Every message is a DiagID from DiagnosticKinds.def, printed through
// llvm::SourceMgr as `file:line:col: error: message [flag]`, the source line
// and a caret (with ~~~ under the range).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_SUPPORT_DIAGNOSTICS_H
#define BDL_SUPPORT_DIAGNOSTICS_H

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace bdl {

enum class DiagID : unsigned {
#define DIAG(ID, SEVERITY, FLAG, FORMAT) ID,
#include "support/DiagnosticKinds.def"
};

class DiagnosticEngine {
public:
  DiagnosticEngine(llvm::SourceMgr &sm, llvm::raw_ostream &os) : sourceMgr(sm), os(os) {}

  template <typename... Args> void report(llvm::SMRange range, DiagID id, Args &&...args) {
    emit(range, id, llvm::formatv(format(id), std::forward<Args>(args)...).str());
  }

  unsigned errorCount() const { return errors; }
  bool hasErrors() const { return errors != 0; }
  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }
  /// `file:line:col` of `loc`, as diagnostics name it.
  std::string where(llvm::SMLoc loc) const;

  static const char *format(DiagID id);
  static const char *flag(DiagID id);

private:
  void emit(llvm::SMRange range, DiagID id, const std::string &message);
  /// Prints the diagnostic if its source line has non-ASCII characters;
  /// returns false (printing nothing) otherwise.
  bool printWithNonASCIILine(llvm::SMRange range, llvm::SourceMgr::DiagKind kind,
                             const std::string &text);

  llvm::SourceMgr &sourceMgr;
  llvm::raw_ostream &os;
  unsigned errors = 0;
  bool suppressed = false; // past the error limit: notes of dropped errors too
};

} // namespace bdl

#endif
