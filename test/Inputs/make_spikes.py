"""make_spikes.py OUT.npy STEPS WIDTH UNIT:STEP[,STEP...] ...

Writes a float32 [STEPS, WIDTH] spike train for `--replay`: one spike in
each listed step of each listed unit, zeros elsewhere."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npy  # noqa: E402

out, steps, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
values = [0.0] * (steps * width)
for spec in sys.argv[4:]:
    unit, times = spec.split(":")
    for t in times.split(","):
        values[int(t) * width + int(unit)] = 1.0
npy.write(out, (steps, width), values, "<f4")
