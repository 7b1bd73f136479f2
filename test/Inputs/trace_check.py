"""trace_check.py OUT [--print LABEL=EXPR]... [--near LABEL=EXPR TOL]...

Evaluates Python expressions over a `./net train --trace ... --out OUT` run
and prints them (so that a test's CHECK lines hold the hand-computed
values). In an expression,
  T('pop.V')  is the trace of a tensor: a list of rows, one per traced step
              (every block's steps, train blocks in order; see trace.json),
  T('pop.V', 'run') only the rows of the first block named 'run',
  W('W')      is a weight after the run (OUT/weights/W.npy) as a list of rows,
  meta        is trace.json,
  matvec_error(W, X, B, lag) is max_{t,r} |B[t][r] - (W X[t - lag])[r]| / max |B|
              over traces X, B (rows) and a matrix W (0 where t < lag),
and math's functions (exp, log, sqrt, ...) are in scope.
--print LABEL=EXPR prints "LABEL = VALUE" (numbers with 7 significant
digits, lists of them space-separated); --near LABEL=EXPR TOL prints
"LABEL ok" when |EXPR| <= TOL and fails (exit 1) otherwise."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy  # noqa: E402

out = sys.argv[1]
meta = json.load(open(os.path.join(out, "trace", "trace.json")))


def rows_of(path):
    shape, values = npy.read(path)
    w = shape[-1] if len(shape) > 1 else 1
    return [values[r * w:(r + 1) * w] for r in range(len(values) // w)]


def T(name, block=None):
    rows = rows_of(os.path.join(out, "trace", name + ".npy"))
    if block is None:
        return rows
    b = next(b for b in meta["blocks"] if b["name"] == block)
    return rows[b["first_step"]:b["first_step"] + b["length"]]


def W(name):
    return rows_of(os.path.join(out, "weights", name + ".npy"))


def matvec_error(w, x, b, lag=0):
    scale = max(abs(v) for row in b for v in row) or 1.0
    worst = 0.0
    for t, row in enumerate(b):
        for r, got in enumerate(row):
            want = sum(wv * xv for wv, xv in zip(w[r], x[t - lag])) if t >= lag else 0.0
            worst = max(worst, abs(got - want))
    return worst / scale


scope = {k: getattr(math, k) for k in dir(math) if not k.startswith("_")}
scope.update(T=T, W=W, meta=meta, matvec_error=matvec_error)


def fmt(v):
    if isinstance(v, (list, tuple)):
        return " ".join(fmt(x) for x in v)
    if isinstance(v, float):
        return "%.7g" % v
    return str(v)


args, failed = sys.argv[2:], False
i = 0
while i < len(args):
    label, expr = args[i + 1].split("=", 1)
    value = eval(expr, scope)
    if args[i] == "--print":
        print(f"{label} = {fmt(value)}")
        i += 2
    elif args[i] == "--near":
        tol = float(args[i + 2])
        ok = abs(value) <= tol
        print(f"{label} {'ok' if ok else 'FAILED'} ({fmt(float(value))})")
        failed |= not ok
        i += 3
    else:
        sys.exit(f"unknown option {args[i]}")
sys.exit(1 if failed else 0)
