#!/usr/bin/env bash
# assemble_examples.sh BDLC PTXAS EXAMPLES_DIR OUT_DIR: compiles every example
# for the GPU (sm_80 and sm_90 PTX) and assembles it with ptxas for sm_80 and
# sm_90; prints "assembled NAME" per model, stops at the first failure.
set -euo pipefail
bdlc=$1 ptxas=$2 examples=$3 out=$4
mkdir -p "$out"
for f in "$examples"/*.bdl; do
  n=$(basename "$f" .bdl)
  "$bdlc" "$f" --target=cuda --emit=ptx -o "$out/$n.80.ptx"
  "$bdlc" "$f" --target=cuda --gpu=sm_90 --emit=ptx -o "$out/$n.90.ptx"
  "$ptxas" --gpu-name sm_80 "$out/$n.80.ptx" -o "$out/$n.80.cubin"
  "$ptxas" --gpu-name sm_90 "$out/$n.80.ptx" -o "$out/$n.80-90.cubin"
  "$ptxas" --gpu-name sm_90 "$out/$n.90.ptx" -o "$out/$n.90.cubin"
  echo "assembled $n"
done
