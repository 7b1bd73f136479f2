//===- data/Cifar.cpp - CIFAR-10 binary batches ---------------------------===//
//
// Each record is one label byte and 32x32x3 pixel bytes, channel-major
// (1024 red, 1024 green, 1024 blue). The format has no magic number, so the
// record size and label range are the only signs of a wrong file.
//
//===----------------------------------------------------------------------===//

#include "bdl/data.h"
#include "bdl/error.h"

namespace bdl {

static constexpr int64_t kCifarPixels = 3 * 32 * 32;
static constexpr int64_t kCifarRecord = 1 + kCifarPixels;
static constexpr int32_t kCifarClasses = 10;

Dataset readCifar10(const std::vector<std::string> &paths) {
  Dataset d;
  d.features = kCifarPixels;
  d.classes = kCifarClasses;
  for (const std::string &path : paths) {
    std::vector<uint8_t> bytes = readFileBytes(path);
    if (bytes.empty())
      throw Error(path + ": empty file");
    if (bytes.size() % kCifarRecord != 0)
      throw Error(
          path + ": truncated or not a CIFAR-10 binary batch: " + std::to_string(bytes.size()) +
          " bytes is not a whole number of " + std::to_string(kCifarRecord) + "-byte records");
    size_t records = bytes.size() / kCifarRecord;
    size_t first = d.labels.size();
    d.labels.resize(first + records);
    d.images.resize((first + records) * kCifarPixels);
    for (size_t r = 0; r < records; ++r) {
      const uint8_t *rec = bytes.data() + r * kCifarRecord;
      if (rec[0] >= kCifarClasses)
        throw Error(path + ": record " + std::to_string(r) + " has label " +
                    std::to_string(rec[0]) + ", outside [0, 10): not a CIFAR-10 binary batch?");
      d.labels[first + r] = rec[0];
      float *out = d.images.data() + (first + r) * kCifarPixels;
      for (int64_t i = 0; i < kCifarPixels; ++i)
        out[i] = float(rec[1 + i]) * (1.0f / 255.0f);
    }
  }
  return d;
}

} // namespace bdl
