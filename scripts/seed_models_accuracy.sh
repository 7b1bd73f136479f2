#!/usr/bin/env bash
# The accuracy runs of issue 9's seed models that are too long for the test
# suite: each example trained with its file's defaults (full Fashion-MNIST,
# full test set), its test accuracy per epoch and against its floor:
#   backprop_cnn  10 epochs, batch 64, Adam      floor 0.90 (R1's CNN: 0.9033)
#   dtp_mlp       1 warm-up + 10 epochs, batch 32 floor 0.85
#   autograd_mlp, backprop_mlp                    equal to each other
# Usage: scripts/seed_models_accuracy.sh [OUT_DIR] [cnn|dtp|bp ...]
# Each run's summary.json and metrics.csv land in OUT_DIR/<model>/; exit 1 if a
# floor is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/seed-accuracy}
shift || true
runs=("$@")
[[ ${#runs[@]} -eq 0 ]] && runs=(cnn dtp bp)
mkdir -p "$out"
status=0
train() { # MODEL FLOOR
  local model=$1 floor=$2
  build/bin/bdlc "examples/$model.bdl" -o "$out/$model.net"
  "$out/$model.net" train --out "$out/$model"
  python3 test/Inputs/check_summary.py "$out/$model" --min "test_accuracy=$floor" || status=1
}
for run in "${runs[@]}"; do
  case $run in
    cnn) train backprop_cnn 0.90 ;;
    dtp) train dtp_mlp 0.85 ;;
    bp)
      train autograd_mlp 0.87
      train backprop_mlp 0.87
      python3 test/Inputs/same_bytes.py "$out/autograd_mlp/weights" "$out/backprop_mlp/weights" || status=1 ;;
    *) echo "unknown run '$run' (cnn, dtp, bp)" >&2; exit 2 ;;
  esac
done
for run in "$out"/*/summary.json; do
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print("%-14s test accuracy %.4f after %d epochs, %.0f s" % (s["model"], s["test_accuracy"], s["epochs_completed"], s["train_seconds"]))' "$run"
done
exit $status
