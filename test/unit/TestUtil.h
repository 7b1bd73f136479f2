//===- TestUtil.h - Temporary directories and generated data files --------===//
#ifndef BDL_TEST_TESTUTIL_H
#define BDL_TEST_TESTUTIL_H

#include "bdl/data.h"
#include "bdl/rng.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>
#include <zlib.h>

namespace bdl::test {

/// A fresh directory named after the running test, removed afterwards.
class TempDir {
public:
  TempDir() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = std::filesystem::temp_directory_path() / ("bdlrt-" + std::to_string(getpid()) + "-" +
                                                     info->test_suite_name() + "-" + info->name());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string &name) const { return (path / name).string(); }
  std::string str() const { return path.string(); }

  std::filesystem::path path;
};

inline void writeBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
}

inline std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeGz(const std::string &path, const std::vector<uint8_t> &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  if (!bytes.empty())
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

/// An IDX file of unsigned bytes: magic 0x000008NN, big-endian extents.
inline std::vector<uint8_t> idxBytes(const std::vector<uint32_t> &dims,
                                     const std::vector<uint8_t> &values) {
  std::vector<uint8_t> b = {0, 0, 8, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0})
      b.push_back(uint8_t(d >> shift));
  b.insert(b.end(), values.begin(), values.end());
  return b;
}

/// A learnable image dataset: class k lights up its own band of pixels.
struct ImageSet {
  std::vector<uint8_t> pixels, labels;
};
inline ImageSet bandImages(int count, int features, int classes, uint64_t seed) {
  ImageSet s;
  Philox rng(seed, 99);
  int band = features / classes;
  for (int i = 0; i < count; ++i) {
    int label = int(rng.below(uint32_t(classes)));
    s.labels.push_back(uint8_t(label));
    for (int p = 0; p < features; ++p) {
      int v = int(rng.below(60));
      if (p / band == label)
        v += 180;
      s.pixels.push_back(uint8_t(v));
    }
  }
  return s;
}

/// Writes the four MNIST-style IDX files (28x28 images, 10 classes).
inline void writeMnistLike(const std::string &dir, int trainCount, int testCount, bool gz) {
  auto write = [&](const std::string &name, const std::vector<uint8_t> &bytes) {
    if (gz)
      writeGz(dir + "/" + name + ".gz", bytes);
    else
      writeBytes(dir + "/" + name, bytes);
  };
  ImageSet train = bandImages(trainCount, 784, 10, 1), test = bandImages(testCount, 784, 10, 2);
  write("train-images-idx3-ubyte", idxBytes({uint32_t(trainCount), 28, 28}, train.pixels));
  write("train-labels-idx1-ubyte", idxBytes({uint32_t(trainCount)}, train.labels));
  write("t10k-images-idx3-ubyte", idxBytes({uint32_t(testCount), 28, 28}, test.pixels));
  write("t10k-labels-idx1-ubyte", idxBytes({uint32_t(testCount)}, test.labels));
}

} // namespace bdl::test

#endif // BDL_TEST_TESTUTIL_H
