//===- Diagnostics.cpp ----------------------------------------------------===//
#include "support/Diagnostics.h"

namespace bdl {
namespace {

// Past this many errors the rest are mostly consequences of the first ones.
constexpr unsigned kErrorLimit = 20;

struct DiagInfo {
  llvm::SourceMgr::DiagKind kind;
  const char *flag;
  const char *format;
};

constexpr llvm::SourceMgr::DiagKind Error = llvm::SourceMgr::DK_Error;
constexpr llvm::SourceMgr::DiagKind Warning = llvm::SourceMgr::DK_Warning;
constexpr llvm::SourceMgr::DiagKind Note = llvm::SourceMgr::DK_Note;

constexpr DiagInfo kDiagInfos[] = {
#define DIAG(ID, SEVERITY, FLAG, FORMAT) {SEVERITY, FLAG, FORMAT},
#include "support/DiagnosticKinds.def"
};

} // namespace

const char *DiagnosticEngine::format(DiagID id) {
  return kDiagInfos[static_cast<unsigned>(id)].format;
}
const char *DiagnosticEngine::flag(DiagID id) { return kDiagInfos[static_cast<unsigned>(id)].flag; }

void DiagnosticEngine::emit(llvm::SMRange range, DiagID id, const std::string &message) {
  const DiagInfo &info = kDiagInfos[static_cast<unsigned>(id)];
  if (info.kind == Error) {
    ++errors;
    suppressed = errors > kErrorLimit;
    if (errors == kErrorLimit + 1)
      os << "bdlc: too many errors, stopping\n";
  }
  if (suppressed)
    return;
  std::string text = message;
  if (*info.flag)
    text += std::string(" [") + info.flag + "]";
  llvm::ArrayRef<llvm::SMRange> ranges;
  if (range.isValid() && range.Start != range.End)
    ranges = range;
  sourceMgr.PrintMessage(os, range.Start, info.kind, text, ranges);
}

} // namespace bdl
