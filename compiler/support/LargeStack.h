//===- LargeStack.h - Run the compiler on a thread with a deep stack -*- C++ -*-===//
//
// Hostile input is bounded by the parser's nesting limits; a large stack is
// the second line of defence for the recursive stages (sema, lowering, the
// passes). bdlc and the fuzzer both run the front end through this, so a
// fuzzer finding is a bdlc finding.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_SUPPORT_LARGESTACK_H
#define BDL_SUPPORT_LARGESTACK_H

#include "llvm/Support/thread.h"

#include <optional>

namespace bdl {

constexpr unsigned kCompilerStackBytes = 512u << 20;

/// Runs `body` on a thread with kCompilerStackBytes of stack and returns its
/// result.
template <typename Body> auto runWithLargeStack(Body &&body) {
  decltype(body()) result{};
  llvm::thread worker(std::optional<unsigned>(kCompilerStackBytes), [&] { result = body(); });
  worker.join();
  return result;
}

} // namespace bdl

#endif
