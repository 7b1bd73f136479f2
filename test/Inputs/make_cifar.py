"""Writes a small learnable data set in CIFAR-10's binary format.

    make_cifar.py DIR [--train N] [--test N] [--seed S]

DIR gets data_batch_1..5.bin (N/5 records each) and test_batch.bin. A record
is a label byte and 3072 pixel bytes, channel-first (1024 red, 1024 green,
1024 blue), as in the real files. Class k lights a square of channel k % 3
in quadrant k // 3 (of four) over noise, so that telling the classes apart
needs both the channel and the place: a network that mixed up channels and
pixels would not learn it as fast.
"""
import argparse
import os
import random


def record(rng, label):
    pixels = bytearray(rng.randrange(0, 90) for _ in range(3072))
    channel, quadrant = label % 3, label // 3
    y0, x0 = 16 * (quadrant // 2) + 4, 16 * (quadrant % 2) + 4
    for y in range(y0, y0 + 8):
        for x in range(x0, x0 + 8):
            pixels[channel * 1024 + y * 32 + x] = 160 + rng.randrange(0, 90)
    return bytes([label]) + bytes(pixels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    per = args.train // 5
    for i in range(1, 6):
        with open(os.path.join(args.dir, f"data_batch_{i}.bin"), "wb") as f:
            f.write(b"".join(record(rng, rng.randrange(10)) for _ in range(per)))
    with open(os.path.join(args.dir, "test_batch.bin"), "wb") as f:
        f.write(b"".join(record(rng, rng.randrange(10)) for _ in range(args.test)))


if __name__ == "__main__":
    main()
