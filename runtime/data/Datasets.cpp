//===- data/Datasets.cpp - Named datasets and where they live -------------===//

#include "bdl/data.h"
#include "bdl/error.h"

#include <cstdlib>
#include <filesystem>

#ifndef BDL_DEFAULT_DATA_DIR
#define BDL_DEFAULT_DATA_DIR "data"
#endif
#ifndef BDL_DEFAULT_FASHION_MNIST_DIR
#define BDL_DEFAULT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace bdl {

const std::vector<std::string> &datasetNames() {
  static const std::vector<std::string> names = {"fashion_mnist", "mnist", "cifar10"};
  return names;
}

static void checkKnown(const std::string &name) {
  for (const std::string &n : datasetNames())
    if (n == name)
      return;
  std::string known;
  for (const std::string &n : datasetNames())
    known += (known.empty() ? "" : ", ") + n;
  throw UsageError("unknown dataset '" + name + "'; known datasets: " + known);
}

std::string defaultDataDir(const std::string &name) {
  checkKnown(name);
  if (const char *env = std::getenv("BDL_DATA_DIR"); env && *env)
    return (std::filesystem::path(env) / name).string();
  if (name == "fashion_mnist")
    return BDL_DEFAULT_FASHION_MNIST_DIR;
  if (name == "mnist")
    return BDL_DEFAULT_DATA_DIR "/mnist";
  return BDL_DEFAULT_DATA_DIR "/cifar-10-batches-bin";
}

static std::string howToGet(const std::string &name) {
  if (name == "fashion_mnist")
    return "install Debian's dataset-fashion-mnist package (scripts/setup.sh does), or pass "
           "--data-dir DIR holding the four IDX files";
  if (name == "mnist")
    return "run scripts/fetch_mnist.sh, or pass --data-dir DIR holding the four IDX files";
  return "download the binary version (cifar-10-binary.tar.gz) from "
         "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it there, or pass --data-dir";
}

TrainTest loadDataset(const std::string &name, const std::string &dir) {
  checkKnown(name);
  std::string hint = howToGet(name);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(name + ": data directory '" + dir + "' does not exist; " + hint);
  TrainTest tt;
  if (name == "cifar10") {
    // The archive unpacks into cifar-10-batches-bin/; accept its parent.
    std::string root = dir;
    std::filesystem::path nested = std::filesystem::path(dir) / "cifar-10-batches-bin";
    if (!std::filesystem::exists(std::filesystem::path(dir) / "data_batch_1.bin", ec) &&
        !std::filesystem::exists(std::filesystem::path(dir) / "data_batch_1.bin.gz", ec) &&
        std::filesystem::is_directory(nested, ec))
      root = nested.string();
    std::vector<std::string> trainFiles;
    for (int i = 1; i <= 5; ++i)
      trainFiles.push_back(findDataFile(root, "data_batch_" + std::to_string(i) + ".bin", hint));
    std::string testFile = findDataFile(root, "test_batch.bin", hint);
    tt.train = readCifar10(trainFiles);
    tt.test = readCifar10({testFile});
  } else {
    auto file = [&](const char *base) { return findDataFile(dir, base, hint); };
    std::string trainImages = file("train-images-idx3-ubyte");
    std::string trainLabels = file("train-labels-idx1-ubyte");
    std::string testImages = file("t10k-images-idx3-ubyte");
    std::string testLabels = file("t10k-labels-idx1-ubyte");
    tt.train = readIdx(trainImages, trainLabels);
    tt.test = readIdx(testImages, testLabels);
  }
  tt.train.name = name + " train";
  tt.test.name = name + " test";
  return tt;
}

} // namespace bdl
