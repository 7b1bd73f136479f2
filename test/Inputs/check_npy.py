"""check_npy.py FILE DIM...: FILE is a float32 .npy array of that shape with
finite values, parsed the way numpy.lib.format does (no numpy needed)."""
import ast
import math
import struct
import sys

path, dims = sys.argv[1], tuple(int(d) for d in sys.argv[2:])
data = open(path, "rb").read()
assert data[:6] == b"\x93NUMPY", "bad magic"
major = data[6]
header_len = struct.unpack("<H" if major == 1 else "<I", data[8:10] if major == 1 else data[8:12])[0]
start = (10 if major == 1 else 12) + header_len
assert start % 64 == 0, f"header not padded to 64 bytes: {start}"
header = ast.literal_eval(data[(10 if major == 1 else 12):start].decode("latin1"))
assert header["descr"] == "<f4", header
assert header["fortran_order"] is False, header
assert tuple(header["shape"]) == dims, f"shape {header['shape']} != {dims}"
count = math.prod(dims)
assert len(data) - start == 4 * count, f"{len(data) - start} bytes of data for {count} floats"
values = struct.unpack(f"<{count}f", data[start:])
assert all(math.isfinite(v) for v in values), "non-finite values"
print(f"{path}: {dims} ok")
