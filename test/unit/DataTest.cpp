//===- DataTest.cpp - IDX and CIFAR-10 readers, dataset lookup ------------===//

#include "bdl/data.h"
#include "ErrorMatch.h"
#include "TestUtil.h"
#include "bdl/error.h"

#include <cstdlib>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

namespace {

// Three 2x2 images and their labels.
const std::vector<uint8_t> kPixels = {0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 0, 0};
const std::vector<uint8_t> kLabels = {7, 0, 9};

class IdxTest : public ::testing::Test {
protected:
  TempDir dir;
  std::string images = dir / "images-idx3-ubyte", labels = dir / "labels-idx1-ubyte";
};

} // namespace

TEST_F(IdxTest, ReadsPlainFiles) {
  writeBytes(images, idxBytes({3, 2, 2}, kPixels));
  writeBytes(labels, idxBytes({3}, kLabels));
  Dataset d = readIdx(images, labels);
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.features, 4);
  EXPECT_EQ(d.classes, 10);
  EXPECT_EQ(d.labels, kLabels);
  EXPECT_FLOAT_EQ(d.image(0)[1], 1.0f);
  EXPECT_FLOAT_EQ(d.image(0)[2], 0.2f);
  EXPECT_FLOAT_EQ(d.image(2)[0], 1.0f);
  EXPECT_FLOAT_EQ(d.image(2)[3], 0.0f);
}

TEST_F(IdxTest, ReadsGzipFiles) {
  writeGz(images + ".gz", idxBytes({3, 2, 2}, kPixels));
  writeGz(labels + ".gz", idxBytes({3}, kLabels));
  Dataset d = readIdx(images + ".gz", labels + ".gz");
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.labels, kLabels);
  EXPECT_FLOAT_EQ(d.image(1)[3], 4.0f / 255.0f);
}

TEST_F(IdxTest, FindsPlainOrGzipName) {
  writeGz(images + ".gz", idxBytes({3, 2, 2}, kPixels));
  EXPECT_EQ(findDataFile(dir.str(), "images-idx3-ubyte", ""), images + ".gz");
  writeBytes(images, idxBytes({3, 2, 2}, kPixels));
  EXPECT_EQ(findDataFile(dir.str(), "images-idx3-ubyte", ""), images);
  std::string msg = errorOf([&] { findDataFile(dir.str(), "nothing", "run fetch.sh"); });
  EXPECT_THAT(msg, HasSubstr(dir / "nothing"));
  EXPECT_THAT(msg, HasSubstr("not found"));
  EXPECT_THAT(msg, HasSubstr("run fetch.sh"));
}

TEST_F(IdxTest, WrongMagic) {
  std::vector<uint8_t> bytes = idxBytes({3, 2, 2}, kPixels);
  bytes[2] = 0x0d; // float data
  writeBytes(images, bytes);
  writeBytes(labels, idxBytes({3}, kLabels));
  std::string msg = errorOf([&] { readIdx(images, labels); });
  EXPECT_THAT(msg, HasSubstr(images + ": wrong magic number 0x00000d03"));

  writeBytes(images, idxBytes({3, 2, 2}, kPixels));
  writeBytes(labels, idxBytes({3, 1}, kLabels)); // labels must be 1-D
  msg = errorOf([&] { readIdx(images, labels); });
  EXPECT_THAT(msg, HasSubstr(labels + ": wrong magic number 0x00000802"));
}

TEST_F(IdxTest, TruncatedData) {
  std::vector<uint8_t> bytes = idxBytes({3, 2, 2}, kPixels);
  bytes.resize(bytes.size() - 5);
  writeBytes(images, bytes);
  writeBytes(labels, idxBytes({3}, kLabels));
  std::string msg = errorOf([&] { readIdx(images, labels); });
  EXPECT_THAT(msg, HasSubstr(images + ": truncated"));
  EXPECT_THAT(msg, HasSubstr("12 bytes of data but the file holds 7"));
}

TEST_F(IdxTest, TruncatedHeader) {
  writeBytes(images, {0, 0, 8, 3, 0, 0});
  writeBytes(labels, idxBytes({3}, kLabels));
  EXPECT_THAT(errorOf([&] { readIdx(images, labels); }), HasSubstr(images + ": truncated"));
  writeBytes(images, {0, 0});
  EXPECT_THAT(errorOf([&] { readIdx(images, labels); }), HasSubstr(images + ": truncated"));
}

TEST_F(IdxTest, TrailingBytes) {
  std::vector<uint8_t> bytes = idxBytes({3, 2, 2}, kPixels);
  bytes.push_back(0);
  writeBytes(images, bytes);
  writeBytes(labels, idxBytes({3}, kLabels));
  EXPECT_THAT(errorOf([&] { readIdx(images, labels); }),
              HasSubstr(images + ": 1 unexpected bytes"));
}

TEST_F(IdxTest, CountMismatch) {
  writeBytes(images, idxBytes({3, 2, 2}, kPixels));
  writeBytes(labels, idxBytes({2}, {1, 2}));
  std::string msg = errorOf([&] { readIdx(images, labels); });
  EXPECT_THAT(msg, HasSubstr(images + " holds 3 images but " + labels + " holds 2 labels"));
}

TEST_F(IdxTest, LabelOutOfRange) {
  writeBytes(images, idxBytes({3, 2, 2}, kPixels));
  writeBytes(labels, idxBytes({3}, {1, 10, 2}));
  std::string msg = errorOf([&] { readIdx(images, labels); });
  EXPECT_THAT(msg, HasSubstr(labels + ": label 10 of example 1 is out of range [0, 10)"));
}

TEST_F(IdxTest, CorruptGzip) {
  // Big enough that the damage lands inside the deflate data.
  ImageSet set = bandImages(50, 784, 10, 3);
  std::vector<uint8_t> raw = idxBytes({50, 28, 28}, set.pixels);
  writeGz(images + ".gz", raw);
  writeBytes(labels, idxBytes({50}, set.labels));
  std::vector<uint8_t> gz = readBytes(images + ".gz");
  ASSERT_GT(gz.size(), 200u);

  std::vector<uint8_t> damaged = gz;
  for (size_t i = 100; i < 140; ++i)
    damaged[i] ^= 0x5a;
  writeBytes(images + ".gz", damaged);
  std::string msg = errorOf([&] { readIdx(images + ".gz", labels); });
  EXPECT_THAT(msg, HasSubstr(images + ".gz: corrupt gzip data"));

  damaged = gz;
  damaged[damaged.size() - 6] ^= 0xff; // the CRC-32 of the trailer
  writeBytes(images + ".gz", damaged);
  msg = errorOf([&] { readIdx(images + ".gz", labels); });
  EXPECT_THAT(msg, HasSubstr(images + ".gz: corrupt gzip data"));

  damaged.assign(gz.begin(), gz.begin() + gz.size() / 2);
  writeBytes(images + ".gz", damaged);
  msg = errorOf([&] { readIdx(images + ".gz", labels); });
  EXPECT_THAT(msg, HasSubstr(images + ".gz: corrupt gzip data: truncated"));

  writeBytes(images + ".gz", raw); // not compressed at all
  msg = errorOf([&] { readIdx(images + ".gz", labels); });
  EXPECT_THAT(msg, HasSubstr(images + ".gz: not in gzip format"));
}

TEST(Cifar, ReadsRecords) {
  TempDir dir;
  std::vector<uint8_t> bytes;
  for (uint8_t label : {3, 9}) {
    bytes.push_back(label);
    for (int i = 0; i < 3072; ++i)
      bytes.push_back(uint8_t((i + label) % 256));
  }
  writeBytes(dir / "a.bin", bytes);
  writeGz(dir / "b.bin.gz", bytes);
  Dataset d = readCifar10({dir / "a.bin", dir / "b.bin.gz"});
  ASSERT_EQ(d.size(), 4);
  EXPECT_EQ(d.features, 3072);
  EXPECT_EQ(d.classes, 10);
  EXPECT_EQ(d.labels, (std::vector<uint8_t>{3, 9, 3, 9}));
  EXPECT_FLOAT_EQ(d.image(1)[0], 9.0f / 255.0f);
  EXPECT_FLOAT_EQ(d.image(3)[1024], float((1024 + 9) % 256) / 255.0f);
}

TEST(Cifar, Errors) {
  TempDir dir;
  std::vector<uint8_t> record(3073, 0);
  record[0] = 2;
  std::vector<uint8_t> truncated(record.begin(), record.end() - 1);
  writeBytes(dir / "short.bin", truncated);
  EXPECT_THAT(errorOf([&] { readCifar10({dir / "short.bin"}); }),
              HasSubstr(dir / "short.bin" + ": truncated"));

  record[0] = 10;
  writeBytes(dir / "label.bin", record);
  EXPECT_THAT(errorOf([&] { readCifar10({dir / "label.bin"}); }),
              HasSubstr(dir / "label.bin" + ": record 0 has label 10"));

  writeBytes(dir / "empty.bin", {});
  EXPECT_THAT(errorOf([&] { readCifar10({dir / "empty.bin"}); }),
              HasSubstr(dir / "empty.bin" + ": empty"));
  EXPECT_THAT(errorOf([&] { readCifar10({dir / "absent.bin"}); }),
              HasSubstr(dir / "absent.bin" + ": cannot open"));
}

TEST(Datasets, LoadsMnistLayout) {
  TempDir dir;
  writeMnistLike(dir.str(), 30, 20, /*gz=*/true);
  TrainTest tt = loadDataset("mnist", dir.str());
  EXPECT_EQ(tt.train.size(), 30);
  EXPECT_EQ(tt.test.size(), 20);
  EXPECT_EQ(tt.train.features, 784);
  EXPECT_EQ(tt.train.name, "mnist train");
}

TEST(Datasets, LoadsCifarFromParentDirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir / "cifar-10-batches-bin");
  std::vector<uint8_t> record(3073, 7);
  record[0] = 1;
  for (const char *name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"})
    writeBytes(dir / "cifar-10-batches-bin" + "/" + name, record);
  TrainTest tt = loadDataset("cifar10", dir.str());
  EXPECT_EQ(tt.train.size(), 5);
  EXPECT_EQ(tt.test.size(), 1);
}

TEST(Datasets, MissingFilesSayHowToGetThem) {
  TempDir dir;
  std::string msg = errorOf([&] { loadDataset("mnist", dir / "nope"); });
  EXPECT_THAT(msg, HasSubstr("data directory '" + dir / "nope" + "' does not exist"));
  EXPECT_THAT(msg, HasSubstr("scripts/fetch_mnist.sh"));
  msg = errorOf([&] { loadDataset("mnist", dir.str()); });
  EXPECT_THAT(msg, HasSubstr(dir / "train-images-idx3-ubyte"));
  EXPECT_THAT(msg, HasSubstr("scripts/fetch_mnist.sh"));
  msg = errorOf([&] { loadDataset("fashion_mnist", dir / "nope"); });
  EXPECT_THAT(msg, HasSubstr("dataset-fashion-mnist"));
  msg = errorOf([&] { loadDataset("cifar10", dir.str()); });
  EXPECT_THAT(msg, HasSubstr(dir / "data_batch_1.bin"));
  EXPECT_THROW(loadDataset("imagenet", dir.str()), UsageError);
}

TEST(Datasets, DefaultDirectories) {
  const char *old = std::getenv("BDL_DATA_DIR");
  std::string saved = old ? old : "";
  unsetenv("BDL_DATA_DIR");
  EXPECT_EQ(defaultDataDir("fashion_mnist"), BDL_TEST_FASHION_MNIST_DIR);
  EXPECT_EQ(defaultDataDir("mnist"), std::string(BDL_TEST_DATA_DIR) + "/mnist");
  EXPECT_EQ(defaultDataDir("cifar10"), std::string(BDL_TEST_DATA_DIR) + "/cifar-10-batches-bin");
  setenv("BDL_DATA_DIR", "/data", 1);
  EXPECT_EQ(defaultDataDir("mnist"), "/data/mnist");
  EXPECT_EQ(defaultDataDir("cifar10"), "/data/cifar10");
  EXPECT_THROW(defaultDataDir("svhn"), UsageError);
  if (old)
    setenv("BDL_DATA_DIR", saved.c_str(), 1);
  else
    unsetenv("BDL_DATA_DIR");
}
