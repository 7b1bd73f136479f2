#!/usr/bin/env python3
"""Optuna's samplers on the problems of tune_bench: the peer of bdl's tuner.

For Branin and Hartmann-6 at 20/30/40 evaluations over seeds 1..SEEDS, prints
the median best value and interquartile range of Optuna's TPE, multivariate
TPE and random samplers, as a table and then one JSON line per row in the
format of build/bin/tune_bench, so that the two outputs can be compared.

    python3 bench/tune/optuna_peer.py [--seeds 10]

Exits 2 if Optuna is not importable (Debian: python3-optuna); it installs
nothing.
"""
import argparse
import json
import math
import sys
import time

try:
    import optuna
except ImportError:
    print("optuna_peer.py: Optuna is not installed (Debian package python3-optuna); "
          "nothing measured", file=sys.stderr)
    sys.exit(2)


def branin(x):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    u = x[1] - b * x[0] ** 2 + c * x[0] - 6
    return u * u + 10 * (1 - t) * math.cos(x[0]) + 10


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
     [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
     [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(x):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


# (name, function, bounds per dimension), as in test/unit/TuneFunctions.h.
PROBLEMS = [("branin", branin, [(-5, 10), (0, 15)]),
            ("hartmann6", hartmann6, [(0, 1)] * 6)]

SAMPLERS = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "tpe_multivariate": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


def quantile(values, q):
    """Linear interpolation between order statistics, as tune_bench."""
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def trace(fn, bounds, sampler, budget):
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(trial):
        return fn([trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)])

    study.optimize(objective, n_trials=budget)
    best, out = math.inf, []
    for t in study.trials:
        best = min(best, t.value)
        out.append(best)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    budgets = [20, 30, 40]
    rows = []
    for name, fn, bounds in PROBLEMS:
        for sampler_name, make in SAMPLERS.items():
            start = time.perf_counter()
            traces = [trace(fn, bounds, make(seed), max(budgets))
                      for seed in range(1, args.seeds + 1)]
            secs = time.perf_counter() - start
            for b in budgets:
                v = [t[b - 1] for t in traces]
                rows.append({"problem": name, "sampler": sampler_name, "evals": b,
                             "seeds": args.seeds, "median": quantile(v, 0.5),
                             "q25": quantile(v, 0.25), "q75": quantile(v, 0.75),
                             "seconds": round(secs, 3)})
    print(f"{'problem':<10} {'sampler':<17} {'evals':>6} {'median':>12} {'q25':>12} "
          f"{'q75':>12} {'run_s':>9}")
    for r in rows:
        print(f"{r['problem']:<10} {r['sampler']:<17} {r['evals']:>6} {r['median']:>12.6f} "
              f"{r['q25']:>12.6f} {r['q75']:>12.6f} {r['seconds']:>9.2f}")
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
