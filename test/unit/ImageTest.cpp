//===- ImageTest.cpp - bdl/image.h: patches, pooling and their adjoints ---===//
#include "bdl/image.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

BdlWindow window(int c, int h, int w, int k, int stride, int pad) {
  return {c, h, w, k, k, stride, pad};
}

std::vector<double> randomValues(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (double &x : v)
    x = u(rng);
  return v;
}

double dot(const std::vector<double> &a, const std::vector<double> &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += a[i] * b[i];
  return s;
}

TEST(Image, PatchesFollowTheKernelLayoutAndPadWithZeros) {
  // One 1-channel 3x3 image 1..9, a 2x2 window with padding 1, stride 2:
  // positions (0,0), (0,1), (1,0), (1,1) over the padded 5x5 image.
  BdlWindow w = window(1, 3, 3, 2, 2, 1);
  ASSERT_EQ(bdl::image::outHeight(w), 2);
  std::vector<float> img{1, 2, 3, 4, 5, 6, 7, 8, 9}, patches(4 * 4, -1);
  bdl::image::im2col(w, 0, 1, img.data(), patches.data());
  std::vector<float> want{0, 0, 0, 1, /**/ 0, 0, 2, 3, /**/ 0, 4, 0, 7, /**/ 5, 6, 8, 9};
  EXPECT_EQ(patches, want);
}

TEST(Image, ChannelsAreOuterInAPatchRow) {
  // A 1x2 image of 2 channels, channel-last: pixel p holds (10p, 10p + 1).
  // A 1x1 window's patch at p is (channel 0, channel 1).
  BdlWindow w = window(2, 1, 2, 1, 1, 0);
  std::vector<float> img{0, 1, 10, 11}, patches(2 * 2);
  bdl::image::im2col(w, 0, 1, img.data(), patches.data());
  EXPECT_EQ(patches, (std::vector<float>{0, 1, 10, 11}));
}

TEST(Image, Col2imIsTheAdjointOfIm2col) {
  // <im2col(x), p> = <x, col2im(p)> for random x and p, windows that overlap,
  // stride past the edge and padding.
  for (BdlWindow w :
       {window(3, 7, 6, 3, 1, 1), window(2, 9, 5, 4, 3, 2), window(1, 4, 4, 2, 2, 0)}) {
    int64_t batch = 2, positions = bdl::image::outHeight(w) * bdl::image::outWidth(w);
    size_t imageSize = size_t(batch * w.height * w.width * w.channels);
    size_t patchSize = size_t(batch * positions * w.channels * w.kernelH * w.kernelW);
    std::vector<double> x = randomValues(imageSize, 1), p = randomValues(patchSize, 2);
    std::vector<double> px(patchSize), xp(imageSize);
    bdl::image::im2col(w, 0, batch, x.data(), px.data());
    bdl::image::col2im(w, 0, batch, p.data(), xp.data());
    EXPECT_NEAR(dot(px, p), dot(x, xp), 1e-12);
  }
}

TEST(Image, MaxPoolTakesEachWindowsMaximumAndRoutesItsAdjointThere) {
  BdlWindow w = window(1, 4, 4, 2, 2, 0);
  std::vector<float> img{1, 2, 5, 0, /**/ 3, 4, 0, 0, /**/ 9, 0, 1, 1, /**/ 0, 0, 1, 7};
  std::vector<float> pooled(4);
  bdl::image::maxPool(w, 0, 1, img.data(), pooled.data());
  EXPECT_EQ(pooled, (std::vector<float>{4, 5, 9, 7}));
  std::vector<float> d{10, 20, 30, 40}, dImg(16, -1);
  bdl::image::maxPoolAdjoint(w, 0, 1, img.data(), d.data(), dImg.data());
  // Ties (the window of three ones) go to the first maximum in tap order.
  std::vector<float> want(16, 0);
  want[5] = 10, want[2] = 20, want[8] = 30, want[15] = 40;
  EXPECT_EQ(dImg, want);
}

TEST(Image, OverlappingPoolWindowsAddTheirAdjoints) {
  // A 3-wide window with stride 1 over 1x3: both positions' maximum is the middle.
  BdlWindow w = {1, 1, 4, 1, 3, 1, 0};
  std::vector<float> img{0, 5, 1, 2}, d{1, 2}, dImg(4);
  bdl::image::maxPoolAdjoint(w, 0, 1, img.data(), d.data(), dImg.data());
  EXPECT_EQ(dImg, (std::vector<float>{0, 3, 0, 0}));
}

TEST(Image, ASliceOfTheBatchWritesOnlyItsExamples) {
  BdlWindow w = window(1, 2, 2, 2, 1, 0);
  std::vector<float> img{1, 2, 3, 4, 5, 6, 7, 8}, pooled{-1, -1};
  bdl::image::maxPool(w, 1, 2, img.data(), pooled.data());
  EXPECT_EQ(pooled, (std::vector<float>{-1, 8}));
}

TEST(Image, ChannelFirstExamplesBecomeChannelLast) {
  std::vector<float> chw{1, 2, 3, /**/ 10, 20, 30}, hwc(6);
  bdl::image::toChannelLast(2, 3, chw.data(), hwc.data());
  EXPECT_EQ(hwc, (std::vector<float>{1, 10, 2, 20, 3, 30}));
}

} // namespace
