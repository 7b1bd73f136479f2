#!/usr/bin/env bash
# Training throughput of examples/fa_mlp.bdl compiled by bdlc vs the same model
# in PyTorch (bench/torch_fa_mlp.py), both on Fashion-MNIST with the same
# thread count, at batch 32 and batch 256, and vs the machine's limit for the
# model, measured in the same run (bench/model_limit.cpp): its GEMMs at
# OpenBLAS speed on the same shapes and thread count, plus one read and one
# write of every weight and optimiser state at the measured copy bandwidth.
#
#   bench/run.sh [THREADS]          THREADS defaults to `nproc`
#
# Builds nothing: it expects build/bin/bdlc and build/lib/libmodel_limit.a
# (cmake --preset default && cmake --build --preset default). The torch peer
# needs PyTorch for /usr/bin/python3 (scripts/setup.sh --bench); without it
# the torch columns stay empty. Prints a table and writes it as CSV to
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
#   BDL_ARGS    extra arguments for `fa train` (its --set options reach the limit too)
#   CXX         C++ driver that links the limit program (default: c++)
#   TORCH_PEER  the PyTorch peer, in bench/  (default: torch_fa_mlp.py; torch_cnn.py for the CNN)
#   TORCH_ARGS  extra arguments for the peer (e.g. "--hidden 512")
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
TORCH_PEER=${TORCH_PEER:-torch_fa_mlp.py}
[[ -f "$here/$TORCH_PEER" ]] || die "no bench/$TORCH_PEER"
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
have_torch=1
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  have_torch=0
  echo "bench: PyTorch is not installed for $PYTHON (scripts/setup.sh --bench): skipping the torch peer" >&2
fi
[[ -x "$BDLC" ]] || die "$BDLC not found: build it first (cmake --preset default && cmake --build --preset default)"
limit_link=$(dirname "$BDLC")/../lib/model-limit-link.txt
[[ -f "$limit_link" ]] || die "$limit_link not found: build the model_limit target (cmake --build --preset default)"
[[ -f "$MODEL" ]] || die "$MODEL not found"
CXX=${CXX:-c++}
command -v "$CXX" >/dev/null || die "C++ driver '$CXX' not found (set CXX)"

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
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }

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
# The same model, linked with bench/model_limit.cpp's main instead of the runtime's.
read -r -a limit_libs <"$limit_link"
if ! "$BDLC" "$MODEL" --emit=obj -o "$tmp/fa.o" >"$tmp/bdlc-obj.log" 2>&1 \
   || ! "$CXX" "$tmp/fa.o" "${limit_libs[@]}" -o "$tmp/fa-limit" >"$tmp/link-limit.log" 2>&1; then
  cat "$tmp/bdlc-obj.log" "$tmp/link-limit.log" >&2
  die "could not build the limit program for $MODEL"
fi
limit_sets=()
for ((i = 0; i < ${#bdl_extra[@]}; i++)); do
  [[ "${bdl_extra[i]}" == --set && $((i + 1)) -lt ${#bdl_extra[@]} ]] && limit_sets+=(--set "${bdl_extra[i + 1]}")
  [[ "${bdl_extra[i]}" == --set=* ]] && limit_sets+=(--set "${bdl_extra[i]#--set=}")
done

declare -A bdl_eps torch_eps bdl_acc torch_acc limit_eps limit_products limit_memory limit_copy
declare -A bdl_best torch_best limit_best
for b in $BATCHES; do
  bdl_runs=() torch_runs=() limit_runs=()
  for ((r = 1; r <= REPEATS; r++)); do
    echo "bench: batch $b, threads $threads, run $r/$REPEATS: the machine's limit"
    run_one "limit (batch $b)" "$tmp/limit-b$b-r$r.json" "$tmp/fa-limit" --batch "$b" \
      --threads "$threads" "${limit_sets[@]}"
    limit_runs+=("$tmp/limit-b$b-r$r.json")

    d="$tmp/bdl-b$b-r$r"
    echo "bench: batch $b, threads $threads, run $r/$REPEATS: bdl"
    run_one "bdl (batch $b)" "$d.log" "$tmp/fa" train --epochs "$EPOCHS" --batch "$b" \
      --threads "$threads" --no-monitors --out "$d" "${bdl_extra[@]}"
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
    ((have_torch && r == 1)) && [[ ${#synced[@]} -gt 0 ]] && echo "bench: torch gets bdl's parameters: ${synced[*]}"

    if ((have_torch)); then
      d="$tmp/torch-b$b-r$r"
      echo "bench: batch $b, threads $threads, run $r/$REPEATS: torch"
      run_one "torch (batch $b)" "$d.log" "$PYTHON" "$here/$TORCH_PEER" --epochs "$EPOCHS" \
        --batch "$b" --threads "$threads" --out "$d" --quiet "${synced[@]}" "${torch_extra[@]}"
      torch_runs+=("$(json_get "$d/summary.json" examples_per_second)")
      torch_acc[$b]=$(json_get "$d/summary.json" test_accuracy)
    fi
  done
  for v in "${bdl_runs[@]}" "${torch_runs[@]}"; do
    [[ "$v" =~ ^[0-9.eE+-]+$ ]] || die "batch $b: examples_per_second missing from a summary.json (got '$v')"
  done
  bdl_eps[$b]=$(median "${bdl_runs[@]}")
  torch_eps[$b]=$( ((have_torch)) && median "${torch_runs[@]}" || echo "")
  # The fastest run of each too: the limit is itself the fastest of its
  # trials, and a busy host only ever slows a run down, so the fastest runs
  # compare like with like (bench/README.md).
  bdl_best[$b]=$(best "${bdl_runs[@]}")
  torch_best[$b]=$( ((have_torch)) && best "${torch_runs[@]}" || echo "")
  torch_acc[$b]=${torch_acc[$b]:-}
  # The limit of the median run, with the parts it is made of.
  values=()
  for f in "${limit_runs[@]}"; do values+=("$(json_get "$f" limit_examples_per_second) $f"); done
  median_limit=$(printf '%s\n' "${values[@]}" | sort -g | awk '{v[NR] = $2} END {print v[int((NR + 1) / 2)]}')
  limit_eps[$b]=$(json_get "$median_limit" limit_examples_per_second)
  limit_products[$b]=$(json_get "$median_limit" products_seconds)
  limit_memory[$b]=$(json_get "$median_limit" memory_seconds)
  limit_copy[$b]=$(json_get "$median_limit" copy_gbytes_per_second)
  limit_best[$b]=$(best $(printf '%s\n' "${values[@]}" | cut -d' ' -f1))
  [[ "${limit_eps[$b]}" =~ ^[0-9.eE+-]+$ ]] || die "batch $b: the limit program printed no limit_examples_per_second"
done

mkdir -p "$(dirname "$BENCH_OUT")"
{
  echo "batch,threads,epochs,bdl_examples_per_second,torch_examples_per_second,ratio_bdl_over_torch,bdl_test_accuracy,torch_test_accuracy,limit_examples_per_second,bdl_share_of_limit,torch_share_of_limit,limit_products_seconds,limit_memory_seconds,copy_gbytes_per_second,bdl_best_examples_per_second,torch_best_examples_per_second,limit_best_examples_per_second,bdl_best_share_of_best_limit,torch_best_share_of_best_limit"
  for b in $BATCHES; do
    awk -v b="$b" -v t="$threads" -v e="$EPOCHS" -v x="${bdl_eps[$b]}" -v y="${torch_eps[$b]}" \
        -v ax="${bdl_acc[$b]}" -v ay="${torch_acc[$b]}" -v l="${limit_eps[$b]}" \
        -v lp="${limit_products[$b]}" -v lm="${limit_memory[$b]}" -v bw="${limit_copy[$b]}" \
        -v bx="${bdl_best[$b]}" -v by="${torch_best[$b]}" -v bl="${limit_best[$b]}" \
      'function acc(a) { return a == "" ? "" : sprintf("%.4f", a) }
       function num(fmt, v) { return v == "" ? "" : sprintf(fmt, v) }
       BEGIN {printf "%d,%d,%d,%.1f,%s,%s,%s,%s,%.1f,%.3f,%s,%.6g,%.6g,%.2f,%.1f,%s,%.1f,%.3f,%s\n", b, t, e, x,
              num("%.1f", y), (y > 0 ? sprintf("%.3f", x / y) : ""), acc(ax), acc(ay), l, x / l,
              (y > 0 ? sprintf("%.3f", y / l) : ""), lp, lm, bw, bx, num("%.1f", by), bl, bx / bl,
              (by > 0 ? sprintf("%.3f", by / bl) : "")}'
  done
} >"$BENCH_OUT"

echo
echo "$(basename "$MODEL" .bdl) training throughput, Fashion-MNIST, $threads thread(s), $EPOCHS epoch(s), median of $REPEATS run(s)"
echo "limit: the model's GEMMs at OpenBLAS speed + one read and one write of every weight and"
echo "optimiser state at the measured copy bandwidth, per batch (bench/model_limit.cpp)"
printf '%6s %12s %12s %10s %12s %10s %11s %14s %11s %10s %10s\n' batch "bdl ex/s" "limit ex/s" "bdl/limit" \
  "torch ex/s" "torch/lim" "bdl/torch" "GEMMs ms/batch" "copy GB/s" "bdl best" "torch best"
tail -n +2 "$BENCH_OUT" | awk -F, '
  function opt(fmt, v) { return v == "" ? "-" : sprintf(fmt, v) }
  {printf "%6d %12.0f %12.0f %9.1f%% %12s %10s %11s %14.3f %11.1f %9.1f%% %10s\n", $1, $4, $9, 100 * $10,
          opt("%.0f", $5), ($11 == "" ? "-" : sprintf("%.1f%%", 100 * $11)), opt("%.2f", $6),
          1000 * $12, $14, 100 * $18, ($19 == "" ? "-" : sprintf("%.1f%%", 100 * $19))}'
echo "bdl best, torch best: the fastest of the $REPEATS runs over the fastest limit run, as shares of the limit"
echo "bench: wrote $BENCH_OUT"
