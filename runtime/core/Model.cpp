//===- core/Model.cpp - Parameters, shapes and storage of a model ---------===//

#include "bdl/model.h"
#include "Descriptor.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/image.h"
#include "bdl/param_range.h"
#include "bdl/rng.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace bdl {

const char *roleName(int32_t role) {
  switch (role) {
  case BDL_ROLE_INPUT:
    return "input";
  case BDL_ROLE_TARGET:
    return "target";
  case BDL_ROLE_WEIGHT:
    return "weight";
  case BDL_ROLE_FIXED:
    return "fixed";
  case BDL_ROLE_STATE:
    return "state";
  case BDL_ROLE_TEMP:
    return "temp";
  case BDL_ROLE_OPTIMIZER:
    return "optimizer";
  }
  return "?";
}

const char *initName(int32_t init) {
  switch (init) {
  case BDL_INIT_ZERO:
    return "zero";
  case BDL_INIT_CONST:
    return "const";
  case BDL_INIT_UNIFORM:
    return "uniform";
  case BDL_INIT_NORMAL:
    return "normal";
  case BDL_INIT_XAVIER:
    return "xavier";
  case BDL_INIT_KAIMING:
    return "kaiming";
  case BDL_INIT_EYE:
    return "eye";
  }
  return "?";
}

const char *opKindName(int32_t kind) {
  switch (kind) {
  case BDL_OP_GEMM:
    return "gemm";
  case BDL_OP_KERNEL:
    return "kernel";
  case BDL_OP_ROTATE:
    return "rotate";
  case BDL_OP_REPLAY:
    return "replay";
  case BDL_OP_IMAGE:
    return "image";
  }
  return "?";
}

bool guardHolds(const BdlOp &op, const float *hp) {
  bool term = true; // every literal of the current term so far
  for (int32_t i = 0; i < op.numGuardLiterals; ++i) {
    const BdlGuardLiteral &l = op.guard[i];
    // As a select reads its condition: NaN is non-zero.
    term &= !(hp[l.slot] == 0.0f) == ((l.flags & BDL_GUARD_NONZERO) != 0);
    if (l.flags & BDL_GUARD_LAST) {
      if (term)
        return true;
      term = true;
    }
  }
  return op.numGuardLiterals == 0;
}

std::string guardText(const BdlModel &m, const BdlOp &op) {
  std::string text;
  for (int32_t i = 0; i < op.numGuardLiterals; ++i) {
    const BdlGuardLiteral &l = op.guard[i];
    int32_t param = l.slot - BDL_HP_FIRST_PARAM;
    text += l.flags & BDL_GUARD_NONZERO ? "" : "not ";
    text += param >= 0 && param < m.numParams ? nameOr(m.params[param].name)
                                              : "hp[" + std::to_string(l.slot) + "]";
    if (i + 1 < op.numGuardLiterals)
      text += l.flags & BDL_GUARD_LAST ? " or " : " and ";
  }
  return text;
}

const char *paramTypeName(int32_t type) {
  switch (type) {
  case BDL_PARAM_REAL:
    return "real";
  case BDL_PARAM_INT:
    return "int";
  case BDL_PARAM_BOOL:
    return "bool";
  }
  return "?";
}

/// RAM installed, or SIZE_MAX when the system does not say.
static size_t physicalMemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return SIZE_MAX;
  return size_t(pages) * size_t(pageSize);
}

/// "3.1 GiB", "12.0 MiB", "512 bytes"; SIZE_MAX reads as an overflow.
static std::string describeBytes(size_t bytes) {
  if (bytes == SIZE_MAX)
    return "more than 2^64 bytes";
  const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return std::to_string(bytes) + " bytes";
  double v = double(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

ModelInstance::ModelInstance(const BdlModel &model) : desc(model) {
  verifyModel(model);
  params.resize(model.numParams);
  hpValues.assign(BDL_HP_FIRST_PARAM + model.numParams, 0.0f);
  for (int i = 0; i < model.numParams; ++i) {
    params[i] = model.params[i].value;
    hpValues[BDL_HP_FIRST_PARAM + i] = float(params[i]);
  }
  sizesStorage.assign(model.numParams, false);
  derive();
  checkRanges();
  auto mark = [&](BdlDim d) {
    if (d.kind == BDL_DIM_PARAM)
      sizesStorage[d.value] = true;
  };
  for (int i = 0; i < model.numTensors; ++i) {
    mark(model.tensors[i].rows);
    mark(model.tensors[i].cols);
  }
  forEachOp(model, [&](const BdlBlock &, const BdlOp &op) {
    if (op.kind == BDL_OP_KERNEL) {
      mark(op.rows);
      mark(op.cols);
    }
  });
}

int ModelInstance::findParam(std::string_view name) const {
  for (int i = 0; i < desc.numParams; ++i)
    if (name == desc.params[i].name)
      return i;
  return -1;
}

static bool parseDouble(std::string_view text, double &out) {
  // from_chars rejects a leading '+', which users do type.
  if (!text.empty() && text.front() == '+')
    text.remove_prefix(1);
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && std::isfinite(out);
}

void ModelInstance::setParam(std::string_view name, std::string_view value) {
  int index = findParam(name);
  if (index < 0) {
    std::string msg = "unknown parameter '" + std::string(name) + "'";
    if (desc.numParams == 0) {
      msg += "; model '" + nameOr(desc.name) + "' has no parameters";
    } else {
      msg += "; known parameters:";
      for (int i = 0; i < desc.numParams; ++i)
        msg += std::string(i ? ", " : " ") + desc.params[i].name;
    }
    throw UsageError(msg);
  }
  const BdlParamDesc &p = desc.params[index];
  if (p.derived)
    throw UsageError("parameter '" + std::string(name) +
                     "' is derived from other parameters and cannot be set; set those instead");
  std::string bad = "invalid value '" + std::string(value) + "' for " + paramTypeName(p.type) +
                    " parameter '" + p.name + "'";
  double v = 0;
  if (p.type == BDL_PARAM_BOOL) {
    if (value == "true" || value == "1")
      v = 1;
    else if (value == "false" || value == "0")
      v = 0;
    else
      throw UsageError(bad + ": expected true, false, 1 or 0");
  } else if (!parseDouble(value, v)) {
    throw UsageError(bad + ": expected a finite number");
  } else if (p.type == BDL_PARAM_INT && v != std::trunc(v)) {
    throw UsageError(bad + ": expected an integer");
  }
  setParamValue(index, v);
}

void ModelInstance::applyAssignment(std::string_view assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw UsageError("--set expects name=value, got '" + std::string(assignment) + "'");
  setParam(assignment.substr(0, eq), assignment.substr(eq + 1));
}

void ModelInstance::setParamValue(int index, double value) {
  if (isDerived(index))
    throw UsageError("parameter '" + std::string(desc.params[index].name) +
                     "' is derived from other parameters and cannot be set; set those instead");
  if (allocated() && sizesStorage[index] && value != params[index])
    throw Error("parameter '" + std::string(desc.params[index].name) +
                "' sizes tensors and cannot change after they are allocated");
  double old = params[index];
  params[index] = value;
  hpValues[BDL_HP_FIRST_PARAM + index] = float(value);
  try {
    derive();
    checkRanges();
  } catch (...) {
    params[index] = old;
    hpValues[BDL_HP_FIRST_PARAM + index] = float(old);
    derive();
    throw;
  }
}

/// The shortest text that reads back as `v`.
static std::string formatValue(float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

void ModelInstance::checkRanges() const {
  for (int i = 0; i < desc.numParams; ++i) {
    const BdlParamDesc &p = desc.params[i];
    // The kernels read the float in hp, which is what must be in range.
    float v = hpValues[BDL_HP_FIRST_PARAM + i];
    if (inParamRange(p.range, v))
      continue;
    throw UsageError("parameter '" + std::string(p.name) + "' = " + formatValue(v) +
                     (p.derived ? " (derived)" : "") + " must be " + describeParamRange(p.range) +
                     ": it is " + (p.rangeUse ? p.rangeUse : "an optimiser's argument"));
  }
}

void ModelInstance::derive() {
  if (!desc.derive)
    return;
  std::vector<float> next = hpValues;
  desc.derive(next.data());
  for (int i = 0; i < desc.numParams; ++i) {
    if (!isDerived(i))
      continue;
    float v = next[BDL_HP_FIRST_PARAM + i];
    if (allocated() && sizesStorage[i] && double(v) != params[i])
      throw Error("parameter '" + std::string(desc.params[i].name) + "' (derived) sizes tensors " +
                  "and cannot change after they are allocated");
  }
  for (int i = 0; i < desc.numParams; ++i)
    if (isDerived(i)) {
      hpValues[BDL_HP_FIRST_PARAM + i] = next[BDL_HP_FIRST_PARAM + i];
      params[i] = double(next[BDL_HP_FIRST_PARAM + i]);
    }
}

int64_t ModelInstance::dimParam(int index, const char *what) const {
  double v = params[index];
  if (v < 1 || v != std::trunc(v) || v > double(INT32_MAX))
    throw UsageError("parameter '" + std::string(desc.params[index].name) + "' = " +
                     std::to_string(v) + " sizes " + what + " and must be a positive integer");
  return int64_t(v);
}

int64_t ModelInstance::resolveFor(BdlDim dim, int64_t batch) const {
  switch (dim.kind) {
  case BDL_DIM_BATCH:
    return batch * dim.value;
  case BDL_DIM_PARAM:
    return int64_t(params[dim.value]);
  default:
    return dim.value;
  }
}

std::string ModelInstance::describeDim(BdlDim dim) const {
  switch (dim.kind) {
  case BDL_DIM_BATCH:
    return dim.value == 1 ? "B" : "B*" + std::to_string(dim.value);
  case BDL_DIM_PARAM:
    return std::to_string(int64_t(params[dim.value])) + " (" + desc.params[dim.value].name + ")";
  default:
    return std::to_string(dim.value);
  }
}

void ModelInstance::allocate(int64_t maxBatch) {
  if (maxBatch < 1)
    throw UsageError("batch size must be at least 1");
  // Check every parameter-sized extent before touching memory so that
  // --set hidden=0 is reported as a usage error, not a failed allocation.
  for (int i = 0; i < desc.numTensors; ++i) {
    const BdlTensorDesc &t = desc.tensors[i];
    std::string what = "tensor '" + std::string(t.name) + "'";
    for (BdlDim d : {t.rows, t.cols})
      if (d.kind == BDL_DIM_PARAM)
        dimParam(d.value, what.c_str());
  }
  forEachOp(desc, [&](const BdlBlock &, const BdlOp &op) {
    std::string what = "op '" + nameOr(op.name) + "'";
    if (op.kind == BDL_OP_KERNEL)
      for (BdlDim d : {op.rows, op.cols})
        if (d.kind == BDL_DIM_PARAM)
          dimParam(d.value, what.c_str());
  });

  // Size everything before allocating anything, so that an impossible
  // batch or --set value is refused with the total instead of failing (or
  // being killed for memory) half-way.
  std::vector<size_t> counts(desc.numTensors);
  size_t total = 0; // bytes; SIZE_MAX when the sum overflows
  int largest = 0;
  for (int i = 0; i < desc.numTensors; ++i) {
    const BdlTensorDesc &t = desc.tensors[i];
    size_t bytes = 0;
    if (__builtin_mul_overflow(size_t(resolveFor(t.rows, maxBatch)),
                               size_t(resolveFor(t.cols, maxBatch)), &counts[i]) ||
        __builtin_mul_overflow(counts[i], sizeof(float), &bytes))
      counts[i] = bytes = SIZE_MAX;
    if (__builtin_add_overflow(total, bytes, &total))
      total = SIZE_MAX;
    if (counts[i] > counts[largest])
      largest = i;
  }
  if (size_t limit = physicalMemoryBytes(); total > limit) {
    const BdlTensorDesc &t = desc.tensors[largest];
    throw Error(
        "model '" + nameOr(desc.name) + "' needs " + describeBytes(total) +
        " for its tensors at batch " + std::to_string(maxBatch) + " (the largest, '" + t.name +
        "' [" + describeDim(t.rows) + ", " + describeDim(t.cols) + "], " +
        describeBytes(counts[largest] == SIZE_MAX ? SIZE_MAX : counts[largest] * sizeof(float)) +
        ") but this machine has " + describeBytes(limit) +
        " of memory; use a smaller --batch or smaller sizes");
  }

  buffers.clear();
  table.assign(desc.numTensors, nullptr);
  capacities.assign(desc.numTensors, 0);
  for (int i = 0; i < desc.numTensors; ++i) {
    const BdlTensorDesc &t = desc.tensors[i];
    size_t count = counts[i];
    // aligned_alloc wants a multiple of the alignment; 64 bytes is a cache
    // line and an AVX-512 vector.
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    auto *p = static_cast<float *>(std::aligned_alloc(64, bytes));
    if (!p)
      throw Error("out of memory allocating tensor '" + std::string(t.name) + "' (" +
                  describeBytes(bytes) + ")");
    std::memset(p, 0, bytes);
    buffers.emplace_back(p);
    table[i] = p;
    capacities[i] = count;
  }
  maxBatchSize = maxBatch;
  setBatch(maxBatch);
}

void ModelInstance::setEpoch(int epoch) { hpValues[BDL_HP_EPOCH] = float(epoch); }

void ModelInstance::setBatch(int64_t batch) {
  if (batch < 1 || batch > maxBatchSize)
    throw Error("batch size " + std::to_string(batch) + " outside [1, " +
                std::to_string(maxBatchSize) + "]");
  currentBatch = batch;
  hpValues[BDL_HP_BATCH] = float(batch);
  hpValues[BDL_HP_INV_BATCH] = 1.0f / float(batch);
}

void ModelInstance::initialise(uint64_t seed) {
  cpu::invalidateCaches();
  if (!allocated())
    throw Error("initialise() before allocate()");
  runSeed = seed;
  simTime = 0;
  firstExample = 0;
  for (int i = 0; i < desc.numTensors; ++i) {
    const BdlTensorDesc &t = desc.tensors[i];
    float *p = table[i];
    size_t n = capacities[i];
    // A state with a constant initialiser (`state V = -70`) starts there.
    if (t.role != BDL_ROLE_WEIGHT && t.role != BDL_ROLE_FIXED) {
      std::fill(p, p + n, t.role == BDL_ROLE_STATE && t.init == BDL_INIT_CONST ? t.initA : 0.0f);
      continue;
    }
    Philox rng(seed, rng_stream::tensorInit(i));
    double fanIn = double(resolve(t.cols)), fanOut = double(resolve(t.rows));
    float initA = t.initASlot >= 0 ? hpValues[t.initASlot] : t.initA;
    float initB = t.initBSlot >= 0 ? hpValues[t.initBSlot] : t.initB;
    switch (t.init) {
    case BDL_INIT_ZERO:
      std::fill(p, p + n, 0.0f);
      break;
    case BDL_INIT_CONST:
      std::fill(p, p + n, initA);
      break;
    case BDL_INIT_UNIFORM:
      for (size_t k = 0; k < n; ++k)
        p[k] = initA + (initB - initA) * rng.uniform();
      break;
    case BDL_INIT_NORMAL:
      for (size_t k = 0; k < n; ++k)
        p[k] = initA + initB * rng.normal();
      break;
    case BDL_INIT_XAVIER: {
      float s = float(std::sqrt(6.0 / (fanIn + fanOut)));
      for (size_t k = 0; k < n; ++k)
        p[k] = s * (2.0f * rng.uniform() - 1.0f);
      break;
    }
    case BDL_INIT_KAIMING: {
      float s = float(std::sqrt(2.0 / fanIn));
      for (size_t k = 0; k < n; ++k)
        p[k] = s * rng.normal();
      break;
    }
    case BDL_INIT_EYE: {
      std::fill(p, p + n, 0.0f);
      int64_t c = cols(i);
      for (int64_t d = 0; d < std::min(rows(i), c); ++d)
        p[d * c + d] = 1.0f;
      break;
    }
    }
  }
}

void ModelInstance::resetState() {
  for (int i = 0; i < desc.numTensors; ++i)
    if (const BdlTensorDesc &t = desc.tensors[i]; t.role == BDL_ROLE_STATE)
      std::fill_n(table[i], size_t(rows(i) * cols(i)), t.init == BDL_INIT_CONST ? t.initA : 0.0f);
  simTime = 0;
}

void ModelInstance::rotate(int32_t first, int32_t count) {
  // a+j takes a+j-1's buffer, a the oldest: a right rotation by one.
  auto rot = [&](auto &v) {
    std::rotate(v.begin() + first, v.begin() + first + count - 1, v.begin() + first + count);
  };
  rot(table);
  rot(buffers);
  rot(capacities);
}

void ModelInstance::setReplay(int tensor, Replay replay) {
  if (!allocated())
    throw Error("setReplay() before allocate()");
  const BdlTensorDesc &t = desc.tensors[tensor];
  int64_t width = t.rows.kind == BDL_DIM_BATCH ? exampleWidth(tensor) : rows(tensor) * cols(tensor);
  if (replay.cols != width)
    throw Error(replay.source + ": " + std::to_string(replay.cols) +
                " values per step, but tensor '" + t.name + "' has " + std::to_string(width) +
                (t.rows.kind == BDL_DIM_BATCH ? " per example" : ""));
  if (int64_t(replay.values.size()) != replay.rows * replay.cols)
    throw Error(replay.source + ": replay values do not fill its shape");
  if (replays.empty())
    replays.resize(size_t(desc.numTensors));
  replays[size_t(tensor)] = std::make_unique<Replay>(std::move(replay));
}

} // namespace bdl
