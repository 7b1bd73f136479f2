#!/usr/bin/env bash
# Training throughput of examples/fa_mlp.bdl compiled by bdlc vs the same model
# in PyTorch (bench/torch_fa_mlp.py), both on Fashion-MNIST with the same
# thread count, at batch 32 and batch 256.
#
#   bench/run.sh [THREADS]          THREADS defaults to `nproc`
#
# Builds nothing: it expects build/bin/bdlc (cmake --preset default && cmake
# --build --preset default) and PyTorch for /usr/bin/python3
# (scripts/setup.sh --bench). Prints a table and writes it as CSV to
# bench/results/fa_mlp.csv, or to $BENCH_OUT.
#
# Environment (all optional):
#   BDLC        compiler binary              (default: build/bin/bdlc)
#   MODEL       model source                 (default: examples/fa_mlp.bdl)
#   PYTHON      interpreter that has torch   (default: /usr/bin/python3)
#   BATCHES     batch sizes to measure       (default: "32 256")
#   EPOCHS      epochs per run               (default: 1)
#   REPEATS     runs per configuration; the table reports the median (default: 1)
#   BENCH_OUT   CSV path                     (default: bench/results/fa_mlp.csv)
#   BDL_ARGS    extra arguments for `fa train`
#   TORCH_ARGS  extra arguments for torch_fa_mlp.py (e.g. "--hidden 512")
#   OMP_WAIT_POLICY  passed to both               (default: PASSIVE; see bench/README.md)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

die() { echo "bench: $*" >&2; exit 1; }

threads=${1:-$(nproc)}
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, got '$threads'"
BDLC=${BDLC:-$root/build/bin/bdlc}
MODEL=${MODEL:-$root/examples/fa_mlp.bdl}
PYTHON=${PYTHON:-/usr/bin/python3}
BATCHES=${BATCHES:-32 256}
EPOCHS=${EPOCHS:-1}
REPEATS=${REPEATS:-1}
BENCH_OUT=${BENCH_OUT:-$root/bench/results/fa_mlp.csv}
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
read -r -a bdl_extra <<<"${BDL_ARGS:-}"
read -r -a torch_extra <<<"${TORCH_ARGS:-}"
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "REPEATS must be a positive integer, got '$REPEATS'"
[[ "$EPOCHS" =~ ^[1-9][0-9]*$ ]] || die "EPOCHS must be a positive integer, got '$EPOCHS'"
for b in $BATCHES; do
  [[ "$b" =~ ^[1-9][0-9]*$ ]] || die "BATCHES must hold positive integers, got '$b'"
done

# --- prerequisites, all checked before any long run ------------------------
[[ -x "$PYTHON" ]] || die "$PYTHON not found"
"$PYTHON" -c 'import torch' 2>/dev/null \
  || die "PyTorch is not installed for $PYTHON: run scripts/setup.sh --bench"
[[ -x "$BDLC" ]] || die "$BDLC not found: build it first (cmake --preset default && cmake --build --preset default)"
[[ -f "$MODEL" ]] || die "$MODEL not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bdl-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# summary.json field, via the standard library (bdl and torch write the same keys).
# A dotted key reads nested objects: params.lr.
json_get() {
  "$PYTHON" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None or isinstance(v, (dict, list)) else v)' "$1" "$2"
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Runs one measurement; on failure shows the log tail and stops.
#   run_one NAME LOG CMD...
run_one() {
  local name=$1 log=$2; shift 2
  if ! OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads OMP_WAIT_POLICY=$OMP_WAIT_POLICY \
       "$@" >"$log" 2>&1; then
    echo "bench: $name failed: $*" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}

echo "bench: compiling $MODEL"
if ! "$BDLC" "$MODEL" -o "$tmp/fa" >"$tmp/bdlc.log" 2>&1; then
  cat "$tmp/bdlc.log" >&2
  die "bdlc failed on $MODEL"
fi
[[ -x "$tmp/fa" ]] || die "bdlc did not produce an executable at $tmp/fa"

declare -A bdl_eps torch_eps bdl_acc torch_acc
for b in $BATCHES; do
  bdl_runs=() torch_runs=()
  for ((r = 1; r <= REPEATS; r++)); do
    d="$tmp/bdl-b$b-r$r"
    echo "bench: batch $b, threads $threads, run $r/$REPEATS: bdl"
    run_one "bdl (batch $b)" "$d.log" "$tmp/fa" train --epochs "$EPOCHS" --batch "$b" \
      --threads "$threads" --out "$d" "${bdl_extra[@]}"
    [[ -f "$d/summary.json" ]] || die "bdl wrote no $d/summary.json"
    bdl_runs+=("$(json_get "$d/summary.json" examples_per_second)")
    bdl_acc[$b]=$(json_get "$d/summary.json" test_accuracy)
    # Give torch the hyperparameters the bdl binary actually used (its
    # summary.json lists them), so the two cannot drift apart when the .bdl
    # file changes. TORCH_ARGS comes later on the command line and wins.
    synced=()
    for p in hidden lr momentum; do
      v=$(json_get "$d/summary.json" "params.$p")
      [[ -n "$v" ]] && synced+=("--$p" "$v")
    done
    ((r == 1)) && [[ ${#synced[@]} -gt 0 ]] && echo "bench: torch gets bdl's parameters: ${synced[*]}"

    d="$tmp/torch-b$b-r$r"
    echo "bench: batch $b, threads $threads, run $r/$REPEATS: torch"
    run_one "torch (batch $b)" "$d.log" "$PYTHON" "$here/torch_fa_mlp.py" --epochs "$EPOCHS" \
      --batch "$b" --threads "$threads" --out "$d" --quiet "${synced[@]}" "${torch_extra[@]}"
    torch_runs+=("$(json_get "$d/summary.json" examples_per_second)")
    torch_acc[$b]=$(json_get "$d/summary.json" test_accuracy)
  done
  for v in "${bdl_runs[@]}" "${torch_runs[@]}"; do
    [[ "$v" =~ ^[0-9.eE+-]+$ ]] || die "batch $b: examples_per_second missing from a summary.json (got '$v')"
  done
  bdl_eps[$b]=$(median "${bdl_runs[@]}")
  torch_eps[$b]=$(median "${torch_runs[@]}")
done

mkdir -p "$(dirname "$BENCH_OUT")"
{
  echo "batch,threads,epochs,bdl_examples_per_second,torch_examples_per_second,ratio_bdl_over_torch,bdl_test_accuracy,torch_test_accuracy"
  for b in $BATCHES; do
    awk -v b="$b" -v t="$threads" -v e="$EPOCHS" -v x="${bdl_eps[$b]}" -v y="${torch_eps[$b]}" \
        -v ax="${bdl_acc[$b]}" -v ay="${torch_acc[$b]}" \
      'function acc(a) { return a == "" ? "" : sprintf("%.4f", a) }
       BEGIN {printf "%d,%d,%d,%.1f,%.1f,%.3f,%s,%s\n", b, t, e, x, y, (y > 0 ? x / y : 0), acc(ax), acc(ay)}'
  done
} >"$BENCH_OUT"

echo
echo "fa_mlp training throughput, Fashion-MNIST, $threads thread(s), $EPOCHS epoch(s), median of $REPEATS run(s)"
printf '%6s %14s %14s %16s\n' batch "bdl ex/s" "torch ex/s" "ratio bdl/torch"
tail -n +2 "$BENCH_OUT" | awk -F, '{printf "%6d %14.0f %14.0f %16.2f\n", $1, $4, $5, $6}'
echo "bench: wrote $BENCH_OUT"
