//===- ErrorMatch.h - The message of an expected bdl::Error ---------------===//
#ifndef BDL_TEST_ERRORMATCH_H
#define BDL_TEST_ERRORMATCH_H

#include "bdl/error.h"

#include <gtest/gtest.h>
#include <string>

namespace bdl::test {

/// The message of the bdl::Error `f` throws; fails the test if none is.
template <typename F> std::string errorOf(F f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  }
  ADD_FAILURE() << "no bdl::Error thrown";
  return {};
}

} // namespace bdl::test

#endif // BDL_TEST_ERRORMATCH_H
