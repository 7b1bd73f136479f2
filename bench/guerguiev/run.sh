#!/usr/bin/env bash
# Time per training example of the Guerguiev et al. (2017) segregated-dendrite
# network, 784-500-10 on Fashion-MNIST, side by side in one run:
#
#   numpy   bench/guerguiev/ref_numpy.py: float64, one example at a time, in
#           the reference's style (batch 1, 1 thread only);
#   torch   bench/guerguiev/peer_torch.py: batched float32 PyTorch;
#   bdl     examples/guerguiev.bdl compiled by build/bin/bdlc (skipped with
#           "bdl: not built" when the model or the compiler is missing);
#   limit   bench/guerguiev/sgemm_limit.c: the products of a non-spiking
#           batch at OpenBLAS sgemm speed (non-spiking, batch 32 only).
#
# Cells: {non-spiking, spiking} x {batch 1 on 1 thread, batch 32 on 2 threads}.
# Every run is repeated REPEATS times, interleaved, and the table shows the
# median. Prints the table and writes it as JSON lines to $BENCH_OUT (each
# run's own line goes to the same path with -runs.jsonl).
#
#   bench/guerguiev/run.sh
#   REPEATS=5 SP_B1=200 bench/guerguiev/run.sh
#
# Environment (all optional):
#   PYTHON     interpreter with numpy and torch   (default: /usr/bin/python3)
#   BDLC, MODEL  compiler and model               (default: build/bin/bdlc, examples/guerguiev.bdl)
#   HIDDEN     hidden layer size                   (default: 500)
#   REPEATS    runs per cell                       (default: 3)
#   NS_NUMPY, SP_NUMPY  examples per numpy run     (default: 500, 150)
#   NS_B1, NS_B32, SP_B1, SP_B32  examples per torch and bdl run (default: 2000, 16000, 100, 640)
#   RAND_PHASES  1: spiking phases of 50 + int(wald(2, 1)) steps in every peer (default: 0,
#              fixed 50 as in the golden data; bdl then gets --set rand_phases=false)
#   DATA_DIR   Fashion-MNIST IDX files             (default: /usr/share/datasets/fashion-mnist)
#   TEST_EXAMPLES  test-set size bdl evaluates after its (timed) epoch (default: 64; the
#              evaluation is not timed, a full 10k spiking test would only take long)
#   BDL_ARGS   extra arguments for `net train`
#   BDL_TIMEOUT  seconds before a bdl run is abandoned (default: 300)
#   CHECK      1: run the peers' --check first (default: 1)
#   BENCH_OUT  results path                        (default: bench/guerguiev/results/guerguiev.jsonl)
#   CC         C compiler for sgemm_limit.c        (default: cc)
#   OMP_WAIT_POLICY  passed to every run           (default: PASSIVE; see bench/README.md)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

die() { echo "guerguiev: $*" >&2; exit 1; }

PYTHON=${PYTHON:-/usr/bin/python3}
BDLC=${BDLC:-$root/build/bin/bdlc}
MODEL=${MODEL:-$root/examples/guerguiev.bdl}
HIDDEN=${HIDDEN:-500}
REPEATS=${REPEATS:-3}
NS_NUMPY=${NS_NUMPY:-500}
SP_NUMPY=${SP_NUMPY:-150}
NS_B1=${NS_B1:-2000}
NS_B32=${NS_B32:-16000}
SP_B1=${SP_B1:-100}
SP_B32=${SP_B32:-640}
BDL_TIMEOUT=${BDL_TIMEOUT:-300}
RAND_PHASES=${RAND_PHASES:-0}
DATA_DIR=${DATA_DIR:-/usr/share/datasets/fashion-mnist}
TEST_EXAMPLES=${TEST_EXAMPLES:-64}
CHECK=${CHECK:-1}
BENCH_OUT=${BENCH_OUT:-$here/results/guerguiev.jsonl}
CC=${CC:-cc}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
read -r -a bdl_extra <<<"${BDL_ARGS:-}"
for v in HIDDEN REPEATS NS_NUMPY SP_NUMPY NS_B1 NS_B32 SP_B1 SP_B32 BDL_TIMEOUT TEST_EXAMPLES; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

# --- prerequisites, all checked before any long run ---------------------------
[[ -x "$PYTHON" ]] || die "$PYTHON not found"
"$PYTHON" -c 'import numpy' 2>/dev/null || die "numpy is not installed for $PYTHON"
"$PYTHON" -c 'import torch' 2>/dev/null || die "PyTorch is not installed for $PYTHON (scripts/setup.sh --bench)"
tmp=$(mktemp -d)
trap '[[ -n "${KEEP_TMP:-}" ]] || rm -rf "$tmp"' EXIT
"$CC" -O2 "$here/sgemm_limit.c" -lopenblas -o "$tmp/sgemm_limit" 2>"$tmp/cc.log" \
  || { cat "$tmp/cc.log" >&2; die "cannot build sgemm_limit.c (needs libopenblas-dev)"; }

have_bdl=0
if [[ -f "$MODEL" && -x "$BDLC" ]]; then
  if "$BDLC" "$MODEL" -o "$tmp/net" >"$tmp/bdlc.log" 2>&1 && [[ -x "$tmp/net" ]]; then
    have_bdl=1
    "$tmp/net" train --help >"$tmp/help.txt" 2>&1 || true
    for flag in --limit --no-shuffle; do
      grep -q -- "$flag" "$tmp/help.txt" || echo "guerguiev: warning: '$tmp/net train --help' does not list $flag" >&2
    done
  else
    echo "guerguiev: bdlc failed on $MODEL:" >&2
    tail -n 20 "$tmp/bdlc.log" >&2
  fi
fi
if ((have_bdl)); then
  # The training files as they are, the test set cut to TEST_EXAMPLES: bdl
  # evaluates the test set after the epoch, outside the timed loop.
  mkdir -p "$tmp/data"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
    if [[ -e "$DATA_DIR/$f.gz" ]]; then ln -s "$DATA_DIR/$f.gz" "$tmp/data/"
    elif [[ -e "$DATA_DIR/$f" ]]; then ln -s "$DATA_DIR/$f" "$tmp/data/"
    else die "no $DATA_DIR/$f(.gz)"; fi
  done
  "$PYTHON" - "$DATA_DIR" "$tmp/data" "$TEST_EXAMPLES" <<'EOF' || die "cannot write the shortened test set"
import gzip, os, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for stem, header in (("t10k-images-idx3-ubyte", 16), ("t10k-labels-idx1-ubyte", 8)):
    p = os.path.join(src, stem)
    raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
    per = 784 if header == 16 else 1
    head = bytearray(raw[:header])
    head[4:8] = n.to_bytes(4, "big")
    open(os.path.join(dst, stem), "wb").write(bytes(head) + raw[header:header + n * per])
EOF
fi
((have_bdl)) || echo "bdl: not built ($([[ -f "$MODEL" ]] || echo "no $MODEL; ")$([[ -x "$BDLC" ]] || echo "no $BDLC; ")the bdl columns stay empty)"

rand=()
if ((RAND_PHASES)); then rand=(--rand-phases); fi
runs=$tmp/runs.jsonl
: >"$runs"

# Runs one peer with T threads everywhere; appends its JSON line (tagged with
# the repeat) to $runs. On failure shows the log tail and stops.
#   peer REPEAT THREADS CMD...
peer() {
  local r=$1 t=$2; shift 2
  local log=$tmp/peer.log
  if ! OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$@" >"$log" 2>&1; then
    echo "guerguiev: failed: $*" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  tail -n 1 "$log" | "$PYTHON" -c 'import json, sys; d = json.loads(sys.stdin.read()); d["repeat"] = int(sys.argv[1]); print(json.dumps(d))' "$r" >>"$runs"
}

# bdl: `net train` on the first N training examples in file order; the time is
# the training loop's own (summary.json: train_seconds / train_examples).
#   bdl_run REPEAT MODE BATCH THREADS N
bdl_run() {
  local r=$1 mode=$2 b=$3 t=$4 n=$5 spiking=false
  local sets=()
  if [[ $mode == sp ]]; then
    spiking=true
    ((RAND_PHASES)) || sets=(--set rand_phases=false)
  fi
  local d=$tmp/bdl-$mode-b$b-r$r
  if ! OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t timeout "$BDL_TIMEOUT" "$tmp/net" train --set "spiking=$spiking" "${sets[@]}" \
       --data-dir "$tmp/data" --batch "$b" --threads "$t" --limit "$n" --epochs 1 --no-shuffle --out "$d" "${bdl_extra[@]}" >"$d.log" 2>&1; then
    echo "guerguiev: bdl failed or timed out ($mode, batch $b): see below; its cell stays empty" >&2
    tail -n 10 "$d.log" >&2
    return 0
  fi
  "$PYTHON" - "$d/summary.json" "$r" "$mode" "$b" "$t" "$HIDDEN" >>"$runs" <<'EOF' || echo "guerguiev: cannot read $d/summary.json" >&2
import json, sys
path, r, mode, b, t, hidden = sys.argv[1:]
s = json.load(open(path))
n = s["train_examples"] * max(1, s.get("epochs_completed") or 1)
h = (s.get("params") or {}).get("hidden")
if h is not None and int(h) != int(hidden):
    print(f"guerguiev: warning: the bdl model has hidden={h}, the peers {hidden}", file=sys.stderr)
print(json.dumps(dict(impl="bdl", mode=mode, batch=int(b), threads=int(t), hidden=h, examples=n,
                      seconds=s["train_seconds"], us_per_example=1e6 * s["train_seconds"] / n, repeat=int(r))))
EOF
}

if ((CHECK)); then
  for m in ns sp; do
    echo "guerguiev: checking the peers against the golden data ($m)"
    OPENBLAS_NUM_THREADS=1 "$PYTHON" "$here/ref_numpy.py" --mode "$m" --check >"$tmp/check.log" 2>&1 \
      || { cat "$tmp/check.log" >&2; die "ref_numpy.py --mode $m --check failed"; }
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PYTHON" "$here/peer_torch.py" --mode "$m" --check >"$tmp/check.log" 2>&1 \
      || { cat "$tmp/check.log" >&2; die "peer_torch.py --mode $m --check failed"; }
  done
fi

echo "guerguiev: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); 784-$HIDDEN-10, $REPEATS repeat(s)"
for ((r = 1; r <= REPEATS; r++)); do
  echo "guerguiev: repeat $r/$REPEATS"
  for t in 1 2; do peer "$r" "$t" "$tmp/sgemm_limit" --batch 32 --hidden "$HIDDEN" --threads "$t"; done
  peer "$r" 1 "$PYTHON" "$here/ref_numpy.py" --mode ns --hidden "$HIDDEN" --examples "$NS_NUMPY" --seed "$r" --data-dir "$DATA_DIR"
  peer "$r" 1 "$PYTHON" "$here/ref_numpy.py" --mode sp --hidden "$HIDDEN" --examples "$SP_NUMPY" --seed "$r" --data-dir "$DATA_DIR" \
    "${rand[@]}"
  for cell in "ns 1 1 $NS_B1" "ns 32 2 $NS_B32" "sp 1 1 $SP_B1" "sp 32 2 $SP_B32"; do
    read -r m b t n <<<"$cell"
    peer "$r" "$t" "$PYTHON" "$here/peer_torch.py" --mode "$m" --batch "$b" --threads "$t" --hidden "$HIDDEN" \
      --examples "$n" --seed "$r" --data-dir "$DATA_DIR" "${rand[@]}"
    if ((have_bdl)); then bdl_run "$r" "$m" "$b" "$t" "$n"; fi
  done
done

mkdir -p "$(dirname "$BENCH_OUT")"
cp "$runs" "${BENCH_OUT%.jsonl}-runs.jsonl"
"$PYTHON" "$here/report.py" "$runs" "$BENCH_OUT" "$(cut -d' ' -f1-3 /proc/loadavg)"
