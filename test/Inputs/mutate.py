"""Feeds bdlc deterministic mutations of the examples and fails on any run
that crashes, hangs, or exits 1 without a located error.

    mutate.py BDLC COUNT EXAMPLE...
Mutations: delete, duplicate or swap a token; insert a random token; cut the
file short; replace a character by a random byte. Every run must end with
exit code 0, or 1 with `file:line:col: error:` on stderr.
"""
import random
import re
import subprocess
import sys
import tempfile

bdlc, count, examples = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rng = random.Random(2026)
tokens_pool = ["(", ")", "[", "]", "{", "}", "@", "'", "^", "-", "+", "*", "/", "=", "-=", ",",
               "layer", "weight", "learn", "outer", "softmax", "x", "W1", "0", "1e9", "-1",
               "tune", "log", "\n", "/*", "//", "\x00", "é", "?"]
located = re.compile(rb"^.+:\d+:\d+: error: .*\[[\w-]+\]$", re.M)
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for i in range(count):
        source = open(rng.choice(examples), encoding="utf-8").read()
        tokens = re.findall(r"\w+|\S|\s+", source)
        kind = rng.randrange(6)
        j = rng.randrange(len(tokens))
        if kind == 0:
            del tokens[j]
        elif kind == 1:
            tokens.insert(j, tokens[j])
        elif kind == 2:
            k = rng.randrange(len(tokens))
            tokens[j], tokens[k] = tokens[k], tokens[j]
        elif kind == 3:
            tokens.insert(j, rng.choice(tokens_pool))
        elif kind == 4:
            tokens = tokens[:j]
        text = "".join(tokens).encode("utf-8")
        if kind == 5:
            b = bytearray(text)
            b[rng.randrange(len(b))] = rng.randrange(256)
            text = bytes(b)
        path = f"{tmp}/m{i}.bdl"
        open(path, "wb").write(text)
        try:
            run = subprocess.run([bdlc, path, "--emit=ir", "-o", f"{tmp}/out.ir"],
                                 capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            print(f"mutation {i} (kind {kind}) hung", file=sys.stderr)
            failures += 1
            continue
        ok = run.returncode == 0 or (run.returncode == 1 and located.search(run.stderr))
        if not ok:
            failures += 1
            kept = f"{tmp}/../bdl-mutation-{i}.bdl"
            open(kept, "wb").write(text)
            print(f"mutation {i} (kind {kind}): exit {run.returncode}, kept as {kept}\n"
                  f"{run.stderr.decode(errors='replace')[-2000:]}", file=sys.stderr)
print(f"{count} mutations, {failures} failures")
sys.exit(1 if failures else 0)
