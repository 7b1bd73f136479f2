#!/usr/bin/python3
"""Feedback-alignment MLP on Fashion-MNIST in PyTorch: the reference for bench/.

The same model as examples/fa_mlp.bdl, written with explicit tensor operations
under torch.no_grad() (a manual forward and backward pass, no autograd):

  forward    a1 = x W1^T + b1      h = tanh(a1)
             a2 = h W2^T + b2      y = softmax(a2)     loss = cross-entropy(y, t)
  backward   e2 = y - t                        (t one-hot)
             e1 = (e2 B^T) * tanh'(a1)         B: hidden x 10, fixed, uniform(-0.5, 0.5),
                                               used in place of W2^T
             dW2 = e2^T h / n    dW1 = e1^T x / n    db = batch means of e2, e1
  update     SGD with momentum: v = mu v + dW;  W -= lr v

Shapes: W1 hidden x 784, W2 10 x hidden. Pixels are scaled to [0, 1].

  /usr/bin/python3 bench/torch_fa_mlp.py --threads 2 --batch 32 [--epochs 1] [--out DIR]

It prints the training throughput (examples/s, training loop only: data
loading, initialisation and evaluation are not timed) and the test accuracy
after training. With --out DIR it also writes DIR/summary.json with the same
keys the compiled bdl binary writes (examples_per_second, train_seconds, ...),
so bench/run.sh reads both the same way.
"""
import argparse
import math
import os
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="FA MLP on Fashion-MNIST, manual PyTorch")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                    help="directory holding the four IDX files, .gz or plain (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--max-batches", type=int, default=0,
                    help="stop after this many mini-batches in all (0: full epochs)")
    ap.add_argument("--hidden", type=int, default=500)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--feedback-scale", type=float, default=0.5,
                    help="B ~ uniform(-s, s) (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-shuffle", action="store_true",
                    help="visit the training set in file order instead of a fresh permutation per epoch")
    ap.add_argument("--out", help="write OUT/summary.json")
    ap.add_argument("--quiet", action="store_true", help="print only the final summary line")
    return ap.parse_args(argv)


ARGS = parse_args()
# Thread counts must be set before torch starts its pools. Debian's torch does
# its matrix products in OpenBLAS (pthreads build), which reads its own variable.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
# With OpenMP's default (spin-then-sleep) idle policy, torch's OpenMP workers
# spin on the cores OpenBLAS's own threads need: on a 2-core machine that made
# 2 threads slower than 1, and up to 20x slower when anything else was running.
# PASSIVE avoids that; bench/run.sh sets the same for the bdl binary.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
except ImportError:
    sys.exit("torch_fa_mlp: PyTorch not found for %s; run scripts/setup.sh --bench" % sys.executable)

from torch_data import load_split, write_summary  # noqa: E402  (after the thread variables)


# Fashion-MNIST pixel mean and standard deviation, as in examples/fa_mlp.bdl.
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    say = (lambda *m: None) if a.quiet else (lambda *m: print(*m, flush=True))

    x_train, t_train = load_split(a.data, "train")
    x_test, t_test = load_split(a.data, "t10k")
    n_in, n_out, n_hid = x_train.shape[1], 10, a.hidden
    onehot_train = torch.nn.functional.one_hot(t_train, n_out).float()

    with torch.no_grad():
        # Glorot-uniform weights, zero biases, fixed random feedback matrix.
        def glorot(rows, cols):
            lim = math.sqrt(6.0 / (rows + cols))
            return torch.empty(rows, cols).uniform_(-lim, lim)
        W1, b1 = glorot(n_hid, n_in), torch.zeros(n_hid)
        W2, b2 = glorot(n_out, n_hid), torch.zeros(n_out)
        Bfb = torch.empty(n_hid, n_out).uniform_(-a.feedback_scale, a.feedback_scale)
        params = [W1, b1, W2, b2]
        vel = [torch.zeros_like(p) for p in params]
        vW1, vb1, vW2, vb2 = vel
        lr, mu = a.lr, a.momentum

        def standardise(x):
            # As the model's `layer xn = (x - 0.2860) / 0.3530`, once per batch.
            return x.sub(PIXEL_MEAN).div_(PIXEL_STD)

        def step(x, target):
            n = x.shape[0]
            x = standardise(x)
            a1 = torch.addmm(b1, x, W1.t())
            h = torch.tanh(a1)
            y = torch.softmax(torch.addmm(b2, h, W2.t()), dim=1)
            e2 = y.sub_(target)                                   # y - t
            e1 = torch.mm(e2, Bfb.t()).mul_(1.0 - h * h)          # (e2 B^T) * tanh'(a1)
            # v = mu v + grad, with the 1/n of the batch mean folded into alpha
            vW2.mul_(mu).addmm_(e2.t(), h, alpha=1.0 / n)
            vW1.mul_(mu).addmm_(e1.t(), x, alpha=1.0 / n)
            vb2.mul_(mu).add_(e2.mean(0))
            vb1.mul_(mu).add_(e1.mean(0))
            for p, v in zip(params, vel):
                p.sub_(v, alpha=lr)

        def accuracy(x, t):
            h = torch.tanh(torch.addmm(b1, standardise(x), W1.t()))
            return (torch.addmm(b2, h, W2.t()).argmax(1) == t).float().mean().item()

        def loss(x, t):
            h = torch.tanh(torch.addmm(b1, standardise(x), W1.t()))
            logp = torch.log_softmax(torch.addmm(b2, h, W2.t()), dim=1)
            return -logp.gather(1, t[:, None]).mean().item()

        n_train, bs = x_train.shape[0], a.batch
        gen = torch.Generator().manual_seed(a.seed + 1)
        say(f"torch_fa_mlp: torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
            f"{n_in}-{n_hid}-{n_out}, batch {bs}, lr {lr}, momentum {mu}, {n_train} training examples")
        examples = batches = 0
        train_seconds = 0.0
        done = False
        for epoch in range(a.epochs):
            order = None if a.no_shuffle else torch.randperm(n_train, generator=gen)
            t0 = time.perf_counter()
            for start in range(0, n_train, bs):
                if order is None:
                    xb, tb = x_train[start:start + bs], onehot_train[start:start + bs]
                else:
                    idx = order[start:start + bs]
                    xb, tb = x_train.index_select(0, idx), onehot_train.index_select(0, idx)
                step(xb, tb)
                examples += xb.shape[0]
                batches += 1
                if a.max_batches and batches >= a.max_batches:
                    done = True
                    break
            train_seconds += time.perf_counter() - t0
            say(f"epoch {epoch + 1}: train loss {loss(x_train, t_train):.4f}, "
                f"test accuracy {accuracy(x_test, t_test):.4f}")
            if done:
                break

        summary = {
            "model": "fa_mlp",
            "implementation": "pytorch",
            "torch_version": torch.__version__,
            "threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            "batch": bs,
            "hidden": n_hid,
            "epochs": a.epochs,
            "batches": batches,
            "examples": examples,
            "train_seconds": train_seconds,
            "examples_per_second": examples / train_seconds if train_seconds > 0 else 0.0,
            "test_accuracy": accuracy(x_test, t_test),
        }
    print(f"torch_fa_mlp: batch {bs}, threads {summary['threads']}: "
          f"{summary['examples_per_second']:.0f} examples/s ({examples} examples in {train_seconds:.3f} s), "
          f"test accuracy {summary['test_accuracy']:.4f}", flush=True)
    write_summary(a.out, summary)


if __name__ == "__main__":
    main()
