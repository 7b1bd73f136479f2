#!/usr/bin/python3
"""examples/backprop_cnn.bdl in PyTorch: the peer for bench/run.sh with
MODEL=examples/backprop_cnn.bdl (TORCH_PEER=torch_cnn.py).

  conv 3x3 pad 1, 32 channels, no bias -> BatchNorm2d -> ReLU -> MaxPool 2
  conv 3x3 pad 1, 64 channels, no bias -> BatchNorm2d -> ReLU -> MaxPool 2
  Linear(64*7*7, 10), cross-entropy, Adam(lr)

the way a PyTorch user writes it (nn.Sequential, autograd, torch.optim.Adam),
pixels standardised as the model does. Prints and writes (with --out DIR)
DIR/summary.json with the keys the bdl binary writes: examples_per_second
(training loop only), train_seconds, test_accuracy.

  /usr/bin/python3 bench/torch_cnn.py --threads 2 --batch 64 [--epochs 1] [--out DIR]
"""
import argparse
import os
import sys
import time

ap = argparse.ArgumentParser(description="backprop_cnn on Fashion-MNIST in PyTorch")
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
ap.add_argument("--lr", type=float, default=0.001)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--out")
ap.add_argument("--quiet", action="store_true")
ARGS = ap.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as bench/torch_fa_mlp.py explains

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("torch_cnn: PyTorch not found for %s; run scripts/setup.sh --bench" % sys.executable)

from torch_data import load_split, write_summary  # noqa: E402


def main():
    a = ARGS
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    x_train, t_train = load_split(a.data, "train")
    x_test, t_test = load_split(a.data, "t10k")
    standardise = lambda x: ((x - 0.2860) / 0.3530).reshape(-1, 1, 28, 28)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = x_train.shape[0]
    gen = torch.Generator().manual_seed(a.seed + 1)
    train_seconds, examples = 0.0, 0
    for epoch in range(a.epochs):
        net.train()
        order = torch.randperm(n, generator=gen)
        t0 = time.perf_counter()
        for start in range(0, n, a.batch):
            idx = order[start:start + a.batch]
            xb, tb = standardise(x_train.index_select(0, idx)), t_train.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xb), tb).backward()
            opt.step()
            examples += idx.numel()
        train_seconds += time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        correct = sum((net(standardise(x_test[s:s + 1000])).argmax(1) == t_test[s:s + 1000]).sum().item()
                      for s in range(0, x_test.shape[0], 1000))
    summary = {"model": "backprop_cnn", "implementation": "pytorch", "torch_version": torch.__version__,
               "threads": torch.get_num_threads(), "batch": a.batch, "epochs": a.epochs,
               "examples": examples, "train_seconds": train_seconds,
               "examples_per_second": examples / train_seconds,
               "test_accuracy": correct / x_test.shape[0]}
    print(f"torch_cnn: batch {a.batch}, threads {summary['threads']}: "
          f"{summary['examples_per_second']:.0f} examples/s, test accuracy {summary['test_accuracy']:.4f}",
          flush=True)
    write_summary(a.out, summary)


if __name__ == "__main__":
    main()
