//===- report/Weights.cpp - Learned tensors as .npy files -----------------===//

#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/npy.h"
#include "bdl/report.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace bdl {

/// What a run leaves for another to evaluate or continue from: the learned
/// and fixed tensors, and model-wide state (batchnorm's running statistics);
/// per-example state (a population's) is the simulation's, not the model's.
static bool isSaved(const BdlTensorDesc &t) {
  return t.role == BDL_ROLE_WEIGHT || t.role == BDL_ROLE_FIXED ||
         (t.role == BDL_ROLE_STATE && t.rows.kind != BDL_DIM_BATCH);
}

std::vector<int64_t> npyShape(const ModelInstance &inst, int tensor) {
  // Decided by the descriptor, not the resolved extent, so that --set
  // hidden=1 does not change the rank of a [hidden, n] matrix.
  const BdlDim rows = inst.model().tensors[tensor].rows;
  if (rows.kind == BDL_DIM_CONST && rows.value == 1)
    return {inst.cols(tensor)};
  return {inst.rows(tensor), inst.cols(tensor)};
}

static std::vector<int64_t> withoutLeadingOnes(std::vector<int64_t> shape) {
  auto firstBig = std::find_if(shape.begin(), shape.end(), [](int64_t d) { return d != 1; });
  shape.erase(shape.begin(), firstBig);
  return shape;
}

void saveWeights(const ModelInstance &inst, const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(dir + ": cannot create directory: " + ec.message());
  const BdlModel &m = inst.model();
  for (int i = 0; i < m.numTensors; ++i)
    if (isSaved(m.tensors[i]))
      writeNpy(dir + "/" + m.tensors[i].name + ".npy", inst.data(i), npyShape(inst, i));
}

std::string loadWeights(ModelInstance &inst, const std::string &dir) {
  const BdlModel &m = inst.model();
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir + ": weights directory does not exist");
  std::string from = dir;
  int first = -1;
  for (int i = 0; i < m.numTensors && first < 0; ++i)
    if (isSaved(m.tensors[i]))
      first = i;
  if (first >= 0 && !fs::exists(fs::path(dir) / (std::string(m.tensors[first].name) + ".npy")) &&
      fs::is_directory(fs::path(dir) / "weights", ec))
    from = (fs::path(dir) / "weights").string();

  for (int i = 0; i < m.numTensors; ++i) {
    const BdlTensorDesc &t = m.tensors[i];
    if (!isSaved(t))
      continue;
    std::string path = from + "/" + t.name + ".npy";
    if (!fs::exists(path, ec))
      throw Error(path + ": missing: no weights for " + roleName(t.role) + " tensor '" + t.name +
                  "'");
    NpyArray a = readNpy(path);
    std::vector<int64_t> want = npyShape(inst, i);
    if (withoutLeadingOnes(a.shape) != withoutLeadingOnes(want))
      throw Error(path + ": shape " + npyShapeText(a.shape) + " does not match tensor '" + t.name +
                  "' of shape " + npyShapeText(want) +
                  " (were the weights trained with other --set "
                  "values?)");
    std::memcpy(inst.data(i), a.data.data(), a.data.size() * sizeof(float));
  }
  exec::hostWroteAll(inst);
  return from;
}

} // namespace bdl
