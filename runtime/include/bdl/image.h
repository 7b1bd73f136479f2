//===- bdl/image.h - Images, their patches and their pooled values -*- C++ -*-===//
//
// The one definition of each BdlImageKind, for any element type: the CPU
// executor runs it on floats, the IR interpreter (bdlc --check-gradients) on
// doubles. Header-only so that the compiler and the runtime share it.
//
// Layout (abi.h): an image batch is channel-last, element (b, y, x, c) at
// ((b * H + y) * W + x) * C + c. A patch row is one window position
// (b, oy, ox), its column c * KH * KW + i * KW + j the pixel (oy * stride +
// i - pad, ox * stride + j - pad) of channel c: the order of a convolution
// kernel declared [out, C, KH, KW] and stored [out, C * KH * KW].
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IMAGE_H
#define BDL_IMAGE_H

#include "bdl/abi.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace bdl::image {

inline int64_t outHeight(const BdlWindow &w) {
  return (w.height + 2 * w.pad - w.kernelH) / w.stride + 1;
}
inline int64_t outWidth(const BdlWindow &w) {
  return (w.width + 2 * w.pad - w.kernelW) / w.stride + 1;
}

/// Calls f(patchColumn, pixel) for every tap of window position (oy, ox)
/// that falls inside the image; pixel = y * W + x. Taps in the padding are
/// skipped.
template <typename F> void forEachTap(const BdlWindow &w, int64_t oy, int64_t ox, F &&f) {
  for (int64_t i = 0; i < w.kernelH; ++i) {
    int64_t y = oy * w.stride + i - w.pad;
    if (y < 0 || y >= w.height)
      continue;
    for (int64_t j = 0; j < w.kernelW; ++j) {
      int64_t x = ox * w.stride + j - w.pad;
      if (x >= 0 && x < w.width)
        f(i * w.kernelW + j, y * w.width + x);
    }
  }
}

/// patches [batch*OH*OW, C*KH*KW] = the patches of image [batch*H*W, C].
/// Examples [b0, b1) only, so that callers may split the batch.
template <typename T>
void im2col(const BdlWindow &w, int64_t b0, int64_t b1, const T *image, T *patches) {
  const int64_t oh = outHeight(w), ow = outWidth(w), taps = int64_t(w.kernelH) * w.kernelW;
  const int64_t width = w.channels * taps, pixels = int64_t(w.height) * w.width;
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T *row = patches + ((b * oh + oy) * ow + ox) * width;
        std::memset(row, 0, sizeof(T) * width);
        forEachTap(w, oy, ox, [&](int64_t tap, int64_t pixel) {
          const T *src = image + (b * pixels + pixel) * w.channels;
          for (int64_t c = 0; c < w.channels; ++c)
            row[c * taps + tap] = src[c];
        });
      }
}

/// image [batch*H*W, C] = the adjoint of im2col: every entry of `patches`
/// added to the pixel it was read from (in the fixed order of the window
/// positions, so that the sums round the same on every run).
template <typename T>
void col2im(const BdlWindow &w, int64_t b0, int64_t b1, const T *patches, T *image) {
  const int64_t oh = outHeight(w), ow = outWidth(w), taps = int64_t(w.kernelH) * w.kernelW;
  const int64_t width = w.channels * taps, pixels = int64_t(w.height) * w.width;
  std::memset(image + b0 * pixels * w.channels, 0, sizeof(T) * (b1 - b0) * pixels * w.channels);
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const T *row = patches + ((b * oh + oy) * ow + ox) * width;
        forEachTap(w, oy, ox, [&](int64_t tap, int64_t pixel) {
          T *dst = image + (b * pixels + pixel) * w.channels;
          for (int64_t c = 0; c < w.channels; ++c)
            dst[c] += row[c * taps + tap];
        });
      }
}

/// Calls f(outIndex, inIndex) with the element of `image` that is the
/// first maximum (in tap order) of each window and channel. A window has at
/// least one tap inside the image (pad < kernel). Channels are the inner
/// loop, so that every tap reads one contiguous pixel.
template <typename T, typename F>
void forEachMaximum(const BdlWindow &w, int64_t b0, int64_t b1, const T *image, F &&f) {
  const int64_t oh = outHeight(w), ow = outWidth(w), pixels = int64_t(w.height) * w.width;
  const int64_t channels = w.channels;
  std::vector<int64_t> best(static_cast<size_t>(channels));
  std::vector<T> top(static_cast<size_t>(channels));
  int64_t *bi = best.data();
  T *bv = top.data();
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        bool first = true;
        forEachTap(w, oy, ox, [&](int64_t, int64_t pixel) {
          int64_t at = (b * pixels + pixel) * channels;
          const T *src = image + at;
          if (first) {
            for (int64_t c = 0; c < channels; ++c)
              bv[c] = src[c], bi[c] = at + c;
            first = false;
            return;
          }
          for (int64_t c = 0; c < channels; ++c) {
            T v = src[c];
            // NaN propagates: a NaN becomes the maximum and stays it.
            bool take = v > bv[c] || (v != v && bv[c] == bv[c]);
            bv[c] = take ? v : bv[c];
            bi[c] = take ? at + c : bi[c];
          }
        });
        int64_t out = ((b * oh + oy) * ow + ox) * channels;
        for (int64_t c = 0; c < channels; ++c)
          f(out + c, bi[c]);
      }
}

/// pooled [batch*OH*OW, C] = the maximum of each window of image [batch*H*W, C].
template <typename T>
void maxPool(const BdlWindow &w, int64_t b0, int64_t b1, const T *image, T *pooled) {
  forEachMaximum(w, b0, b1, image, [&](int64_t out, int64_t in) { pooled[out] = image[in]; });
}

/// dImage [batch*H*W, C] = dPooled routed to the first maximum of each
/// window of the forward input `image`.
template <typename T>
void maxPoolAdjoint(const BdlWindow &w, int64_t b0, int64_t b1, const T *image, const T *dPooled,
                    T *dImage) {
  const int64_t pixels = int64_t(w.height) * w.width;
  std::memset(dImage + b0 * pixels * w.channels, 0, sizeof(T) * (b1 - b0) * pixels * w.channels);
  forEachMaximum(w, b0, b1, image, [&](int64_t out, int64_t in) { dImage[in] += dPooled[out]; });
}

/// Channel-first example (c, y, x), as the datasets store it, to channel-last.
template <typename T> void toChannelLast(int64_t channels, int64_t pixels, const T *chw, T *hwc) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t p = 0; p < pixels; ++p)
      hwc[p * channels + c] = chw[c * pixels + p];
}

} // namespace bdl::image

#endif // BDL_IMAGE_H
