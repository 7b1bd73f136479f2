"""check_fir.py TRACE_DIR S PSP MEM TAU_L TAU_S [--block NAME] [--tol T]

Checks that the traced PSP ([steps, n], time-major, `--trace`) is the finite
kappa history of the traced spikes S over block NAME (default: the first
block) of the first example:
  psp[t] = sum_{j=0..MEM-1} kappa(j + 1) s[t - j],
  kappa(u) = (exp(-u / tau_L) - exp(-u / tau_s)) / (tau_L - tau_s),
computed in double precision, with s[t] = 0 before the block (a fresh
history). Prints the number of spikes, the largest |psp| and the largest
error relative to it; exits 1 above T (default 1e-6)."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy  # noqa: E402

args = sys.argv[1:]
opts = {"--block": None, "--tol": "1e-6"}
for k in list(opts):
    if k in args:
        i = args.index(k)
        opts[k] = args[i + 1]
        del args[i:i + 2]
trace, s_name, psp_name, mem, tau_l, tau_s = args
mem, tau_l, tau_s = int(mem), float(tau_l), float(tau_s)
meta = json.load(open(os.path.join(trace, "trace.json")))
block = next(b for b in meta["blocks"] if opts["--block"] in (None, b["name"]))


def rows(name):
    shape, values = npy.read(os.path.join(trace, name + ".npy"))
    w = shape[1]
    first = block["first_step"]
    return [values[r * w:(r + 1) * w] for r in range(first, first + block["length"])]


def kappa(u):
    return (math.exp(-u / tau_l) - math.exp(-u / tau_s)) / (tau_l - tau_s)


s, psp = rows(s_name), rows(psp_name)
taps = [kappa(j + 1) for j in range(mem)]
worst, scale = 0.0, 0.0
for t in range(len(s)):
    for c in range(len(s[t])):
        want = sum(taps[j] * s[t - j][c] for j in range(mem) if t - j >= 0)
        scale = max(scale, abs(want))
        worst = max(worst, abs(psp[t][c] - want))
spikes = sum(sum(r) for r in s)
rel = worst / (scale or 1.0)
print(f"fir: {len(s)} steps, {spikes:g} spikes, max |psp| {scale:.6f}, max rel.err {rel:.3e}")
if spikes == 0 or not rel <= float(opts["--tol"]):
    print("FAILED")
    sys.exit(1)
print("fir: ok")
