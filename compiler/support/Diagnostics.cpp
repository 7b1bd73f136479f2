//===- Diagnostics.cpp ----------------------------------------------------===//
#include "support/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Unicode.h"
#include "llvm/Support/WithColor.h"

#include <algorithm>

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
  if (range.Start.isValid() && printWithNonASCIILine(range, info.kind, text))
    return;
  sourceMgr.PrintMessage(os, range.Start, info.kind, text, ranges);
}

std::string DiagnosticEngine::where(llvm::SMLoc loc) const {
  unsigned id = sourceMgr.FindBufferContainingLoc(loc);
  if (!id)
    return "?";
  auto [line, column] = sourceMgr.getLineAndColumn(loc, id);
  return sourceMgr.getMemoryBuffer(id)->getBufferIdentifier().str() + ":" + std::to_string(line) +
         ":" + std::to_string(column);
}

bool DiagnosticEngine::printWithNonASCIILine(llvm::SMRange range, llvm::SourceMgr::DiagKind kind,
                                             const std::string &text) {
  // llvm::SourceMgr prints a line with any byte >= 0x80 without its caret
  // (its columns are bytes); this prints the caret by display column.
  unsigned id = sourceMgr.FindBufferContainingLoc(range.Start);
  if (!id)
    return false;
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(id);
  llvm::StringRef all = buffer->getBuffer();
  size_t at = range.Start.getPointer() - all.data();
  size_t begin = all.substr(0, at).rfind('\n');
  begin = begin == llvm::StringRef::npos ? 0 : begin + 1;
  size_t end = all.find_first_of("\r\n", at);
  if (end == llvm::StringRef::npos)
    end = all.size();
  llvm::StringRef line = all.slice(begin, end);
  if (llvm::none_of(line, [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    return false;

  // A byte-order mark is not shown and takes no column.
  size_t first = begin == 0 && line.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  auto [lineNo, column] = sourceMgr.getLineAndColumn(range.Start, id);
  std::string where = buffer->getBufferIdentifier().str() + ":" + std::to_string(lineNo) + ":" +
                      std::to_string(at >= first ? column - first : column);
  llvm::SMDiagnostic(sourceMgr, range.Start, where, -1, -1, kind, text, "", {}).print(nullptr, os);

  // The source line with tabs expanded, and the display column of each byte.
  constexpr unsigned kTabStop = 8;
  std::string shown;
  std::vector<unsigned> columnOf(line.size() + 1, 0);
  unsigned col = 0;
  for (size_t i = first; i < line.size();) {
    unsigned char c = line[i];
    unsigned len = std::min<size_t>(std::max(1u, llvm::getNumBytesForUTF8(c)), line.size() - i);
    for (unsigned k = 0; k < len; ++k)
      columnOf[i + k] = col;
    if (c == '\t') {
      do
        shown += ' ';
      while (++col % kTabStop);
    } else {
      int width = llvm::sys::unicode::columnWidthUTF8(line.substr(i, len));
      shown += line.substr(i, len);
      col += width > 0 ? width : 1;
    }
    i += len;
  }
  columnOf[line.size()] = col;
  auto columnAt = [&](const char *p) {
    size_t offset = std::clamp<size_t>(p - line.data(), 0, line.size());
    return columnOf[offset];
  };
  unsigned caret = columnAt(range.Start.getPointer());
  unsigned last = caret + 1;
  if (range.End.isValid() && range.End.getPointer() > range.Start.getPointer())
    last = std::max(last, columnAt(std::min(range.End.getPointer(), line.end())));
  std::string marks(last, ' ');
  std::fill(marks.begin() + caret, marks.end(), '~');
  marks[caret] = '^';
  os << shown << "\n";
  llvm::WithColor(os, llvm::raw_ostream::GREEN, true) << marks << "\n";
  return true;
}

} // namespace bdl
