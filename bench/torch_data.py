"""Fashion-MNIST for the PyTorch peers of bench/: the IDX files (gzipped or
not) as float tensors in [0, 1] and integer labels. Import it after setting
the thread variables, as it imports torch."""
import gzip
import json
import math
import os
import sys

import torch


def read_idx(directory, stem):
    for name, opener in ((stem + ".gz", gzip.open), (stem, open)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with opener(path, "rb") as f:
                raw = bytearray(f.read())  # writable, so torch.frombuffer doesn't warn
            break
    else:
        sys.exit(f"torch_data: no {stem}.gz or {stem} in {directory}")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"torch_data: {path}: not a uint8 IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = torch.frombuffer(raw, dtype=torch.uint8, offset=4 + 4 * ndim)
    if data.numel() != math.prod(dims):
        sys.exit(f"torch_data: {path}: size does not match dims {dims}")
    return data.reshape(dims)


def load_split(directory, prefix):
    """(x [n, 784] float in [0, 1], labels [n] long) of train or t10k."""
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte").long()
    x = images.reshape(images.shape[0], -1).float().div_(255.0).contiguous()
    return x, labels


def write_summary(out, summary):
    """OUT/summary.json, with the keys the bdl binary writes (bench/run.sh reads both)."""
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")
