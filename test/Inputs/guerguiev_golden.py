"""guerguiev_golden.py NET GOLDEN_DIR WORK_DIR [--spiking] [--net-args "ARGS"]

Runs the compiled examples/guerguiev.bdl (NET) from the reference code's
initial weights (GOLDEN_DIR/init_*, ../shared/golden/guerguiev-*/README.md)
at batch 1, in file order, and compares its weights after 1 and 10 training
examples (non-spiking) or after example 1 with the recorded spikes replayed
(--spiking) with the reference's, and the example-1 intermediates with
--trace. Golden files are float64 column vectors with pixels in column-major
order; bdl reads images row-major, so W_layer0's columns are permuted here.
Prints max |error| / max |value| per array; exits 1 above 1e-5."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy  # noqa: E402

TOLERANCE = 1e-5
net, golden, work = sys.argv[1], sys.argv[2], sys.argv[3]
spiking = "--spiking" in sys.argv
# --net-args "ARGS": appended to every `net train` (e.g. "--device cuda").
net_args = sys.argv[sys.argv.index("--net-args") + 1].split() if "--net-args" in sys.argv else []
os.makedirs(work, exist_ok=True)


def pixel(j):
    """Row-major index of the golden input's element j (column-major)."""
    return (j % 28) * 28 + j // 28


def to_bdl(name, shape, values):
    if name == "W_layer0":
        rows, cols = shape
        out = [0.0] * (rows * cols)
        for r in range(rows):
            for j in range(cols):
                out[r * cols + pixel(j)] = values[r * cols + j]
        return shape, out
    return shape, values


NAMES = {"W_layer0": "W0", "b_layer0": "b0", "W_layer1": "W1", "b_layer1": "b1", "Y_layer0": "Y"}
init = os.path.join(work, "init")
os.makedirs(init, exist_ok=True)
for g, b in NAMES.items():
    shape, values = npy.read(os.path.join(golden, f"init_{g}.npy"))
    shape, values = to_bdl(g, shape, values)
    npy.write(os.path.join(init, f"{b}.npy"), shape, values)

failures = []


def compare(label, expected, actual):
    if len(expected) != len(actual):
        failures.append(f"{label}: {len(actual)} values, expected {len(expected)}")
        print(f"{label}: size {len(actual)} != {len(expected)}")
        return
    scale = max(abs(v) for v in expected) or 1.0
    err = max(abs(a - e) for a, e in zip(actual, expected)) / scale
    print(f"{label:40s} rel.err {err:.3e}")
    if not err <= TOLERANCE:
        failures.append(f"{label}: {err:.3e}")


def run(examples, extra, out):
    cmd = [net, "train", "--set", "hidden=50", "--load", init, "--no-shuffle", "--limit",
           str(examples), "--batch", "1", "--epochs", "1", "--threads", "1", "--test-limit", "1",
           "--out", out, "--quiet"] + extra + net_args
    subprocess.run(cmd, check=True)


def check_weights(out, tag):
    for g, b in NAMES.items():
        shape, expected = to_bdl(g, *npy.read(os.path.join(golden, f"{tag}_{g}.npy")))
        _, actual = npy.read(os.path.join(out, "weights", f"{b}.npy"))
        compare(f"{tag} {g}", expected, actual)


def mean_rows(values, width, first, last):
    """Mean over trace rows [first, last) of a [T, width] trace."""
    n = last - first
    return [sum(values[t * width + c] for t in range(first, last)) / n for c in range(width)]


RECORDS = (("A_f", "layer0_average_A_f"), ("A_t", "layer0_average_A_t"),
           ("C0_f", "layer0_average_C_f"), ("psp_in_f", "layer0_average_PSP_B_f"),
           ("C1_f", "layer1_average_C_f"), ("psp0_f", "layer1_average_PSP_B_f"),
           ("lambda1_t", "layer1_average_lambda_C_t"), ("e0", "layer0_E"), ("e1", "layer1_E"))


def check_records(trace):
    """The phase averages and errors: the last trace row holds their final values."""
    for name, golden_name in RECORDS:
        shape, actual = npy.read(os.path.join(trace, f"{name}.npy"))
        width = shape[-1]
        actual = actual[-width:]
        _, expected = npy.read(os.path.join(golden, f"ex001_{golden_name}.npy"))
        if name == "psp_in_f":
            actual = [actual[pixel(j)] for j in range(784)]
        compare(f"ex001 {golden_name}", expected, actual)


RECORD_TRACE = ",".join(name for name, _ in RECORDS)

if not spiking:
    traced = "hid.A,hid.C,hid.lambda,out.C,out.lambda,inp.psp," + RECORD_TRACE
    out1 = os.path.join(work, "ns1")
    run(1, ["--set", "spiking=false", "--trace", traced], out1)
    check_weights(out1, "after001")
    trace = os.path.join(out1, "trace")
    check_records(trace)
    # Each phase is 2 steps; the records are the values at a phase's last step.
    t = {}
    for name in traced.split(","):
        shape, values = npy.read(os.path.join(trace, f"{name}.npy"))
        t[name] = (shape[-1], values)
    def at(name, row):
        width, values = t[name]
        return values[row * width:(row + 1) * width]
    g = lambda f: npy.read(os.path.join(golden, f"ex001_{f}.npy"))[1]
    compare("ex001 layer0 average_A_f", g("layer0_average_A_f"), at("hid.A", 1))
    compare("ex001 layer0 average_A_t", g("layer0_average_A_t"), at("hid.A", 3))
    compare("ex001 layer0 average_C_f", g("layer0_average_C_f"), at("hid.C", 1))
    compare("ex001 layer0 average_C_t", g("layer0_average_C_t"), at("hid.C", 3))
    compare("ex001 layer0 average_lambda_C_f", g("layer0_average_lambda_C_f"), at("hid.lambda", 1))
    compare("ex001 layer1 average_C_f", g("layer1_average_C_f"), at("out.C", 1))
    compare("ex001 layer1 average_C_t", g("layer1_average_C_t"), at("out.C", 3))
    compare("ex001 layer1 average_lambda_C_t", g("layer1_average_lambda_C_t"), at("out.lambda", 3))
    x = g("x_input")
    psp = at("inp.psp", 1)
    compare("ex001 x_input", [x[j] for j in sorted(range(784), key=pixel)],
            [psp[pixel(j)] for j in sorted(range(784), key=pixel)])
    out10 = os.path.join(work, "ns10")
    run(10, ["--set", "spiking=false"], out10)
    check_weights(out10, "after010")
else:
    # Replay the recorded spikes (time-major, one row per step) in place of draws.
    replay = os.path.join(work, "replay")
    os.makedirs(replay, exist_ok=True)
    for name, tensor in (("input_spikes", "inp.s"), ("hidden_spikes", "hid.s"),
                         ("output_spikes", "out.s")):
        shape, values = npy.read(os.path.join(golden, f"ex001_trace_{name}.npy"))
        if name == "input_spikes":
            steps, width = shape
            permuted = [0.0] * len(values)
            for s in range(steps):
                for j in range(width):
                    permuted[s * width + pixel(j)] = values[s * width + j]
            values = permuted
        npy.write(os.path.join(replay, f"{tensor}.npy"), shape, values, "<f4")
    traced = "hid.B,hid.A,hid.C,hid.lambda,out.B,out.I,out.C,out.lambda,out.psp,hid.psp," + \
        RECORD_TRACE
    out1 = os.path.join(work, "sp1")
    run(1, ["--set", "rand_phases=false", "--trace", traced] +
        sum((["--replay", f"{t}={os.path.join(replay, t + '.npy')}"]
             for t in ("inp.s", "hid.s", "out.s")), []), out1)
    trace = os.path.join(out1, "trace")
    for name, golden_name in (("hid.B", "hidden_B"), ("hid.A", "hidden_A"), ("hid.C", "hidden_C"),
                              ("hid.lambda", "hidden_lambda_C"), ("out.B", "output_B"),
                              ("out.I", "output_I"), ("out.C", "output_C"),
                              ("out.lambda", "output_lambda_C"), ("hid.psp", "output_PSP_B")):
        _, expected = npy.read(os.path.join(golden, f"ex001_trace_{golden_name}.npy"))
        shape, actual = npy.read(os.path.join(trace, f"{name}.npy"))
        # The trace also holds the steps of the blocks after the phases.
        compare(f"trace {golden_name}", expected, actual[:len(expected)])
    check_records(trace)
    check_weights(out1, "after001")

if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
print("golden: all arrays within %g" % TOLERANCE)
