//===- NpyTest.cpp - .npy files as NumPy writes and reads them ------------===//

#include "bdl/npy.h"
#include "ErrorMatch.h"
#include "TestUtil.h"

#include <cstring>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace bdl;
using namespace bdl::test;
using ::testing::HasSubstr;

TEST(Npy, RoundTrip) {
  TempDir dir;
  std::vector<float> values(15);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = float(i) * 0.25f - 1.0f;
  writeNpy(dir / "m.npy", values.data(), {3, 5});
  NpyArray a = readNpy(dir / "m.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(a.data, values);

  writeNpy(dir / "v.npy", values.data(), {7});
  NpyArray v = readNpy(dir / "v.npy");
  EXPECT_EQ(v.shape, (std::vector<int64_t>{7}));
  EXPECT_EQ(v.data, std::vector<float>(values.begin(), values.begin() + 7));
}

TEST(Npy, HeaderIsWhatNumpyExpects) {
  TempDir dir;
  std::vector<float> values(15, 1.5f);
  writeNpy(dir / "m.npy", values.data(), {3, 5});
  std::vector<uint8_t> bytes = readBytes(dir / "m.npy");
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], 1); // version 1.0
  EXPECT_EQ(bytes[7], 0);
  size_t headerLen = bytes[8] | size_t(bytes[9]) << 8;
  EXPECT_EQ((10 + headerLen) % 64, 0u);
  ASSERT_EQ(bytes.size(), 10 + headerLen + 15 * 4);
  std::string dict(bytes.begin() + 10, bytes.begin() + 10 + long(headerLen));
  EXPECT_EQ(dict.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }", 0), 0u);
  EXPECT_EQ(dict.back(), '\n');
  EXPECT_EQ(dict.find_first_not_of(' ', dict.find('}') + 1), dict.size() - 1);
  float first;
  std::memcpy(&first, bytes.data() + 10 + headerLen, 4);
  EXPECT_EQ(first, 1.5f);

  EXPECT_NE(npyHeader({7}).find("'shape': (7,), }"), std::string::npos);
  EXPECT_NE(npyHeader({}).find("'shape': (), }"), std::string::npos);
  for (auto shape : {std::vector<int64_t>{1}, {123456789, 5}, {2, 3, 4, 5, 6, 7, 8, 9}})
    EXPECT_EQ(npyHeader(shape).size() % 64, 0u);
}

TEST(Npy, ReadsWhatNumpyWrites) {
  // Version 2.0, double quotes, other key order, no trailing comma.
  TempDir dir;
  std::string dict = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}";
  dict.append((12 + dict.size() + 1 + 63) / 64 * 64 - 12 - dict.size() - 1, ' ');
  dict += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, uint8_t(dict.size()), 0, 0, 0};
  bytes.insert(bytes.end(), dict.begin(), dict.end());
  float values[2] = {3.0f, -4.0f};
  const auto *raw = reinterpret_cast<const uint8_t *>(values);
  bytes.insert(bytes.end(), raw, raw + 8);
  writeBytes(dir / "v2.npy", bytes);
  NpyArray a = readNpy(dir / "v2.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(a.data, (std::vector<float>{3.0f, -4.0f}));
}

TEST(Npy, Errors) {
  TempDir dir;
  std::vector<float> values(6, 0.0f);
  writeNpy(dir / "ok.npy", values.data(), {2, 3});
  std::vector<uint8_t> bytes = readBytes(dir / "ok.npy");

  std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 4);
  writeBytes(dir / "short.npy", truncated);
  EXPECT_THAT(errorOf([&] { readNpy(dir / "short.npy"); }),
              HasSubstr(dir / "short.npy" + ": truncated"));

  std::vector<uint8_t> i4 = bytes;
  std::string header(i4.begin(), i4.begin() + 64);
  size_t at = header.find("<f4");
  i4[at + 1] = 'i';
  writeBytes(dir / "i4.npy", i4);
  EXPECT_THAT(errorOf([&] { readNpy(dir / "i4.npy"); }),
              HasSubstr(dir / "i4.npy" + ": dtype '<i4' is not supported"));

  std::vector<uint8_t> fortran = bytes;
  at = header.find("False");
  std::memcpy(fortran.data() + at, "True ", 5);
  writeBytes(dir / "fortran.npy", fortran);
  EXPECT_THAT(errorOf([&] { readNpy(dir / "fortran.npy"); }), HasSubstr("Fortran-order"));

  writeBytes(dir / "text.npy", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  EXPECT_THAT(errorOf([&] { readNpy(dir / "text.npy"); }),
              HasSubstr(dir / "text.npy" + ": not a .npy file"));
}
