"""same_bytes.py DIR_A DIR_B: every .npy in DIR_A has a twin in DIR_B with
the same bytes. Prints the files compared, or the first that differ."""
import os
import sys

dir_a, dir_b = sys.argv[1], sys.argv[2]
names = sorted(n for n in os.listdir(dir_a) if n.endswith(".npy"))
if not names:
    sys.exit(f"no .npy files in {dir_a}")
for name in names:
    a = open(os.path.join(dir_a, name), "rb").read()
    b = open(os.path.join(dir_b, name), "rb").read()
    if a != b:
        sys.exit(f"{name} differs")
print(f"same bytes: {' '.join(names)}")
