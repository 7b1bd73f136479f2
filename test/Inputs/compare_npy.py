"""compare_npy.py DIR_A DIR_B TOLERANCE: every .npy in DIR_A has a twin in
DIR_B of the same shape whose values differ by at most TOLERANCE
(relative to max(1, |a|)). Prints the largest difference."""
import os
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    header_len = struct.unpack("<H", data[8:10])[0]
    header, body = data[10:10 + header_len], data[10 + header_len:]
    return header, struct.unpack(f"<{len(body) // 4}f", body)


dir_a, dir_b, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
worst, where = 0.0, ""
for name in sorted(os.listdir(dir_a)):
    if not name.endswith(".npy"):
        continue
    header_a, a = read(os.path.join(dir_a, name))
    header_b, b = read(os.path.join(dir_b, name))
    if header_a != header_b:
        sys.exit(f"{name}: headers differ")
    for x, y in zip(a, b):
        d = abs(x - y) / max(1.0, abs(x))
        if d > worst:
            worst, where = d, name
print(f"largest difference {worst:.3g} in {where or '-'}")
sys.exit(1 if worst > tolerance else 0)
