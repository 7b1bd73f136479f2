//===- bdl/npy.h - NumPy .npy files of float32 ------------------*- C++ -*-===//
//
// Weights are saved as .npy so that numpy.load reads them without any
// bdl-specific code; format version 1.0, '<f4', C order.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_NPY_H
#define BDL_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace bdl {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// A shape as Python prints it: "(3,)", "(2, 5)".
std::string npyShapeText(const std::vector<int64_t> &shape);

/// The header of a version 1.0 file for a float32 array: magic, version,
/// length and the padded dict, a multiple of 64 bytes in all.
std::string npyHeader(const std::vector<int64_t> &shape);

/// Writes `data` (the product of `shape` floats); throws bdl::Error naming
/// the file on failure.
void writeNpy(const std::string &path, const float *data, const std::vector<int64_t> &shape);

/// Reads a float32 or float64 (narrowed to float32), little-endian, C-order
/// .npy file (format 1.0, 2.0 or 3.0); anything else is an error naming the
/// file.
NpyArray readNpy(const std::string &path);

} // namespace bdl

#endif // BDL_NPY_H
