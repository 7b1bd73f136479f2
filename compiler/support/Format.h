//===- Format.h - Printing numbers the way a user wrote them ---*- C++ -*-===//
#ifndef BDL_SUPPORT_FORMAT_H
#define BDL_SUPPORT_FORMAT_H

#include <charconv>
#include <string>

namespace bdl {

/// The shortest text that reads back as `value` (1e-30, 0.05, 500).
inline std::string formatNumber(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("?");
}

inline std::string formatNumber(float value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : std::string("?");
}

} // namespace bdl

#endif
