//===- Format.cpp - How the textual IR spells things ---------------------===//
#include "ir/Format.h"
#include "support/Format.h"

#include <bit>
#include <cmath>
#include <cstdio>

namespace bdl::ir {

bool isBareNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool isBareNameChar(char c) {
  return isBareNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '+';
}

bool isBareName(std::string_view name) {
  if (name.empty() || !isBareNameStart(name[0]))
    return false;
  for (char c : name)
    if (!isBareNameChar(c))
      return false;
  return true;
}

std::string formatName(std::string_view name) {
  if (isBareName(name))
    return std::string(name);
  std::string s = "\"";
  for (unsigned char c : name) {
    if (c == '"' || c == '\\') {
      s += '\\';
      s += (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      s += hex;
    } else {
      s += (char)c;
    }
  }
  return s + "\"";
}

std::string formatDim(Dim d, const std::vector<Param> &params) {
  switch (d.kind) {
  case Dim::Kind::Const:
    return std::to_string(d.value);
  case Dim::Kind::Batch:
    return d.value == 1 ? "batch" : "batch*" + std::to_string(d.value);
  case Dim::Kind::Param:
    if (d.value < 0 || d.value >= (int64_t)params.size())
      return "param#" + std::to_string(d.value);
    // A param may be called `batch`; bare, that would read back as the batch.
    if (params[d.value].name == "batch")
      return "\"batch\"";
    return formatName(params[d.value].name);
  }
  return "?";
}

std::string formatDims(std::span<const Dim> dims, const std::vector<Param> &params) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + formatDim(dims[i], params);
  return s + "]";
}

std::string formatShape(Dim rows, Dim cols, const std::vector<Param> &params) {
  Dim dims[] = {rows, cols};
  return formatDims(dims, params);
}

namespace {

template <typename Bits, typename Float>
std::string exact(Float value, Bits quietNaN, Bits signBit, int hexDigits) {
  if (!std::isnan(value))
    return formatNumber(value);
  Bits bits = std::bit_cast<Bits>(value);
  if (bits == quietNaN)
    return "nan";
  if (bits == (quietNaN | signBit))
    return "-nan";
  char hex[32];
  std::snprintf(hex, sizeof hex, "nan(0x%0*llx)", hexDigits, (unsigned long long)bits);
  return hex;
}

} // namespace

std::string formatExact(float value) {
  return exact<uint32_t>(value, kQuietNaNBits32, 0x80000000u, 8);
}

std::string formatExact(double value) {
  return exact<uint64_t>(value, kQuietNaNBits64, 0x8000000000000000ull, 16);
}

namespace {

constexpr const char *kRoles[] = {"input", "target", "weight",   "fixed",
                                  "state", "temp",   "optimizer"};
constexpr const char *kInits[] = {"zero", "const", "uniform", "normal", "xavier", "kaiming", "eye"};
constexpr const char *kParamTypes[] = {"real", "int", "bool"};
constexpr const char *kTunes[] = {"", "linear", "log", "int", "bool", "choice"};
constexpr const char *kMetrics[] = {"accuracy", "loss"};
constexpr const char *kRanges[] = {"", "positive", "nonnegative", "fraction"};
constexpr const char *kKernelKinds[] = {"map", "rowreduce", "colreduce"};
constexpr const char *kReduces[] = {"sum", "max"};
constexpr const char *kAccesses[] = {"", "row", "col", "0"};
constexpr const char *kContextFields[] = {"ctx.step", "ctx.steps"};

template <typename E, size_t N> const char *lookup(const char *const (&table)[N], E e) {
  size_t i = static_cast<size_t>(e);
  return i < N ? table[i] : "?";
}

template <typename E, size_t N>
std::optional<E> find(const char *const (&table)[N], std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (text == table[i])
      return static_cast<E>(i);
  return std::nullopt;
}

} // namespace

const char *spelling(Role r) { return lookup(kRoles, r); }
const char *spelling(InitKind k) { return lookup(kInits, k); }
const char *spelling(ParamType t) { return lookup(kParamTypes, t); }
const char *spelling(TuneKind t) { return lookup(kTunes, t); }
const char *spelling(Metric m) { return lookup(kMetrics, m); }
const char *spelling(ParamRange r) { return lookup(kRanges, r); }
std::string spelling(const Objective &o) {
  return std::string(o.minimise ? "minimize(" : "maximize(") + spelling(o.metric) + ")";
}
const char *spelling(KernelOp::Kind k) { return lookup(kKernelKinds, k); }
const char *spelling(KernelOp::Reduce r) { return lookup(kReduces, r); }
const char *spelling(Access a) { return lookup(kAccesses, a); }
const char *spelling(ContextField f) {
  size_t i = static_cast<size_t>(f);
  return i < std::size(kContextFields) ? kContextFields[i] : "ctx.?";
}

template <> std::optional<Role> fromSpelling<Role>(std::string_view text) {
  return find<Role>(kRoles, text);
}
template <> std::optional<InitKind> fromSpelling<InitKind>(std::string_view text) {
  return find<InitKind>(kInits, text);
}
template <> std::optional<ParamType> fromSpelling<ParamType>(std::string_view text) {
  return find<ParamType>(kParamTypes, text);
}
template <> std::optional<TuneKind> fromSpelling<TuneKind>(std::string_view text) {
  return text.empty() ? std::nullopt : find<TuneKind>(kTunes, text);
}
template <> std::optional<ParamRange> fromSpelling<ParamRange>(std::string_view text) {
  return text.empty() ? std::nullopt : find<ParamRange>(kRanges, text);
}
template <> std::optional<Metric> fromSpelling<Metric>(std::string_view text) {
  return find<Metric>(kMetrics, text);
}
template <> std::optional<KernelOp::Kind> fromSpelling<KernelOp::Kind>(std::string_view text) {
  return find<KernelOp::Kind>(kKernelKinds, text);
}
template <> std::optional<KernelOp::Reduce> fromSpelling<KernelOp::Reduce>(std::string_view text) {
  return find<KernelOp::Reduce>(kReduces, text);
}
template <> std::optional<Access> fromSpelling<Access>(std::string_view text) {
  return find<Access>(kAccesses, text);
}
template <> std::optional<ContextField> fromSpelling<ContextField>(std::string_view text) {
  return find<ContextField>(kContextFields, text);
}
template <> std::optional<ExprOp> fromSpelling<ExprOp>(std::string_view text) {
  for (int i = 0; i <= static_cast<int>(ExprOp::Normal); ++i)
    if (text == spelling(static_cast<ExprOp>(i)))
      return static_cast<ExprOp>(i);
  return std::nullopt;
}

} // namespace bdl::ir
