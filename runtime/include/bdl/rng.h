//===- bdl/rng.h - Philox 4x32-10 counter-based random numbers --*- C++ -*-===//
//
// Counter-based so that any number in any stream can be computed without
// touching the others: the same seed gives the same numbers whatever the
// thread count or backend, and every consumer (tensor initialisation,
// per-epoch shuffling) owns its stream, so adding a tensor to a model does
// not perturb the initial values of the others.
//
// Reference: Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_RNG_H
#define BDL_RNG_H

#include <array>
#include <cmath>
#include <cstdint>

namespace bdl {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

/// The Philox4x32 bijection with 10 rounds.
inline PhiloxCounter philox4x32(PhiloxCounter ctr, PhiloxKey key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kWeyl0;
      key[1] += kWeyl1;
    }
    uint64_t p0 = uint64_t(kMul0) * ctr[0];
    uint64_t p1 = uint64_t(kMul1) * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1],
           uint32_t(p0)};
  }
  return ctr;
}

/// Stream ids are partitioned by consumer so that they can never collide.
namespace rng_stream {
/// Initial values of tensor i.
inline uint64_t tensorInit(int32_t tensor) { return uint64_t(uint32_t(tensor)); }
/// The permutation of training examples in epoch e.
inline uint64_t shuffle(int epoch) { return (uint64_t(1) << 62) | uint32_t(epoch); }
/// The inputs `net selftest` gives every kernel.
inline uint64_t selfTest() { return uint64_t(1) << 61; }
} // namespace rng_stream

/// One stream of numbers: key = seed, counter = (block index, stream id).
class Philox {
public:
  Philox(uint64_t seed, uint64_t stream)
      : key{uint32_t(seed), uint32_t(seed >> 32)}, stream(stream) {}

  /// The 4 words of block `index` of this stream.
  PhiloxCounter block(uint64_t index) const {
    return philox4x32(
        {uint32_t(index), uint32_t(index >> 32), uint32_t(stream), uint32_t(stream >> 32)}, key);
  }

  uint32_t nextU32() {
    if (used == 4) {
      buffer = block(next++);
      used = 0;
    }
    return buffer[used++];
  }

  /// Uniform in [0, 1): the top 24 bits, so every value is exact in float.
  float uniform() { return float(nextU32() >> 8) * 0x1p-24f; }

  /// Uniform integer in [0, bound), unbiased (Lemire's multiply-and-reject).
  uint32_t below(uint32_t bound) {
    uint64_t m = uint64_t(nextU32()) * bound;
    if (uint32_t(m) < bound) {
      uint32_t threshold = uint32_t(-bound) % bound;
      while (uint32_t(m) < threshold)
        m = uint64_t(nextU32()) * bound;
    }
    return uint32_t(m >> 32);
  }

  /// Standard normal via Box-Muller; the second value of each pair is kept.
  float normal() {
    if (haveSpare) {
      haveSpare = false;
      return spare;
    }
    // u1 in (0, 1] so that the logarithm is finite.
    double u1 = (double(nextU32()) + 1.0) * 0x1p-32;
    double u2 = double(nextU32()) * 0x1p-32;
    double radius = std::sqrt(-2.0 * std::log(u1));
    double angle = 2.0 * M_PI * u2;
    spare = float(radius * std::sin(angle));
    haveSpare = true;
    return float(radius * std::cos(angle));
  }

private:
  PhiloxKey key;
  uint64_t stream;
  uint64_t next = 0;
  PhiloxCounter buffer{};
  int used = 4;
  float spare = 0;
  bool haveSpare = false;
};

} // namespace bdl

#endif // BDL_RNG_H
