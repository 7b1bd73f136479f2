//===- bdl/cli.h - The command line of every compiled model -----*- C++ -*-===//
#ifndef BDL_CLI_H
#define BDL_CLI_H

#include "bdl/abi.h"

namespace bdl {

/// `net train|eval|info [options]` for `model`; returns the exit code:
/// 0 success, 1 failure (bad data, missing weights...), 2 usage error,
/// 3 training diverged. Messages go to stdout, errors to stderr.
int runMain(const BdlModel &model, int argc, const char *const *argv);

} // namespace bdl

#endif // BDL_CLI_H
