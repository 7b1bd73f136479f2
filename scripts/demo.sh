#!/usr/bin/env bash
# README command 1: installs what is missing, builds bdl, compiles the
# segregated-dendrite network of Guerguiev et al. (2017),
# examples/guerguiev.bdl, and trains it briefly on Fashion-MNIST at batch 1,
# as the reference does: one epoch in its non-spiking mode, then 5,000
# examples of the paper's spiking mode. Results land in build/demo/*/
# (metrics.csv, log.jsonl, summary.json, weights/).
#   scripts/demo.sh [MODEL.bdl]   trains another model for its default epochs instead
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset default
cmake --build build
if [[ $# -gt 0 ]]; then
  name=$(basename "$1" .bdl)
  build/bin/bdlc "$1" -o "build/$name"
  "build/$name" train --out "build/demo/$name"
  echo "demo: results in build/demo/$name"
  exit 0
fi
build/bin/bdlc examples/guerguiev.bdl -o build/guerguiev
echo "== non-spiking mode (--set spiking=false): 1 epoch of 60,000 examples, tested on 10,000"
build/guerguiev train --set spiking=false --seed 1 --out build/demo/nonspiking
echo "== spiking mode (the paper's): the first 5,000 examples, tested on the first 2,000"
build/guerguiev train --limit 5000 --test-limit 2000 --seed 1 --out build/demo/spiking
for run in nonspiking spiking; do
  acc=$(grep -o '"test_accuracy": *[0-9.]*' "build/demo/$run/summary.json" | grep -o '[0-9.]*$')
  echo "demo: guerguiev $run reached test accuracy $acc (build/demo/$run)"
done
