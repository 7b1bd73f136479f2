//===- bdl/data.h - Datasets and their file formats -------------*- C++ -*-===//
//
// Readers for the IDX format (MNIST, Fashion-MNIST; plain or gzip) and the
// CIFAR-10 binary format. Every malformed input is reported as a bdl::Error
// whose message starts with the file's path.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_DATA_H
#define BDL_DATA_H

#include <cstdint>
#include <string>
#include <vector>

namespace bdl {

/// Labelled examples held in memory: image i is features floats in [0, 1]
/// starting at images[i * features].
struct Dataset {
  std::string name;
  int64_t features = 0;
  int32_t classes = 0;
  std::vector<float> images;
  std::vector<uint8_t> labels;

  int64_t size() const { return int64_t(labels.size()); }
  const float *image(int64_t i) const { return images.data() + i * features; }
};

/// A range of a dataset's examples (a validation split, a --limit prefix,
/// a cross-validation fold) without copying them: examples begin ..
/// begin + count - 1 of the dataset, or, when `rows` is set, of the list of
/// example numbers it points to (owned by the caller).
struct DataView {
  const Dataset *data = nullptr;
  int64_t begin = 0;
  int64_t count = 0;
  const uint32_t *rows = nullptr;

  DataView() = default;
  DataView(const Dataset &d) : data(&d), begin(0), count(d.size()) {}
  DataView(const Dataset &d, int64_t begin, int64_t count) : data(&d), begin(begin), count(count) {}
  DataView(const Dataset &d, const uint32_t *rows, int64_t count)
      : data(&d), begin(0), count(count), rows(rows) {}
  /// The view's examples [from, from + n).
  DataView slice(int64_t from, int64_t n) const {
    DataView v = *this;
    v.begin = begin + from, v.count = n;
    return v;
  }
  /// The dataset's number of the view's example i.
  int64_t index(int64_t i) const { return rows ? int64_t(rows[begin + i]) : begin + i; }
  const float *image(int64_t i) const { return data->image(index(i)); }
  uint8_t label(int64_t i) const { return data->labels[size_t(index(i))]; }
};

struct TrainTest {
  Dataset train;
  Dataset test;
};

/// The whole content of `path`, inflated when the name ends in ".gz".
std::vector<uint8_t> readFileBytes(const std::string &path);

/// Finds `dir/name` or else `dir/name.gz`; throws naming both when neither
/// exists, appending `hint` (how to obtain the file).
std::string findDataFile(const std::string &dir, const std::string &name, const std::string &hint);

/// Reads an IDX image file (unsigned bytes, >= 2 dimensions, scaled to
/// [0, 1] and flattened) with its IDX label file.
Dataset readIdx(const std::string &imagesPath, const std::string &labelsPath, int32_t classes = 10);

/// Reads and concatenates CIFAR-10 binary batch files (records of one label
/// byte and 3072 channel-major pixel bytes).
Dataset readCifar10(const std::vector<std::string> &paths);

/// The known dataset names: "fashion_mnist", "mnist", "cifar10".
const std::vector<std::string> &datasetNames();

/// Where a dataset is read from when --data-dir is not given:
/// $BDL_DATA_DIR/<name> if that variable is set, else the directory
/// configured at build time.
std::string defaultDataDir(const std::string &name);

/// Loads the training and test sets of a named dataset from `dir`.
TrainTest loadDataset(const std::string &name, const std::string &dir);

} // namespace bdl

#endif // BDL_DATA_H
