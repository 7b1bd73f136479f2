#!/usr/bin/env bash
# The accuracy runs of examples/guerguiev.bdl that are too long for the test
# suite (issue 6's "must show"): Fashion-MNIST, batch 1, 784-500-10.
#   non-spiking, 1 epoch, seeds 1-3 (target: mean test accuracy >= 0.79)
#   non-spiking, 10 epochs, seeds 1-2 (target: mean >= 0.84)
#   spiking, the first 10,000 training examples, full 10,000-image test (target >= 0.60)
#   spiking, one full epoch (its accuracy and time)
# Usage: scripts/guerguiev_accuracy.sh [OUT_DIR] [ns1|ns10|sp10k|sp-epoch ...]
# Each run's summary.json lands in OUT_DIR/<run>/; a table is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/accuracy}
shift || true
runs=("$@")
[[ ${#runs[@]} -eq 0 ]] && runs=(ns1 ns10 sp10k)
mkdir -p "$out"
build/bin/bdlc examples/guerguiev.bdl -o "$out/guerguiev"
net="$out/guerguiev"
train() { # NAME ARGS...
  local name=$1; shift
  echo "== $name: $*"
  "$net" train --threads 1 --quiet --out "$out/$name" "$@"
  grep -o '"test_accuracy": *[0-9.]*' "$out/$name/summary.json"
}
for run in "${runs[@]}"; do
  case $run in
    ns1) for s in 1 2 3; do train "ns1-seed$s" --set spiking=false --seed "$s" --epochs 1; done ;;
    ns10) for s in 1 2; do train "ns10-seed$s" --set spiking=false --seed "$s" --epochs 10; done ;;
    sp10k) train sp10k-seed1 --seed 1 --limit 10000 ;;
    sp-epoch) train sp-epoch-seed1 --seed 1 ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
  esac
done
echo "run,test_accuracy,train_seconds"
for d in "$out"/*/; do
  [[ -f "$d/summary.json" ]] || continue
  acc=$(grep -o '"test_accuracy": *[0-9.]*' "$d/summary.json" | grep -o '[0-9.]*$')
  sec=$(grep -o '"train_seconds": *[0-9.]*' "$d/summary.json" | grep -o '[0-9.]*$')
  echo "$(basename "$d"),$acc,$sec"
done
