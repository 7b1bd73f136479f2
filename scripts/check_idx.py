#!/usr/bin/env python3
"""Validate IDX files (MNIST layout) and print a summary. Standard library only.

  check_idx.py DIR                 # the four standard files in DIR (.gz or plain)
  check_idx.py FILE [FILE ...]     # individual IDX files, gzip'd or plain
  options:
    --show N           render the first N images of each image file as ASCII
    --expect-train N   require N training images/labels (DIR mode)
    --expect-test N    require N test images/labels (DIR mode)
    --classes K        labels must lie in 0..K-1 (default 10)
    -q, --quiet        print only errors

Checks: magic number (0x00000803 for uint8 images with 3 dims, 0x00000801 for
uint8 labels with 1 dim), that the file size equals header + product of dims,
that images are 28x28 (warns otherwise), that labels lie in range, and in DIR
mode that each images file has the same count as its labels file.
Exit status 0 when everything is valid, 1 otherwise.
"""
import argparse
import gzip
import os
import signal
import struct
import sys

SETS = (("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
UBYTE = 0x08
SHADES = " .:-=+*#%@"  # 10 levels, dark to bright


class IdxError(Exception):
    pass


def read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IdxError(f"{path}: bad gzip data: {e}")
    return raw


def parse_idx(path):
    """Returns (dims, payload). Raises IdxError on any structural problem."""
    raw = read_bytes(path)
    if len(raw) < 4:
        raise IdxError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise IdxError(f"{path}: bad magic 0x{raw[:4].hex()} (first two bytes must be zero)")
    if dtype != UBYTE:
        raise IdxError(f"{path}: element type 0x{dtype:02x}, expected 0x08 (uint8)")
    if ndim not in (1, 3):
        raise IdxError(f"{path}: {ndim} dimensions, expected 1 (labels) or 3 (images)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = 1
    for d in dims:
        expected *= d
    if len(raw) - header != expected:
        raise IdxError(f"{path}: payload is {len(raw) - header} bytes, dims {dims} need {expected}")
    return dims, raw[header:]


def ascii_image(pixels, rows, cols):
    lines = []
    for r in range(rows):
        row = pixels[r * cols:(r + 1) * cols]
        lines.append("".join(SHADES[v * len(SHADES) // 256] * 2 for v in row))
    return lines


def check_images(path, show, quiet, labels=None):
    dims, data = parse_idx(path)
    if len(dims) != 3:
        raise IdxError(f"{path}: images file has {len(dims)} dimension(s), expected 3 (magic 0x00000803)")
    n, rows, cols = dims
    if (rows, cols) != (28, 28) and not quiet:
        print(f"warning: {path}: images are {rows}x{cols}, not 28x28")
    if not quiet:
        mean = sum(data) / len(data) if data else 0.0
        nonzero = (len(data) - data.count(0)) / len(data) if data else 0.0
        print(f"{path}: {n} images {rows}x{cols}, pixels {min(data, default=0)}..{max(data, default=0)}, "
              f"mean {mean:.1f}, nonzero {nonzero:.1%}")
    for i in range(min(show, n)):
        size = rows * cols
        tag = f" label {labels[i]}" if labels is not None and i < len(labels) else ""
        print(f"-- image {i}{tag}")
        print("\n".join(ascii_image(data[i * size:(i + 1) * size], rows, cols)))
    return n


def check_labels(path, classes, quiet):
    dims, data = parse_idx(path)
    if len(dims) != 1:
        raise IdxError(f"{path}: labels file has {len(dims)} dimensions, expected 1 (magic 0x00000801)")
    counts = [data.count(c) for c in range(classes)]
    if sum(counts) != len(data):
        first = next(i for i, v in enumerate(data) if v >= classes)
        raise IdxError(f"{path}: {len(data) - sum(counts)} label(s) outside 0..{classes - 1}, "
                       f"first at index {first} = {data[first]}")
    if not quiet:
        print(f"{path}: {dims[0]} labels, per class: " + " ".join(f"{c}:{k}" for c, k in enumerate(counts)))
    return data


def find(directory, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    raise IdxError(f"{directory}: no {stem}.gz or {stem}")


def check_dir(directory, args):
    for split, img_stem, lbl_stem in SETS:
        labels = check_labels(find(directory, lbl_stem), args.classes, args.quiet)
        n = check_images(find(directory, img_stem), args.show, args.quiet, labels)
        if n != len(labels):
            raise IdxError(f"{directory}: {split} has {n} images but {len(labels)} labels")
        want = args.expect_train if split == "train" else args.expect_test
        if want is not None and n != want:
            raise IdxError(f"{directory}: {split} has {n} examples, expected {want}")


def check_file(path, args):
    dims, _ = parse_idx(path)
    if len(dims) == 3:
        check_images(path, args.show, args.quiet)
    else:
        check_labels(path, args.classes, args.quiet)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", metavar="PATH")
    ap.add_argument("--show", type=int, default=0, metavar="N")
    ap.add_argument("--expect-train", type=int, metavar="N")
    ap.add_argument("--expect-test", type=int, metavar="N")
    ap.add_argument("--classes", type=int, default=10, metavar="K")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    ok = True
    for p in args.paths:
        try:
            if os.path.isdir(p):
                check_dir(p, args)
            elif os.path.isfile(p):
                check_file(p, args)
            else:
                raise IdxError(f"{p}: no such file or directory")
        except IdxError as e:
            print(f"error: {e}", file=sys.stderr)
            ok = False
    if ok and not args.quiet:
        print("ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
