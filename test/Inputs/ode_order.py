"""ode_order.py NET --dt H [H ...] [--tau X] [--T X] [--E X] [--v0 X]
                [--closed EXPR] [--order LO HI] [--max-error E]
                [--scheme euler|rk4 --rhs EXPR --max-scheme-error E]

Runs the compiled test/Numerics/Inputs/relax.bdl (NET) once per time step H
(`--set dt=H`, so the phase simulates T / H steps), traces p.V and compares
it with the closed form V(t) = E + (V0 - E) exp(-t / tau), in double
precision (--closed: another closed form, a Python expression in t, for
Inputs/riccati.bdl). Prints, per H, the number of steps, V(T), the closed form and the
relative error |V(T) - V*(T)| / |V0 - E| (the decaying part's scale), then
the observed order log2(e(H) / e(H/2)) of each successive pair. Exits 1 when
an order lies outside [LO, HI] or, with --max-error, when an error anywhere
along the trace (not only at T) exceeds E.

--scheme also steps the same method in double precision (the right-hand
side --rhs is a Python expression in v, tau and E) and checks that every
traced value is that discretisation's, to --max-scheme-error relative: where
float32 keeps the observed order from showing (nonlinear equations, whose
asymptotic regime starts at step sizes whose error is near rounding), this
still shows that bdlc computes the method's stages as written."""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("net")
ap.add_argument("--dt", type=float, nargs="+", required=True)
ap.add_argument("--tau", type=float, default=2.0)
ap.add_argument("--T", type=float, default=4.0)
ap.add_argument("--E", type=float, default=0.0)
ap.add_argument("--v0", type=float, default=2.0)
ap.add_argument("--closed")
ap.add_argument("--scheme", choices=["euler", "rk4"])
ap.add_argument("--rhs", default="(E - v) / tau")
ap.add_argument("--max-scheme-error", type=float, default=1e-6)
ap.add_argument("--order", type=float, nargs=2)
ap.add_argument("--max-error", type=float)
args = ap.parse_args()

failures = []


def exact(t):
    if args.closed:
        return eval(args.closed, {"math": math, "exp": math.exp, "cos": math.cos, "t": t})
    return args.E + (args.v0 - args.E) * math.exp(-t / args.tau)


def run(h, work):
    out = os.path.join(work, f"dt{h:g}")
    subprocess.run([args.net, "train", "--set", f"dt={h!r}", "--set", f"T={args.T!r}",
                    "--set", f"tau={args.tau!r}", "--set", f"E={args.E!r}", "--limit", "1",
                    "--no-shuffle", "--epochs", "1", "--batch", "1", "--threads", "1",
                    "--trace", "p.V", "--out", out, "--quiet"], check=True)
    meta = json.load(open(os.path.join(out, "trace", "trace.json")))
    block = next(b for b in meta["blocks"] if b["name"] == "run" and b["batch"] == 0)
    shape, values = npy.read(os.path.join(out, "trace", "p.V.npy"))
    width = shape[1]
    rows = [values[r * width:(r + 1) * width]
            for r in range(block["first_step"], block["first_step"] + block["length"])]
    for r in rows:
        if max(r) != min(r):
            failures.append(f"dt={h:g}: the 10 identical units differ: {r}")
    # Row k holds V after step k + 1, at time (k + 1) h.
    return block["length"], [r[0] for r in rows]


def reference(h, steps):
    """The method's own values in double precision, after each step."""
    f = lambda v: eval(args.rhs, {"math": math, "exp": math.exp, "v": v, "tau": args.tau,
                                  "E": args.E})
    v, out = args.v0, []
    for _ in range(steps):
        if args.scheme == "euler":
            v = v + h * f(v)
        else:
            k1 = f(v)
            k2 = f(v + 0.5 * h * k1)
            k3 = f(v + 0.5 * h * k2)
            k4 = f(v + h * k3)
            v = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(v)
    return out


scale = abs(args.v0 - args.E)
errors = []
with tempfile.TemporaryDirectory() as work:
    for h in args.dt:
        steps, trace = run(h, work)
        if steps != round(args.T / h):
            failures.append(f"dt={h:g}: {steps} steps, expected T/dt = {args.T / h:g}")
        along = max(abs(v - exact((k + 1) * h)) for k, v in enumerate(trace)) / scale
        e = abs(trace[-1] - exact(args.T)) / scale
        errors.append(e)
        print(f"dt {h:<8g} steps {steps:<5d} V(T) {trace[-1]:.9f} exact {exact(args.T):.9f} "
              f"rel.err {e:.3e} max.along {along:.3e}")
        if args.scheme:
            ref = reference(h, steps)
            dev = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(trace, ref))
            print(f"dt {h:<8g} {args.scheme} in double: max.rel.diff {dev:.3e}")
            if not dev <= args.max_scheme_error:
                failures.append(f"dt={h:g}: {dev:.3e} from {args.scheme} in double")
        if args.max_error is not None and not along <= args.max_error:
            failures.append(f"dt={h:g}: error {along:.3e} > {args.max_error:g}")
for i in range(1, len(errors)):
    ratio = args.dt[i - 1] / args.dt[i]
    order = math.log(errors[i - 1] / errors[i]) / math.log(ratio) if errors[i] > 0 else math.inf
    print(f"order dt {args.dt[i - 1]:g} -> {args.dt[i]:g}: {order:.2f}")
    if args.order and not args.order[0] <= order <= args.order[1]:
        failures.append(f"order {order:.2f} outside [{args.order[0]:g}, {args.order[1]:g}]")
if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
print("ode: ok")
