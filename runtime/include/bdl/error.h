//===- bdl/error.h - Runtime error kinds and their exit codes ---*- C++ -*-===//
//
// Every failure the runtime can explain is an exception derived from
// bdl::Error; main catches them and turns the kind into the exit code, so
// scripts driving experiments can tell a bad command line (2) from a bad
// file (1) from a run that diverged (3) from a GPU that is not there (4).
//
//===----------------------------------------------------------------------===//
#ifndef BDL_ERROR_H
#define BDL_ERROR_H

#include <cstdint>
#include <stdexcept>
#include <string>

namespace bdl {

enum ExitCode : int {
  ExitOk = 0,
  ExitFailure = 1,
  ExitUsage = 2,
  ExitDiverged = 3,
  ExitNoDevice = 4, // --device cuda where there is no usable GPU (bdl/device.h)
};

/// A failure reading data, loading weights or running the model.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
  virtual int exitCode() const { return ExitFailure; }
};

/// The command line asked for something impossible (unknown parameter,
/// malformed value, ...).
class UsageError : public Error {
public:
  using Error::Error;
  int exitCode() const override { return ExitUsage; }
};

/// Training produced a NaN or an infinity: in the loss, the predictions or
/// a learned tensor. `tensor` names the first one found non-finite.
class DivergedError : public Error {
public:
  DivergedError(const std::string &message, int epoch, int64_t batch, std::string tensor)
      : Error(message), epoch(epoch), batch(batch), tensor(std::move(tensor)) {}
  int exitCode() const override { return ExitDiverged; }
  int epoch;
  int64_t batch; // 1-based within the epoch; 0 when found between batches
  std::string tensor;
};

} // namespace bdl

#endif // BDL_ERROR_H
