#!/usr/bin/env python3
"""The table of bench/guerguiev/run.sh: medians over the repeats of each
peer's µs per training example, and the ratios between them.

    report.py RUNS.jsonl OUT.jsonl [LOAD]
    report.py --markdown OUT.jsonl          # the table of OUT as markdown (for README.md)

RUNS holds one JSON line per run (impl, mode, batch, threads, us_per_example,
repeat); OUT gets one line per table row and one per limit measurement.
"""

import json
import statistics
import sys

CELLS = [("ns", 1, 1), ("ns", 32, 2), ("sp", 1, 1), ("sp", 32, 2)]
NAMES = {"ns": "non-spiking", "sp": "spiking"}


def markdown(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]

    def f(v, fmt):
        return "–" if v is None else fmt.format(v)

    print("| mode | batch | threads | numpy | torch | bdl | sgemm limit | numpy/bdl | torch/bdl | bdl share of limit "
          "| numpy/torch | torch share of limit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] != "cell":
            continue
        print(f"| {NAMES[r['mode']]} | {r['batch']} | {r['threads']} | {f(r['numpy_us'], '{:,.0f}')} "
              f"| {f(r['torch_us'], '{:,.1f}')} | {f(r['bdl_us'], '{:,.1f}')} | {f(r['sgemm_limit_us'], '{:,.1f}')} "
              f"| {f(r['numpy_over_bdl'], '{:.1f}×')} | {f(r['torch_over_bdl'], '{:.2f}×')} "
              f"| {f(r['bdl_share_of_limit'] and 100 * r['bdl_share_of_limit'], '{:.0f}%')} "
              f"| {f(r['numpy_over_torch'], '{:.1f}×')} "
              f"| {f(r['torch_share_of_limit'] and 100 * r['torch_share_of_limit'], '{:.0f}%')} |")
    print()
    print("Fastest run of each (µs per example):")
    print()
    print("| mode | batch | threads | numpy | torch | bdl | sgemm limit |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] == "cell":
            print(f"| {NAMES[r['mode']]} | {r['batch']} | {r['threads']} | {f(r['numpy_us_fastest'], '{:,.0f}')} "
                  f"| {f(r['torch_us_fastest'], '{:,.1f}')} | {f(r['bdl_us_fastest'], '{:,.1f}')} "
                  f"| {f(r['sgemm_limit_us_fastest'], '{:,.1f}')} |")


def main():
    if sys.argv[1] == "--markdown":
        return markdown(sys.argv[2])
    runs_path, out_path = sys.argv[1], sys.argv[2]
    load = sys.argv[3] if len(sys.argv) > 3 else ""
    runs = [json.loads(line) for line in open(runs_path) if line.strip()]
    groups = {}
    for r in runs:
        groups.setdefault((r["impl"], r["mode"], r["batch"], r["threads"]), []).append(r["us_per_example"])
    med = {k: statistics.median(v) for k, v in groups.items()}
    low = {k: min(v) for k, v in groups.items()}
    n_rep = {k: len(v) for k, v in groups.items()}
    hidden = next((r["hidden"] for r in runs if r["impl"] == "torch"), None)

    def ratio(a, b):
        return a / b if a is not None and b else None

    rows = []
    for mode, b, t in CELLS:
        numpy = med.get(("numpy-ref", mode, 1, 1))  # the reference runs one example at a time
        torch = med.get(("torch", mode, b, t))
        bdl = med.get(("bdl", mode, b, t))
        limit = med.get(("sgemm-limit", "ns", b, t)) if mode == "ns" else None
        fastest = {f"{name}_us_fastest": low.get(key) for name, key in (
            ("numpy", ("numpy-ref", mode, 1, 1)), ("torch", ("torch", mode, b, t)), ("bdl", ("bdl", mode, b, t)),
            ("sgemm_limit", ("sgemm-limit", mode, b, t)))}
        rows.append(dict(kind="cell", mode=mode, batch=b, threads=t, hidden=hidden,
                         numpy_us=numpy, torch_us=torch, bdl_us=bdl, sgemm_limit_us=limit, **fastest,
                         numpy_over_bdl=ratio(numpy, bdl), torch_over_bdl=ratio(torch, bdl),
                         bdl_share_of_limit=ratio(limit, bdl), numpy_over_torch=ratio(numpy, torch),
                         torch_share_of_limit=ratio(limit, torch),
                         repeats=max(n_rep.get((i, mode, bb, tt), 0) for i, bb, tt in
                                     (("numpy-ref", 1, 1), ("torch", b, t), ("bdl", b, t))),
                         load_average=load))
    limits = [dict(kind="limit", mode="ns", batch=k[2], threads=k[3], hidden=hidden, sgemm_limit_us=v,
                   repeats=n_rep[k]) for k, v in sorted(med.items()) if k[0] == "sgemm-limit"]
    with open(out_path, "w") as f:
        for row in rows + limits:
            f.write(json.dumps(row) + "\n")

    def us(v):
        return "-" if v is None else f"{v:,.1f}"

    def x(v):
        return "-" if v is None else f"{v:,.1f}x"

    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}%"

    print()
    print(f"Guerguiev 784-{hidden}-10, Fashion-MNIST, us per training example (median of the repeats; "
          f"numpy: the reference style, batch 1 on 1 thread, in every row)")
    head = ("mode", "batch", "thr", "numpy", "torch", "bdl", "sgemm limit", "numpy/bdl", "torch/bdl",
            "bdl % limit", "numpy/torch", "torch % limit")
    fmt = "{:<12} {:>5} {:>3} {:>10} {:>10} {:>10} {:>11} {:>10} {:>10} {:>11} {:>11} {:>13}"
    print(fmt.format(*head))
    for r in rows:
        print(fmt.format(NAMES[r["mode"]], r["batch"], r["threads"], us(r["numpy_us"]), us(r["torch_us"]),
                         us(r["bdl_us"]), us(r["sgemm_limit_us"]), x(r["numpy_over_bdl"]), x(r["torch_over_bdl"]),
                         pct(r["bdl_share_of_limit"]), x(r["numpy_over_torch"]), pct(r["torch_share_of_limit"])))
    print("fastest run of each (the least disturbed by other processes):")
    for r in rows:
        print(fmt.format(NAMES[r["mode"]], r["batch"], r["threads"], us(r["numpy_us_fastest"]),
                         us(r["torch_us_fastest"]), us(r["bdl_us_fastest"]), us(r["sgemm_limit_us_fastest"]),
                         "", "", "", "", "").rstrip())
    for lim in limits:
        print(f"sgemm limit, non-spiking batch {lim['batch']}, {lim['threads']} thread(s): "
              f"{lim['sgemm_limit_us']:.2f} us/example")
    if load:
        print(f"load average at the end: {load}")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
