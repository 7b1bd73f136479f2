//===- bdl/param_range.h - The values a BdlParamRange allows ----*- C++ -*-===//
//
// One definition for bdlc, which checks a param's default, tune range and
// choices against it, and for the runtime, which checks every value --set,
// a tuning trial or a derivation gives the param.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_PARAM_RANGE_H
#define BDL_PARAM_RANGE_H

#include "bdl/abi.h"

namespace bdl {

/// Whether `v` lies in `range` (a BdlParamRange).
inline bool inParamRange(int32_t range, double v) {
  switch (range) {
  case BDL_RANGE_POSITIVE:
    return v > 0;
  case BDL_RANGE_NONNEGATIVE:
    return v >= 0;
  case BDL_RANGE_FRACTION:
    return v >= 0 && v < 1;
  default:
    return true;
  }
}

/// What `range` asks for, as a message says it: "greater than 0".
inline const char *describeParamRange(int32_t range) {
  switch (range) {
  case BDL_RANGE_POSITIVE:
    return "greater than 0";
  case BDL_RANGE_NONNEGATIVE:
    return "at least 0";
  case BDL_RANGE_FRACTION:
    return "in [0, 1)";
  default:
    return "any number";
  }
}

} // namespace bdl

#endif // BDL_PARAM_RANGE_H
