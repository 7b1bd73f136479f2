//===- main.cpp - Entry point linked into every compiled model ------------===//
//
// Lives in its own library (bdlrt_main) so that libbdlrt can also be linked
// into programs with their own main, such as the unit tests.
//
//===----------------------------------------------------------------------===//

#include "bdl/cli.h"

int main(int argc, char **argv) { return bdl::runMain(bdl_model, argc, argv); }
