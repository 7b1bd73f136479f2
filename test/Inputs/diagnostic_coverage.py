"""Fails if a diagnostic flag of DiagnosticKinds.def has no lit test that
checks it with a file:line:col location."""
import os
import re
import sys

src_root = sys.argv[1]
kinds = open(os.path.join(src_root, "compiler", "support", "DiagnosticKinds.def")).read()
flags = sorted(set(re.findall(r'^DIAG\(\w+,\s*Error,\s*"([\w-]+)"', kinds, re.M)))
checked = set()
test_root = os.path.join(src_root, "test")
# A line of a CHECK (any prefix) with a line and column, e.g.
#   // CHECK: m.bdl:[[@LINE+1]]:11: error: ... [flag]
#   ; PARENS: parens.bdl:3:267: error: ... [flag]
number = r"(?:\d+|\[\[@LINE[+-]?\d*\]\]|\{\{\[0-9\]\+\}\})"
located = re.compile(r"^\s*(?://|;).*\w:.*:" + number + ":" + number + r": error: .*\[(?:\{\{)?([\w|-]+)")
for directory, _, files in os.walk(test_root):
    for name in files:
        if not name.endswith((".bdl", ".test")):
            continue
        for line in open(os.path.join(directory, name), errors="replace"):
            m = located.search(line)
            if m:
                checked.update(m.group(1).split("|"))
missing = [f for f in flags if f not in checked]
print(f"{len(flags)} diagnostic flags, {len(flags) - len(missing)} with a located test")
for f in missing:
    print(f"missing a located test: [{f}]")
sys.exit(1 if missing else 0)
