//===- bdl/selftest.h - `net selftest`: the GPU's kernels against the CPU's -*- C++ -*-===//
#ifndef BDL_SELFTEST_H
#define BDL_SELFTEST_H

#include "bdl/device.h"

namespace bdl {

class ModelInstance;

/// Runs every kernel of `inst`'s model once on the CPU and once on `device`
/// (a GPU) from the same random inputs in [0, 1) and compares every tensor
/// after it (max |cpu - gpu| / max(1, |cpu|); NaN matches NaN). Prints one
/// line per kernel (only the failing ones when `quiet`) and a summary;
/// returns ExitOk when every kernel is within `tolerance`, else ExitFailure.
/// `inst` must be allocated and initialised.
int runSelfTest(ModelInstance &inst, const Device &device, double tolerance, bool quiet);

} // namespace bdl

#endif // BDL_SELFTEST_H
