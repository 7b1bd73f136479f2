//===- data/Idx.cpp - The IDX format of MNIST and Fashion-MNIST -----------===//
//
// A big-endian header (magic 0x0000TTNN: type TT, NN dimensions, then NN
// 32-bit extents) followed by the values. Only unsigned bytes (type 0x08)
// occur in the datasets we read.
//
//===----------------------------------------------------------------------===//

#include "bdl/data.h"
#include "bdl/error.h"

#include <cstdio>

namespace bdl {

namespace {
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
  size_t offset = 0; // where the values start

  int64_t count() const { return dims[0]; }
  int64_t itemSize() const {
    int64_t n = 1;
    for (size_t i = 1; i < dims.size(); ++i)
      n *= dims[i];
    return n;
  }
};
} // namespace

static uint32_t bigEndian32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

static std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

/// Reads an IDX file of unsigned bytes with `minDims` to `maxDims`
/// dimensions; `kind` ("image", "label") words the error messages.
static IdxArray readIdxFile(const std::string &path, unsigned minDims, unsigned maxDims,
                            const char *kind) {
  IdxArray a;
  a.bytes = readFileBytes(path);
  const std::vector<uint8_t> &b = a.bytes;
  std::string expected = minDims == maxDims
                             ? hex32(0x800u | minDims)
                             : hex32(0x800u | minDims) + " to " + hex32(0x800u | maxDims);
  if (b.size() < 4)
    throw Error(path + ": truncated: " + std::to_string(b.size()) +
                " bytes, too short for an IDX header");
  uint32_t magic = bigEndian32(b.data());
  unsigned ndims = magic & 0xff;
  if ((magic >> 8) != 0x08 || ndims < minDims || ndims > maxDims)
    throw Error(path + ": wrong magic number " + hex32(magic) + " (expected " + expected +
                " for an IDX " + kind + " file of unsigned bytes)");
  size_t header = 4 + 4 * size_t(ndims);
  if (b.size() < header)
    throw Error(path + ": truncated: " + std::to_string(b.size()) + " bytes, but the header of " +
                std::to_string(ndims) + " dimensions needs " + std::to_string(header));
  uint64_t total = 1;
  std::string shape;
  for (unsigned i = 0; i < ndims; ++i) {
    int64_t d = bigEndian32(b.data() + 4 + 4 * i);
    if (d == 0)
      throw Error(path + ": dimension " + std::to_string(i) + " is 0: no " + kind + "s");
    a.dims.push_back(d);
    total *= uint64_t(d);
    shape += (i ? " x " : "") + std::to_string(d);
  }
  uint64_t have = b.size() - header;
  if (have < total)
    throw Error(path + ": truncated: the header declares " + shape + " = " + std::to_string(total) +
                " bytes of data but the file holds " + std::to_string(have));
  if (have > total)
    throw Error(path + ": " + std::to_string(have - total) + " unexpected bytes after the " +
                shape + " values the header declares");
  a.offset = header;
  return a;
}

Dataset readIdx(const std::string &imagesPath, const std::string &labelsPath, int32_t classes) {
  IdxArray images = readIdxFile(imagesPath, 2, 4, "image");
  IdxArray labels = readIdxFile(labelsPath, 1, 1, "label");
  if (images.count() != labels.count())
    throw Error(imagesPath + " holds " + std::to_string(images.count()) + " images but " +
                labelsPath + " holds " + std::to_string(labels.count()) + " labels");
  Dataset d;
  d.features = images.itemSize();
  d.classes = classes;
  d.labels.assign(labels.bytes.begin() + labels.offset, labels.bytes.end());
  for (size_t i = 0; i < d.labels.size(); ++i)
    if (d.labels[i] >= classes)
      throw Error(labelsPath + ": label " + std::to_string(d.labels[i]) + " of example " +
                  std::to_string(i) + " is out of range [0, " + std::to_string(classes) + ")");
  const uint8_t *pixels = images.bytes.data() + images.offset;
  size_t n = size_t(images.count()) * size_t(d.features);
  d.images.resize(n);
  for (size_t i = 0; i < n; ++i)
    d.images[i] = float(pixels[i]) * (1.0f / 255.0f);
  return d;
}

} // namespace bdl
