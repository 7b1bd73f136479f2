"""Minimal .npy reading and writing without numpy (the test machines' python
may lack it): float32/float64/int little-endian, C or Fortran order."""
import ast
import struct

_CODES = {"<f4": ("f", 4), "<f8": ("d", 8), "<i8": ("q", 8), "<i4": ("i", 4), "|i1": ("b", 1),
          "<i2": ("h", 2), "|u1": ("B", 1), "|b1": ("?", 1)}


def read(path):
    """Returns (shape, values as a flat row-major list of floats)."""
    data = open(path, "rb").read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    major = data[6]
    if major == 1:
        hlen = struct.unpack("<H", data[8:10])[0]
        start = 10
    else:
        hlen = struct.unpack("<I", data[8:12])[0]
        start = 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    code, size = _CODES[header["descr"]]
    shape = tuple(header["shape"])
    count = 1
    for s in shape:
        count *= s
    body = data[start + hlen:start + hlen + count * size]
    values = list(struct.unpack(f"<{count}{code}", body))
    if header.get("fortran_order") and len(shape) == 2:
        rows, cols = shape
        values = [values[c * rows + r] for r in range(rows) for c in range(cols)]
    return shape, [float(v) for v in values]


def write(path, shape, values, dtype="<f8"):
    code, _ = _CODES[dtype]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (
        dtype, "(%s)" % ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    header = header.encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
        f.write(struct.pack(f"<{len(values)}{code}", *values))
