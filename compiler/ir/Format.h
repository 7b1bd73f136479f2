//===- Format.h - How the textual IR spells things ------------*- C++ -*-===//
//
// The spellings the printer writes and the parser reads, in one place, and
// the one shape printer: `[batch, hidden]` in the IR, in verifier messages
// and in sema's diagnostics alike.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_IR_FORMAT_H
#define BDL_IR_FORMAT_H

#include "ir/IR.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace bdl::ir {

/// Whether `name` can be written as is: [A-Za-z_][A-Za-z0-9_.+]*.
bool isBareName(std::string_view name);
bool isBareNameStart(char c);
bool isBareNameChar(char c);

/// `name` as is when bare, otherwise quoted with \" \\ and \xHH escapes.
std::string formatName(std::string_view name);

/// One extent: `784`, `batch`, or a param's name (quoted when the name is
/// `batch`, so that it reads back as the param). `param#N` for an index that
/// names no param (only in messages about a broken module).
std::string formatDim(Dim d, const std::vector<Param> &params);

/// `[d0, d1, ...]`.
std::string formatDims(std::span<const Dim> dims, const std::vector<Param> &params);
std::string formatShape(Dim rows, Dim cols, const std::vector<Param> &params);

/// The text that reads back as exactly `value`: the shortest round-trip
/// decimal, `inf`, `-inf`, `nan`, `-nan`, or `nan(0x7fc00001)` (the raw
/// bits) for a NaN with another payload.
std::string formatExact(float value);
std::string formatExact(double value);

/// The bits of the NaN that formatExact writes as `nan` (`-nan` with the
/// sign bit set).
constexpr uint32_t kQuietNaNBits32 = 0x7fc00000u;
constexpr uint64_t kQuietNaNBits64 = 0x7ff8000000000000ull;

const char *spelling(Role r);
const char *spelling(InitKind k);
const char *spelling(ParamType t);
const char *spelling(TuneKind t);   // "" for None
const char *spelling(ParamRange r); // "" for Any
const char *spelling(Metric m);
/// "maximize(accuracy)", "minimize(loss)": the spelling of the source.
std::string spelling(const Objective &o);
const char *spelling(KernelOp::Kind k);
const char *spelling(KernelOp::Reduce r);
/// The suffix of a load under `a`: "" (Full), "row", "col", "0" (Scalar).
const char *spelling(Access a);
/// "ctx.step", "ctx.steps"; "ctx.?" for an index that names no field.
const char *spelling(ContextField f);

/// The enumerator spelt `text`, if any (the inverse of spelling()).
template <typename E> std::optional<E> fromSpelling(std::string_view text);
template <> std::optional<Role> fromSpelling<Role>(std::string_view text);
template <> std::optional<InitKind> fromSpelling<InitKind>(std::string_view text);
template <> std::optional<ParamType> fromSpelling<ParamType>(std::string_view text);
template <> std::optional<TuneKind> fromSpelling<TuneKind>(std::string_view text);
template <> std::optional<Metric> fromSpelling<Metric>(std::string_view text);
template <> std::optional<ParamRange> fromSpelling<ParamRange>(std::string_view text);
template <> std::optional<KernelOp::Kind> fromSpelling<KernelOp::Kind>(std::string_view text);
template <> std::optional<KernelOp::Reduce> fromSpelling<KernelOp::Reduce>(std::string_view text);
template <> std::optional<Access> fromSpelling<Access>(std::string_view text);
template <> std::optional<ExprOp> fromSpelling<ExprOp>(std::string_view text);
template <> std::optional<ContextField> fromSpelling<ContextField>(std::string_view text);

} // namespace bdl::ir

#endif // BDL_IR_FORMAT_H
