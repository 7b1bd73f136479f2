//===- report/Trace.cpp - Per-step traces, replays and loaded tensors -----===//

#include "bdl/trace.h"
#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"
#include "bdl/npy.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace bdl {

using nlohmann::json;

int findTensor(const ModelInstance &inst, const std::string &name, const std::string &flag,
               bool (*allowed)(int32_t)) {
  const BdlModel &m = inst.model();
  for (int i = 0; i < m.numTensors; ++i)
    if (name == m.tensors[i].name && (!allowed || allowed(m.tensors[i].role)))
      return i;
  std::string msg = flag + ": model '" + m.name + "' has no tensor '" + name + "'";
  msg += allowed ? " it accepts; valid names:" : "; valid names:";
  bool any = false;
  for (int i = 0; i < m.numTensors; ++i)
    if (!allowed || allowed(m.tensors[i].role)) {
      msg += std::string(any ? ", " : " ") + m.tensors[i].name;
      any = true;
    }
  throw UsageError(any ? msg : msg + " (none)");
}

Tracer::Tracer(const ModelInstance &instance, const std::vector<std::string> &names,
               int64_t examples, std::string dir)
    : inst(instance), wanted(examples), dir(std::move(dir)) {
  for (const std::string &name : names) {
    int t = findTensor(inst, name, "--trace");
    if (std::none_of(series.begin(), series.end(), [&](const Series &s) { return s.tensor == t; }))
      series.push_back({t, inst.model().tensors[t].rows.kind == BDL_DIM_BATCH, 0, {}});
  }
}

Tracer::~Tracer() {
  if (active)
    cpu::setStepObserver(nullptr);
}

void Tracer::batchBegin(const std::vector<int64_t> &indices, int64_t example0) {
  if (traced >= wanted || wrote)
    return;
  if (batches == 0) {
    batchSize = inst.batch();
    for (Series &s : series)
      s.width = s.batched ? batchSize * inst.exampleWidth(s.tensor)
                          : inst.rows(s.tensor) * inst.cols(s.tensor);
  } else if (inst.batch() != batchSize) {
    // A smaller last batch would change the files' shape: the trace ends here.
    finish();
    return;
  }
  for (size_t r = 0; r < indices.size(); ++r)
    examples.emplace_back(indices[r], example0 + int64_t(r));
  traced += int64_t(indices.size());
  ++batches;
  lastBlock = -1;
  active = true;
  cpu::setStepObserver(this);
}

void Tracer::batchEnd() {
  if (!active)
    return;
  cpu::setStepObserver(nullptr);
  active = false;
  if (traced >= wanted)
    finish();
}

void Tracer::afterStep(const ModelInstance &instance, const BdlContext &ctx) {
  if (ctx.step == 0 || ctx.block != lastBlock) {
    const BdlBlock &b = instance.model().trainBlocks[ctx.block & ~BDL_EVAL_BLOCK];
    blocks.push_back({batches - 1, b.name ? b.name : "?", steps, 0});
    lastBlock = ctx.block;
  }
  ++blocks.back().length;
  for (Series &s : series) {
    const float *p = instance.data(s.tensor);
    s.values.insert(s.values.end(), p, p + s.width);
  }
  ++steps;
}

void Tracer::finish() {
  if (wrote || steps == 0)
    return;
  wrote = true;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw Error(dir + ": cannot create directory: " + ec.message());
  const BdlModel &m = inst.model();
  json tensors = json::array();
  for (const Series &s : series) {
    const BdlTensorDesc &t = m.tensors[s.tensor];
    std::vector<int64_t> shape{steps};
    std::string rows;
    // A per-example value, an image's pixels included (channel-last).
    if (s.batched && batchSize == 1) {
      shape.push_back(inst.exampleWidth(s.tensor));
      rows = "row 0 (batch 1)";
    } else if (s.batched) {
      shape.insert(shape.end(), {batchSize, inst.exampleWidth(s.tensor)});
      rows = "every row of the batch";
    } else if (t.rows.kind == BDL_DIM_CONST && t.rows.value == 1) {
      shape.push_back(inst.cols(s.tensor));
      rows = "the whole tensor";
    } else {
      shape.insert(shape.end(), {inst.rows(s.tensor), inst.cols(s.tensor)});
      rows = "the whole tensor";
    }
    std::string file = std::string(t.name) + ".npy";
    writeNpy(dir + "/" + file, s.values.data(), shape);
    tensors.push_back({{"name", t.name}, {"file", file}, {"shape", shape}, {"rows", rows}});
  }
  json ex = json::array();
  for (size_t i = 0; i < examples.size(); ++i)
    ex.push_back({{"index", examples[i].first},
                  {"sequence", examples[i].second},
                  {"batch", int64_t(i) / batchSize}});
  json bl = json::array();
  for (const BlockSpan &b : blocks)
    bl.push_back({{"batch", b.batchIndex},
                  {"name", b.name},
                  {"first_step", b.firstStep},
                  {"length", b.length}});
  json doc = {{"model", m.name},    {"batch", batchSize}, {"steps", steps},
              {"tensors", tensors}, {"examples", ex},     {"blocks", bl}};
  std::string path = dir + "/trace.json";
  std::ofstream out(path, std::ios::trunc);
  out << doc.dump(2) << '\n';
  out.close();
  if (!out)
    throw Error(path + ": cannot write");
}

void installReplay(ModelInstance &inst, const std::string &assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == assignment.size())
    throw UsageError("--replay expects NAME=FILE.npy, got '" + assignment + "'");
  std::string name = assignment.substr(0, eq), file = assignment.substr(eq + 1);
  int t = findTensor(inst, name, "--replay");
  const BdlModel &m = inst.model();
  bool replayed = false;
  for (auto [blocks, n] : {std::pair{m.trainBlocks, m.numTrainBlocks}})
    for (int b = 0; b < n; ++b)
      for (int o = 0; o < blocks[b].numOps; ++o)
        replayed = replayed || (blocks[b].ops[o].kind == BDL_OP_REPLAY && blocks[b].ops[o].c == t);
  if (!replayed)
    throw UsageError("--replay " + name + ": no REPLAY op of the train blocks writes '" + name +
                     "' (only drawn tensors can be replayed)");
  NpyArray a = readNpy(file);
  ModelInstance::Replay r;
  r.source = file;
  if (a.shape.size() != 2)
    throw Error(file + ": shape " + npyShapeText(a.shape) +
                "; a replay is time-major, (steps, values per step)");
  r.rows = a.shape[0];
  r.cols = a.shape[1];
  r.values = std::move(a.data);
  inst.setReplay(t, std::move(r));
}

static bool isLoadable(int32_t role) {
  return role == BDL_ROLE_WEIGHT || role == BDL_ROLE_FIXED || role == BDL_ROLE_STATE ||
         role == BDL_ROLE_OPTIMIZER;
}

std::vector<std::string> loadTensors(ModelInstance &inst, const std::string &dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir + ": --load directory does not exist");
  const BdlModel &m = inst.model();
  std::vector<std::string> loaded;
  for (int i = 0; i < m.numTensors; ++i) {
    const BdlTensorDesc &t = m.tensors[i];
    std::string path = (fs::path(dir) / (std::string(t.name) + ".npy")).string();
    if (!isLoadable(t.role) || !fs::exists(path, ec))
      continue;
    NpyArray a = readNpy(path);
    // All allocated rows: a batch-sized state is loaded for every row slot.
    int64_t rows = int64_t(inst.capacity(i)) / inst.cols(i), cols = inst.cols(i);
    std::vector<int64_t> want{rows, cols};
    bool fits = a.shape == want;
    if (!fits && (rows == 1 || cols == 1)) {
      int64_t n = rows * cols;
      fits = a.shape == std::vector<int64_t>{n} || a.shape == std::vector<int64_t>{n, 1} ||
             a.shape == std::vector<int64_t>{1, n};
    }
    if (!fits)
      throw Error(path + ": shape " + npyShapeText(a.shape) + " does not fit " + roleName(t.role) +
                  " tensor '" + t.name + "' of shape " + npyShapeText(want) +
                  (rows == 1 || cols == 1 ? " (a vector: (n,), (n, 1) or (1, n))" : ""));
    std::memcpy(inst.data(i), a.data.data(), a.data.size() * sizeof(float));
    loaded.push_back(t.name);
  }
  exec::hostWroteAll(inst);
  if (loaded.empty()) {
    std::string names;
    for (int i = 0; i < m.numTensors; ++i)
      if (isLoadable(m.tensors[i].role))
        names += std::string(names.empty() ? "" : ", ") + m.tensors[i].name;
    throw Error(
        dir + ": no file NAME.npy for any tensor of model '" + m.name +
        "' (weight, fixed, state and optimiser tensors: " + (names.empty() ? "none" : names) + ")");
  }
  return loaded;
}

} // namespace bdl
