//===- cli/Info.h - `net info` -----------------------------------*- C++ -*-===//
#ifndef BDL_CLI_INFO_H
#define BDL_CLI_INFO_H

#include "bdl/model.h"

namespace bdl {

/// Prints the model, its params and tensors at the instance's params, and
/// every train and eval block op by op; returns the exit code.
int printModelInfo(ModelInstance &inst);

} // namespace bdl

#endif // BDL_CLI_INFO_H
