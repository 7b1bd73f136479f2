"""ir_roundtrip.py BDLC BDL_OPT MODEL...: the textual IR holds the whole module.

For each model, `bdlc --emit=ir --print-after-all` prints the IR after
lowering and after each pass. Every one of those texts must come back
byte-identical through `bdl-opt` (parse, verify, print); each pass run by
bdl-opt on the text before it must give exactly the text bdlc printed after
it; and `bdl-opt --print-after-all` over the whole pipeline must print what
bdlc printed. Prints one line per model; exits 1 at the first difference.
"""
import difflib
import os
import subprocess
import sys
import tempfile

HEADER = "; IR after "


def run(argv, stdin=None):
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{' '.join(argv)} exited with {result.returncode}:\n{result.stderr}")
    return result.stdout


def fail(message):
    print(f"ir_roundtrip: {message}", file=sys.stderr)
    sys.exit(1)


def same(what, want, got):
    if want != got:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "expected", "got"))
        fail(f"{what} differs:\n{diff}")


def sections(text):
    """[(pass, ir)] from --print-after-all output."""
    result = []
    for line in text.splitlines(True):
        if line.startswith(HEADER):
            result.append([line[len(HEADER):].strip(), ""])
        elif not result:
            fail(f"output does not start with '{HEADER}'")
        else:
            result[-1][1] += line
    return result


def main():
    bdlc, bdl_opt, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not models:
        fail("no models given")
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            name = os.path.basename(model)
            final_path = os.path.join(tmp, "final.bdlir")
            printed = run([bdlc, model, "--emit=ir", "--print-after-all", "-o", final_path])
            with open(final_path) as f:
                final = f.read()
            stages = sections(printed)
            if not stages or stages[0][0] != "lower":
                fail(f"{name}: bdlc printed no IR after lowering")
            for i, (stage, text) in enumerate(stages):
                path = os.path.join(tmp, f"{i}.bdlir")
                with open(path, "w") as f:
                    f.write(text)
                same(f"{name} after {stage}, parsed and printed", text, run([bdl_opt, path]))
                if i > 0:
                    before = os.path.join(tmp, f"{i - 1}.bdlir")
                    same(f"{name}: bdl-opt --pass={stage} on the IR after {stages[i - 1][0]}",
                         text, run([bdl_opt, before, f"--pass={stage}"]))
            same(f"{name}: bdlc's final IR, parsed and printed", final,
                 run([bdl_opt, final_path]))
            passes = ",".join(stage for stage, _ in stages[1:])
            whole = run([bdl_opt, os.path.join(tmp, "0.bdlir"), f"--pass={passes}",
                         "--print-after-all", "--verify-each", "-o", "-"])
            same(f"{name}: bdl-opt --pass={passes} --print-after-all",
                 printed[printed.index(HEADER, 1):] + final, whole)
            print(f"roundtrip ok: {name} ({len(stages)} stages)")


main()
