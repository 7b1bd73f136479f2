"""check_optimizer.py OUT sgd|adam [NAME=VALUE]... [--weights W,b] [--tol T]

Recomputes every optimiser step of a `./net train --trace ... --out OUT` run
from first principles, in double precision, and compares the weights (and
the optimiser state, where traced) with the compiled model's. For each
batch it reads, from the trace, the weights after the forward block (the
weights before the step) and each weight's delta `W.grad` after the learn
block; the reference keeps its own optimiser state from zero, so a wrong
moment, bias correction or step count shows at the next step.

Arguments (the optimiser's, as in docs/language.md): lr, momentum,
weight_decay, clip (sgd and adam), beta1, beta2, eps (adam; defaults 0.9,
0.999, 1e-8). The updates are `W -= delta`. Prints, per weight, the largest
error relative to the largest step, and how many steps were clipped; exits
1 when an error exceeds --tol (default 1e-4)."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy  # noqa: E402

out, kind = sys.argv[1], sys.argv[2]
args = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0,
        "clip": None}
weights, tol = ["W", "b"], 1e-4
rest = sys.argv[3:]
i = 0
while i < len(rest):
    if rest[i] == "--weights":
        weights, i = rest[i + 1].split(","), i + 2
    elif rest[i] == "--tol":
        tol, i = float(rest[i + 1]), i + 2
    else:
        key, value = rest[i].split("=", 1)
        args[key], i = float(value), i + 1
lr = args["lr"]

trace = os.path.join(out, "trace")
meta = json.load(open(os.path.join(trace, "trace.json")))
traced = {t["name"] for t in meta["tensors"]}


def series(name):
    """The traced values of `name`: one flat list per traced step."""
    shape, values = npy.read(os.path.join(trace, name + ".npy"))
    n = len(values) // shape[0]
    return [values[s * n:(s + 1) * n] for s in range(shape[0])]


data = {name: series(name) for name in traced}
forward = [b["first_step"] for b in meta["blocks"] if b["name"] == "forward"]
learn = [b["first_step"] for b in meta["blocks"] if b["name"] == "learn"]
state = {w: {"m": None, "v": None} for w in weights}
worst = {w: 0.0 for w in weights}
state_worst = 0.0
clipped = 0
for t, (f, s) in enumerate(zip(forward, learn), start=1):
    deltas = {w: data[w + ".grad"][s] for w in weights}
    scale = 1.0
    if args["clip"] is not None:
        norm = math.sqrt(sum(d * d for w in weights for d in deltas[w]))
        if norm > args["clip"]:
            scale, clipped = args["clip"] / norm, clipped + 1
    for w in weights:
        before, got = data[w][f], data[w][s]
        g = [scale * d for d in deltas[w]]
        st = state[w]
        if st["m"] is None:
            st["m"], st["v"] = [0.0] * len(g), [0.0] * len(g)
        if kind == "sgd":
            # v <- mu v + g + wd W;  W <- W - lr v
            st["m"] = [args["momentum"] * m + gi + args["weight_decay"] * x
                       for m, gi, x in zip(st["m"], g, before)]
            want = [x - lr * m for x, m in zip(before, st["m"])]
            pairs = [(w + ".velocity", st["m"])] if args["momentum"] else []
        else:
            b1, b2 = args["beta1"], args["beta2"]
            st["m"] = [b1 * m + (1 - b1) * gi for m, gi in zip(st["m"], g)]
            st["v"] = [b2 * v + (1 - b2) * gi * gi for v, gi in zip(st["v"], g)]
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            # Decoupled weight decay (AdamW): W <- W - lr (m^ / (sqrt(v^) + eps) + wd W)
            want = [x - lr * ((m / c1) / (math.sqrt(v / c2) + args["eps"])
                              + args["weight_decay"] * x)
                    for x, m, v in zip(before, st["m"], st["v"])]
            pairs = [(w + ".moment1", st["m"]), (w + ".moment2", st["v"])]
        step = max(abs(a - b) for a, b in zip(want, before)) or 1.0
        worst[w] = max(worst[w], max(abs(a - b) for a, b in zip(want, got)) / step)
        for name, ref in pairs:
            if name in traced:
                size = max(abs(r) for r in ref) or 1.0
                err = max(abs(a - b) for a, b in zip(ref, data[name][s])) / size
                state_worst = max(state_worst, err)
    if kind == "adam" and "adam.t" in traced and data["adam.t"][s][0] != t:
        print(f"adam.t is {data['adam.t'][s][0]} at step {t}")
        state_worst = math.inf

failed = False
for w in weights:
    ok = worst[w] <= tol
    failed |= not ok
    print(f"{w}: {'ok' if ok else 'FAILED'} over {len(learn)} steps (error {worst[w]:.2g} of a step)")
ok = state_worst <= tol
failed |= not ok
print(f"state: {'ok' if ok else 'FAILED'} (error {state_worst:.2g})")
print(f"clipped {clipped} of {len(learn)} steps")
sys.exit(1 if failed else 0)
