#!/usr/bin/env bash
# README command 1: installs what is missing, builds bdl, compiles the
# feedback-alignment MLP and trains it for 5 epochs on Fashion-MNIST.
# Results land in build/demo/ (metrics.csv, log.jsonl, summary.json, weights/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset default
cmake --build build
model=${1:-examples/fa_mlp.bdl}
name=$(basename "$model" .bdl)
build/bin/bdlc "$model" -o "build/$name"
"build/$name" train --out build/demo
echo "demo: results in build/demo (summary.json, metrics.csv, log.jsonl, weights/*.npy)"
