//===- Link.cpp -----------------------------------------------------------===//
#include "Link.h"
#include "BuildConfig.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <cstdlib>

namespace bdl {

bool linkExecutable(llvm::StringRef object, llvm::StringRef output, llvm::raw_ostream &errs) {
  const char *cxxEnv = std::getenv("BDL_CXX");
  std::string cxx = cxxEnv && *cxxEnv ? cxxEnv : BDL_DEFAULT_CXX;
  auto linkFile = llvm::MemoryBuffer::getFile(BDL_RUNTIME_LINK_FILE);
  if (!linkFile) {
    errs << "bdlc: error: cannot read the runtime's link line " << BDL_RUNTIME_LINK_FILE << ": "
         << linkFile.getError().message() << " (is the runtime built? run cmake --build build)\n";
    return false;
  }
  auto program = llvm::sys::findProgramByName(cxx);
  if (!program) {
    errs << "bdlc: error: cannot find the C++ linker driver '" << cxx << "' (set $BDL_CXX)\n";
    return false;
  }
  std::vector<std::string> args = {*program, object.str()};
  llvm::SmallVector<llvm::StringRef> words;
  llvm::SplitString((*linkFile)->getBuffer(), words);
  for (llvm::StringRef w : words)
    args.push_back(w.str());
  args.push_back("-o");
  args.push_back(output.str());
  std::vector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*program, argRefs, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    errs << "bdlc: error: linking failed ("
         << (message.empty() ? "exit " + std::to_string(rc) : message)
         << "): " << llvm::join(args, " ") << "\n";
    return false;
  }
  return true;
}

} // namespace bdl
