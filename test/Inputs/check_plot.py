"""check_plot.py FILE [--text TEXT]... [--absent TEXT]... [--min-paths N] [--min-points N]
                    [--size WxH]

Checks a figure that `net plot` wrote, by its extension:
  .png  the 8-byte PNG signature and an IHDR chunk; prints "png WxH";
        --size WxH must match;
  .svg  well-formed XML whose root is <svg>; prints "svg: N paths, M points"
        (gnuplot draws each line as <path> and each point as <use>), and
        "text: TEXT" for each --text that some <text> element holds (titles,
        axis labels, legend entries); fails if one is missing or if there are
        fewer paths/points than --min-paths/--min-points, or if a <text>
        holds an --absent TEXT.
Exit 1 with a message on any failure."""
import argparse
import struct
import sys
import xml.etree.ElementTree as ET

p = argparse.ArgumentParser()
p.add_argument("file")
p.add_argument("--text", action="append", default=[])
p.add_argument("--absent", action="append", default=[])
p.add_argument("--min-paths", type=int, default=0)
p.add_argument("--min-points", type=int, default=0)
p.add_argument("--size")
a = p.parse_args()


def fail(message):
    print(f"check_plot: {a.file}: {message}", file=sys.stderr)
    sys.exit(1)


data = open(a.file, "rb").read()
if a.file.lower().endswith(".png"):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"not a PNG: starts with {data[:8]!r}")
    if data[12:16] != b"IHDR":
        fail("no IHDR chunk after the signature")
    width, height = struct.unpack(">II", data[16:24])
    print(f"png {width}x{height}")
    if a.size and a.size != f"{width}x{height}":
        fail(f"size {width}x{height}, expected {a.size}")
    sys.exit(0)

try:
    root = ET.fromstring(data)
except ET.ParseError as e:
    fail(f"not well-formed XML: {e}")
if not root.tag.endswith("svg"):
    fail(f"root element is <{root.tag}>, not <svg>")


def local(tag):
    return tag.rsplit("}", 1)[-1]


paths = sum(1 for e in root.iter() if local(e.tag) == "path")
points = sum(1 for e in root.iter() if local(e.tag) == "use")
texts = ["".join(e.itertext()) for e in root.iter() if local(e.tag) == "text"]
print(f"svg: {paths} paths, {points} points")
if paths < a.min_paths:
    fail(f"{paths} paths, expected at least {a.min_paths}")
if points < a.min_points:
    fail(f"{points} points, expected at least {a.min_points}")
for t in a.text:
    if not any(t in s for s in texts):
        fail(f"no <text> holds '{t}' (texts: {texts})")
    print(f"text: {t}")
for t in a.absent:
    if any(t in s for s in texts):
        fail(f"a <text> holds '{t}', which should be absent")
