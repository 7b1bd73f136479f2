//===- RngTest.cpp - Philox 4x32-10 ---------------------------------------===//

#include "bdl/rng.h"

#include <gtest/gtest.h>
#include <set>

using namespace bdl;

// Known-answer vectors of Random123 (kat_vectors, philox4x32 with 10 rounds).
TEST(Philox, KnownAnswers) {
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Philox, StreamLayout) {
  // key = seed, counter = (block index, stream id), both 64-bit little-endian.
  Philox rng(0x299f31d0a4093822ull, 0x0370734413198a2eull);
  EXPECT_EQ(rng.block(0x85a308d3243f6a88ull),
            (PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
  Philox zero(0, 0);
  EXPECT_EQ(zero.nextU32(), 0x6627e8d5u);
  EXPECT_EQ(zero.nextU32(), 0xe169c58du);
}

TEST(Philox, SameSeedSameStream) {
  Philox a(42, 7), b(42, 7);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.nextU32(), b.nextU32());
}

TEST(Philox, DifferentStreamsAndSeedsDiffer) {
  Philox a(42, 7), b(42, 8), c(43, 7);
  int sameB = 0, sameC = 0;
  for (int i = 0; i < 1000; ++i) {
    uint32_t x = a.nextU32();
    sameB += x == b.nextU32();
    sameC += x == c.nextU32();
  }
  EXPECT_LT(sameB, 3);
  EXPECT_LT(sameC, 3);
  EXPECT_NE(rng_stream::tensorInit(3), rng_stream::shuffle(3));
}

TEST(Philox, UniformInUnitInterval) {
  Philox rng(1, 2);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    float u = rng.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.01);
}

TEST(Philox, NormalMoments) {
  Philox rng(3, 4);
  const int n = 100000;
  double sum = 0, sumSq = 0;
  for (int i = 0; i < n; ++i) {
    double x = rng.normal();
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sumSq += x * x;
  }
  double mean = sum / n, var = sumSq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(var), 1.0, 0.02);
}

TEST(Philox, BelowIsInRangeAndCoversIt) {
  Philox rng(5, 6);
  std::set<uint32_t> seen;
  for (int i = 0; i < 10000; ++i) {
    uint32_t v = rng.below(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
}
