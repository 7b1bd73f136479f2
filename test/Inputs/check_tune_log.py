"""check_tune_log.py LOG TRIALS [--folds K] [--ranks R] [--status S]: the
tune log holds every trial 0..TRIALS-1 exactly once, each line a JSON object
with the documented keys; with --folds, K fold scores per successful trial;
with --ranks, trials from R different ranks; with --status, every trial has
that status; with --some S, at least one has; with --choices NAME=A,B,C,
param NAME is one of the values; with --objective maximize(M) or
minimize(M), every trial was scored so; with --best OUTPUT, the "best: trial
N" line of net tune's OUTPUT names the trial with the best objective of the
log in its direction.
Prints a summary line."""
import json
import sys

path, trials = sys.argv[1], int(sys.argv[2])
opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
lines = [json.loads(l) for l in open(path) if l.strip()]
ids = sorted(l["trial"] for l in lines)
if ids != list(range(trials)):
    sys.exit(f"{path}: trials {ids}, expected each of 0..{trials - 1} once")
keys = {"trial", "status", "objective", "params", "folds", "seconds", "seed", "host", "rank", "metric",
        "maximise"}
for l in lines:
    if not keys <= set(l):
        sys.exit(f"{path}: trial {l.get('trial')} lacks {sorted(keys - set(l))}")
    if l["status"] == "ok" and not isinstance(l["objective"], float):
        sys.exit(f"{path}: trial {l['trial']} is ok without an objective")
    if "--folds" in opts and l["status"] == "ok" and len(l["folds"]) != int(opts["--folds"]):
        sys.exit(f"{path}: trial {l['trial']} has {len(l['folds'])} fold scores")
    if "--status" in opts and l["status"] != opts["--status"]:
        sys.exit(f"{path}: trial {l['trial']} is {l['status']}")
    if "--choices" in opts:
        name, values = opts["--choices"].split("=")
        if float(l["params"][name]) not in [float(v) for v in values.split(",")]:
            sys.exit(f"{path}: trial {l['trial']} has {name} = {l['params'][name]}")
if "--objective" in opts:
    for l in lines:
        scored = ("maximize" if l["maximise"] else "minimize") + "(" + l["metric"] + ")"
        if scored != opts["--objective"]:
            sys.exit(f"{path}: trial {l['trial']} was scored by {scored}")
if "--best" in opts:
    ok = [l for l in lines if l["status"] == "ok"]
    best = (max if ok[0]["maximise"] else min)(ok, key=lambda l: l["objective"])
    said = [w for w in open(opts["--best"]) if w.startswith("best: trial ")]
    if not said or int(said[0].split()[2].rstrip(",")) != best["trial"]:
        sys.exit(f"{path}: the best trial is {best['trial']} ({best['objective']}), the run said {said}")
if "--some" in opts and not any(l["status"] == opts["--some"] for l in lines):
    sys.exit(f"{path}: no trial is {opts['--some']}")
ranks = {l["rank"] for l in lines}
if "--ranks" in opts and len(ranks) != int(opts["--ranks"]):
    sys.exit(f"{path}: trials from ranks {sorted(ranks)}")
print(f"tune log: {len(lines)} trials, statuses {sorted({l['status'] for l in lines})}, ranks {sorted(ranks)}")
