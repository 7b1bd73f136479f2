"""Asserts facts about an experiment binary's summary.json.

    check_summary.py DIR --min test_accuracy=0.86 --equal epochs=5 --present train_seconds
Exit status 1 with a message naming the failed fact.
"""
import argparse
import json
import math
import os
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--min", action="append", default=[], help="KEY=VALUE: summary[KEY] >= VALUE")
    parser.add_argument("--equal", action="append", default=[], help="KEY=VALUE: summary[KEY] == VALUE")
    parser.add_argument("--present", action="append", default=[], help="KEY: present and finite")
    args = parser.parse_args()
    with open(os.path.join(args.out_dir, "summary.json")) as f:
        summary = json.load(f)
    failures = []
    for key in args.present:
        value = summary.get(key)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            failures.append(f"{key} missing or not finite: {value!r}")
    for spec in args.min:
        key, bound = spec.split("=")
        value = summary.get(key)
        if not isinstance(value, (int, float)) or value < float(bound):
            failures.append(f"{key} = {value!r}, expected >= {bound}")
    for spec in args.equal:
        key, expected = spec.split("=")
        if str(summary.get(key)) != expected:
            failures.append(f"{key} = {summary.get(key)!r}, expected {expected}")
    for failure in failures:
        print("check_summary: " + failure, file=sys.stderr)
    for key in ("test_accuracy", "train_seconds", "examples_per_second"):
        if key in summary:
            print(f"{key}: {summary[key]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
