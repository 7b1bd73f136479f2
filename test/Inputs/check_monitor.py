"""check_monitor.py CSV COLUMN [--all-below X] [--all-above X] [--falls]
[--rows N]: the column of a metrics.csv or monitors.csv, every row a
number, each below X / above X, the last row below the first (--falls), at
least N rows. Prints the column."""
import argparse
import csv
import sys

ap = argparse.ArgumentParser()
ap.add_argument("csv")
ap.add_argument("column")
ap.add_argument("--all-below", type=float)
ap.add_argument("--all-above", type=float)
ap.add_argument("--falls", action="store_true")
ap.add_argument("--rows", type=int, default=1)
a = ap.parse_args()
rows = list(csv.DictReader(open(a.csv)))
if a.column not in (rows[0] if rows else {}):
    sys.exit(f"{a.csv}: no column {a.column}")
values = [float(r[a.column]) for r in rows]
print(f"{a.column}: " + " ".join(f"{v:.4g}" for v in values))
if len(values) < a.rows:
    sys.exit(f"{len(values)} rows, expected at least {a.rows}")
if a.all_below is not None and max(values) >= a.all_below:
    sys.exit(f"{max(values)} is not below {a.all_below}")
if a.all_above is not None and min(values) <= a.all_above:
    sys.exit(f"{min(values)} is not above {a.all_above}")
if a.falls and not values[-1] < values[0]:
    sys.exit(f"does not fall: {values[0]} -> {values[-1]}")
