"""Asserts facts about a run's profile.csv (net train --profile).

    check_profile.py PROFILE.csv "BLOCK,PART,INDEX,KIND,NAME,CALLS" ...
The header is the documented one, the rows are slowest first, the shares
add up to 1, every row's mean is its seconds over its calls, and each
argument names a row by its first six fields. Exit status 1 with a message
naming the failed fact.
"""
import csv
import sys

HEADER = ["block", "part", "index", "kind", "name", "calls", "seconds", "mean_us", "share"]


def main():
    path, wanted = sys.argv[1], sys.argv[2:]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    failures = []
    if not rows or rows[0] != HEADER:
        failures.append(f"header is {rows[0] if rows else 'missing'}, not {HEADER}")
    body = rows[1:]
    seconds = [float(r[6]) for r in body]
    if seconds != sorted(seconds, reverse=True):
        failures.append("rows are not slowest first")
    total = sum(float(r[8]) for r in body)
    if abs(total - 1) > 0.005 * max(1, len(body) / 10):
        failures.append(f"shares add up to {total}, not 1")
    for r in body:
        calls, secs, mean = int(r[5]), float(r[6]), float(r[7])
        if calls < 1 or abs(mean - 1e6 * secs / calls) > 1e-3 * max(mean, 1e-3) + 1e-3:
            failures.append(f"row {r}: mean {mean} is not {1e6 * secs / calls} us")
    firsts = {",".join(r[:6]) for r in body}
    for w in wanted:
        if w not in firsts:
            failures.append(f"no row '{w}'; rows: " + "; ".join(sorted(firsts)))
    for f in failures:
        print(f"check_profile: {path}: {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
