"""Shared pieces of the Guerguiev et al. (2017) benchmark peers.

Constants of the segregated-dendrite network (design/ALGORITHMS.md §1.1),
the Fashion-MNIST reader, the weight-optimisation initialiser (§1.4), the
golden-data loader and the error report that `--check` prints. Both
ref_numpy.py and peer_torch.py import this, so the two cannot disagree on a
constant or on the data.
"""

import gzip
import json
import math
import os
import sys

import numpy as np

# ---- constants (ALGORITHMS.md §1.1) -------------------------------------
DT = 1.0
LAMBDA_MAX = 0.2 * DT
TAU_S, TAU_L = 3.0, 10.0
G_B = 0.6
G_A = 0.0
G_L = 1.0 / TAU_L
G_D = G_B
E_E, E_I = 8.0, -8.0
K_B = G_B / (G_L + G_B + G_A)
K_D = G_D / (G_L + G_D)
P_HIDDEN = 20.0 / LAMBDA_MAX
P_FINAL = 20.0 / (LAMBDA_MAX ** 2)
F_ETAS = (0.21, 0.21)

# Spiking mode: 50-step phases, averages over the last 20 steps, a 10-step
# spike history for the PSP kernel. Non-spiking mode: 2-step phases, the
# "average" is the last step, a 1-step history.
SP = dict(l_f=50, l_t=50, integration=20, mem=10)
NS = dict(l_f=2, l_t=2, integration=1, mem=1)


def kappa(s):
    return (np.exp(-s / TAU_L) - np.exp(-s / TAU_S)) / (TAU_L - TAU_S)


def kappas(mem):
    """(mem, 1): kappa(mem) first, kappa(1) last, so the newest column of a
    spike history (the last one) gets kappa(1)."""
    return np.array([kappa(mem - j) for j in range(mem)], dtype=np.float64)[:, None]


# ---- data ---------------------------------------------------------------
DATA_DIRS = ("/usr/share/datasets/fashion-mnist",)


def _idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(data_dir, stem):
    dirs = (data_dir,) if data_dir else DATA_DIRS
    for d in dirs:
        for name in (stem, stem + ".gz"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                return p
    sys.exit(f"cannot find {stem}(.gz) in {', '.join(dirs)} (Fashion-MNIST IDX files)")


def load_train(n, data_dir=None):
    """The first n training examples in file order, as the reference sees them:
    rates x = lambda_max * pixel / 255 with pixels column-major (element k is
    image[k % 28, k // 28]), shape (784, n) float64, and one-hot targets (10, n)."""
    images = _idx(_find(data_dir, "train-images-idx3-ubyte"))
    labels = _idx(_find(data_dir, "train-labels-idx1-ubyte"))
    if n > len(images):
        sys.exit(f"asked for {n} examples, the training set has {len(images)}")
    pix = images[:n].transpose(0, 2, 1).reshape(n, -1).T.astype(np.float64)
    x = LAMBDA_MAX * (pix / 255.0)
    t = np.zeros((10, n))
    t[labels[:n], np.arange(n)] = 1.0
    return x, t


# ---- initialisation (ALGORITHMS.md §1.4) ----------------------------------
def init_weights(n_in, hidden, n_out=10, seed=1234):
    """The reference's weight-optimisation initialiser for 784-hidden-10 with
    broadcast feedback. Not bit-identical to the reference's stream (that one
    is only needed for --check, which loads the golden init_* files instead)."""
    rng = np.random.RandomState(seed)
    v_avg, v_sd, b_avg, b_sd, nu = 3.0, 3.0, 0.8, 0.001, 0.25 * LAMBDA_MAX
    v_sm = v_sd ** 2 + v_avg ** 2

    def draw(shape, n):
        w_avg = (v_avg - b_avg) / (nu * n * v_avg)
        w_sm = (v_sm + nu ** 2 * (n - n ** 2) * w_avg ** 2 * v_avg ** 2
                - 2 * n * nu * b_avg * v_avg * w_avg - b_avg ** 2) / (n * nu ** 2 * v_sm)
        w_sd = math.sqrt(w_sm - w_avg ** 2)
        return w_avg + 3.465 * w_sd * rng.uniform(-1, 1, size=shape)

    # Top layer first, as the reference does.
    W1 = draw((n_out, hidden), hidden)
    b1 = b_avg + 3.465 * b_sd * rng.uniform(-1, 1, size=(n_out, 1))
    Y0 = draw((hidden, n_out), hidden)
    W0 = draw((hidden, n_in), n_in)
    b0 = b_avg + 3.465 * b_sd * rng.uniform(-1, 1, size=(hidden, 1))
    return dict(W0=W0, b0=b0, W1=W1, b1=b1, Y0=Y0)


# ---- golden data ----------------------------------------------------------
GOLDEN = os.environ.get(
    "GUERGUIEV_GOLDEN",
    os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "golden")))

WEIGHT_FILES = dict(W0="W_layer0", b0="b_layer0", W1="W_layer1", b1="b_layer1", Y0="Y_layer0")


def golden_dir(mode):
    d = os.path.join(GOLDEN, "guerguiev-" + mode)
    if not os.path.isdir(d):
        sys.exit(f"no golden data at {d} (set GUERGUIEV_GOLDEN to the folder holding guerguiev-ns/ and guerguiev-sp/)")
    return d


def load_weights(d, prefix):
    return {k: np.load(os.path.join(d, f"{prefix}_{v}.npy")) for k, v in WEIGHT_FILES.items()}


class Report:
    """Collects max |err| / max |value| per array and says whether all are
    under the tolerance."""

    def __init__(self, tol):
        self.tol, self.worst, self.rows = tol, 0.0, 0

    def compare(self, name, got, want):
        got = np.asarray(got, dtype=np.float64).reshape(np.shape(want))
        scale = float(np.max(np.abs(want))) or 1.0
        err = float(np.max(np.abs(got - want))) / scale
        self.worst = max(self.worst, err)
        self.rows += 1
        flag = "" if err <= self.tol else "   <-- above tolerance"
        print(f"  {name:32s} max|err|/max|value| = {err:.3e}{flag}")

    def finish(self):
        ok = self.worst <= self.tol
        print(f"check: {self.rows} arrays, worst {self.worst:.3e}, tolerance {self.tol:.0e}: "
              + ("PASS" if ok else "FAIL"))
        return 0 if ok else 1


def emit(result):
    print(json.dumps(result))
