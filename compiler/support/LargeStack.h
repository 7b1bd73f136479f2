//===- LargeStack.h - Running a tool on a large stack ----------*- C++ -*-===//
#ifndef BDL_SUPPORT_LARGESTACK_H
#define BDL_SUPPORT_LARGESTACK_H

#include <functional>

namespace bdl {

/// Runs `body` on a thread with a 512 MiB stack and returns its result (on
/// the calling thread if no such thread can be made). Hostile input is
/// bounded by the parsers' nesting limits; the large stack is the second line
/// of defence for the passes that recurse over expression trees. bdlc,
/// bdl-opt and the fuzzer all run through this, so a fuzzer finding is a bdlc
/// finding.
int runWithLargeStack(const std::function<int()> &body);

} // namespace bdl

#endif
