//===- train/Checkpoint.cpp - Writing, verifying and restoring state ------===//
//
// Layout (all integers little-endian):
//   8 bytes  magic "BDLCKPT\n"
//   u32      format version (kCheckpointFormatVersion)
//   u32      length H of the header
//   H bytes  header: JSON (model, model_hash, epoch, rng, run, params,
//            context, tensors, history)
//   ...      the tensors' float32 values, in the header's order
//   u64      FNV-1a 64 of every byte before it
//
//===----------------------------------------------------------------------===//

#include "bdl/checkpoint.h"
#include "bdl/data.h"
#include "bdl/device.h"
#include "bdl/error.h"
#include "bdl/executor.h"
#include "bdl/model.h"

#include "../report/MetricsJson.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace bdl {

using nlohmann::json;

static_assert(std::endian::native == std::endian::little,
              "checkpoints store floats and integers as they lie in memory");

namespace {

constexpr char kMagic[8] = {'B', 'D', 'L', 'C', 'K', 'P', 'T', '\n'};
constexpr size_t kPreamble = sizeof kMagic + 4 + 4;
constexpr size_t kChecksumBytes = 8;
constexpr const char *kGenerator = "philox4x32-10";

/// FNV-1a, 64 bits: identifies a descriptor and catches a damaged file; not
/// meant to resist anyone forging one.
class Fnv1a {
public:
  void bytes(const void *data, size_t n) {
    const auto *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < n; ++i)
      hash = (hash ^ p[i]) * 0x100000001b3ull;
  }
  void integer(int64_t v) { bytes(&v, sizeof v); }
  void real(double v) { integer(std::bit_cast<int64_t>(v)); }
  /// Length first, so that ("ab", "c") and ("a", "bc") differ.
  void text(const char *s) {
    size_t n = s ? std::strlen(s) : 0;
    integer(s ? int64_t(n) : -1);
    bytes(s, n);
  }
  void dim(BdlDim d) {
    integer(d.kind);
    integer(d.value);
  }
  uint64_t value() const { return hash; }

private:
  uint64_t hash = 0xcbf29ce484222325ull;
};

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

template <typename T> void append(std::string &out, T value) {
  out.append(reinterpret_cast<const char *>(&value), sizeof value);
}

template <typename T> T load(const std::vector<uint8_t> &bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

json runJson(const RunInfo &r) {
  return {{"dataset", r.dataset},
          {"data_dir", r.dataDir},
          {"epochs", r.epochs},
          {"batch", r.batch},
          {"validation", r.validation},
          {"warmup", r.warmup},
          {"limit", r.limit},
          {"shuffle", r.shuffle},
          {"train_examples", r.trainExamples},
          {"checkpoint_every", r.checkpointEvery},
          {"monitor_every", r.monitorEvery},
          {"threads", r.threads}};
}

RunInfo runFromJson(const json &j, uint64_t seed) {
  RunInfo r;
  r.dataset = j.at("dataset").get<std::string>();
  r.dataDir = j.at("data_dir").get<std::string>();
  r.epochs = j.at("epochs").get<int>();
  r.batch = j.at("batch").get<int64_t>();
  r.seed = seed;
  r.validation = j.at("validation").get<int64_t>();
  r.warmup = j.value("warmup", 0);
  r.limit = j.at("limit").get<int64_t>();
  r.shuffle = j.at("shuffle").get<bool>();
  r.trainExamples = j.at("train_examples").get<int64_t>();
  r.checkpointEvery = j.at("checkpoint_every").get<int>();
  r.monitorEvery = j.value("monitor_every", int64_t(0)); // absent before monitors.csv resumed
  r.threads = j.at("threads").get<int>();
  return r;
}

} // namespace

void writeAtomically(const std::string &path, const std::string &bytes) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw Error(dir.string() + ": cannot create directory: " + ec.message());
  std::string tmp = path + ".tmp";
  auto fail = [&](const std::string &what) {
    std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": " + what + ": " + reason);
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail("cannot create " + tmp);
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      fail("write error");
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("fsync failed");
  }
  if (::close(fd) != 0)
    fail("close failed");
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    fail("cannot rename " + tmp + " into place");
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
}

uint64_t modelHash(const BdlModel &m) {
  Fnv1a h;
  h.integer(m.abiVersion);
  h.text(m.name);
  h.integer(m.numTensors);
  for (int i = 0; i < m.numTensors; ++i) {
    const BdlTensorDesc &t = m.tensors[i];
    h.text(t.name);
    h.integer(t.role);
    h.integer(t.init);
    h.dim(t.rows);
    h.dim(t.cols);
    h.real(t.initA);
    h.real(t.initB);
    h.integer(t.initASlot);
    h.integer(t.initBSlot);
  }
  h.integer(m.numParams);
  for (int i = 0; i < m.numParams; ++i) {
    const BdlParamDesc &p = m.params[i];
    h.text(p.name);
    h.real(p.value);
    h.real(p.lo);
    h.real(p.hi);
    h.integer(p.type);
    h.integer(p.tune);
    h.integer(p.derived);
  }
  for (auto [blocks, n] :
       {std::pair{m.trainBlocks, m.numTrainBlocks}, std::pair{m.evalBlocks, m.numEvalBlocks}}) {
    h.integer(n);
    for (int b = 0; b < n; ++b) {
      const BdlBlock &block = blocks[b];
      h.text(block.name);
      h.integer(block.steps);
      h.integer(block.stepsFn != nullptr); // its body stands for itself, like a kernel's
      h.integer(block.resetState);
      for (auto [ops, count] : {std::pair{block.prologueOps, block.numPrologueOps},
                                std::pair{block.ops, block.numOps}}) {
        h.integer(count);
        for (int o = 0; o < count; ++o) {
          const BdlOp &op = ops[o];
          h.text(op.name);
          for (int32_t v : {op.kind, op.parallel, op.a, op.b, op.c, op.transA, op.transB,
                            op.alphaSlot, op.betaSlot})
            h.integer(v);
          h.real(op.alpha);
          h.real(op.beta);
          h.dim(op.rows);
          h.dim(op.cols);
        }
      }
    }
  }
  for (int32_t v : {m.inputTensor, m.targetTensor, m.predictTensor, m.lossTensor})
    h.integer(v);
  return h.value();
}

bool isCheckpointed(int32_t role) { return carriesAcrossBatches(role) || role == BDL_ROLE_FIXED; }

std::string checkpointPath(const std::string &outDir) {
  return (std::filesystem::path(outDir) / "checkpoint" / "checkpoint.bdlckpt").string();
}

void writeCheckpoint(const std::string &path, const ModelInstance &inst,
                     const CheckpointState &state) {
  const BdlModel &m = inst.model();
  json tensors = json::array();
  for (int i = 0; i < m.numTensors; ++i) {
    const BdlTensorDesc &t = m.tensors[i];
    if (!isCheckpointed(t.role))
      continue;
    // The last line of defence: the trainer checks these at the end of every
    // epoch, so this only fires if something changed them since.
    if (!allFinite(inst.data(i), inst.capacity(i)))
      throw DivergedError("refusing to checkpoint epoch " + std::to_string(state.epoch) + ": " +
                              roleName(t.role) + " '" + t.name + "' is not finite",
                          state.epoch, 0, t.name);
    tensors.push_back({{"name", t.name}, {"role", roleName(t.role)}, {"floats", inst.capacity(i)}});
  }
  json params = json::object();
  for (int i = 0; i < m.numParams; ++i)
    params[m.params[i].name] = state.params.at(size_t(i));
  json history = json::array();
  for (const EpochMetrics &e : state.history)
    history.push_back(metricsJson(e));
  json header = {{"model", m.name},
                 {"model_hash", hex(modelHash(m))},
                 {"epoch", state.epoch},
                 {"rng", {{"generator", kGenerator}, {"seed", state.run.seed}}},
                 {"run", runJson(state.run)},
                 {"params", params},
                 {"context", {{"time", state.time}, {"next_example", state.nextExample}}},
                 {"tensors", tensors},
                 {"history", history}};
  std::string text = header.dump();

  std::string bytes(kMagic, sizeof kMagic);
  append(bytes, kCheckpointFormatVersion);
  append(bytes, uint32_t(text.size()));
  bytes += text;
  for (int i = 0; i < m.numTensors; ++i)
    if (isCheckpointed(m.tensors[i].role))
      bytes.append(reinterpret_cast<const char *>(inst.data(i)), inst.capacity(i) * sizeof(float));
  Fnv1a sum;
  sum.bytes(bytes.data(), bytes.size());
  append(bytes, sum.value());
  writeAtomically(path, bytes);
}

LoadedCheckpoint readCheckpoint(const std::string &path, const BdlModel &model) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(path + ": no checkpoint to resume from (was the run started with "
                       "--checkpoint-every, and did it finish an epoch that wrote one?)");
  std::vector<uint8_t> bytes = readFileBytes(path);
  auto fail = [&](const std::string &what) -> void { throw Error(path + ": " + what); };
  // A prefix of the magic is a truncated checkpoint, not a foreign file. An
  // empty file has no data() to compare (memcmp of null is undefined).
  size_t magicBytes = std::min(bytes.size(), sizeof kMagic);
  if (magicBytes != 0 && std::memcmp(bytes.data(), kMagic, magicBytes) != 0)
    fail("not a bdl checkpoint (wrong magic bytes)");
  if (bytes.size() < kPreamble)
    fail("truncated: " + std::to_string(bytes.size()) + " bytes, fewer than the " +
         std::to_string(kPreamble) + " every checkpoint starts with");
  uint32_t version = load<uint32_t>(bytes, sizeof kMagic);
  if (version != kCheckpointFormatVersion)
    fail("checkpoint format version " + std::to_string(version) + " (from " +
         (version < kCheckpointFormatVersion ? "an older" : "a newer") +
         " runtime), but this runtime reads only version " +
         std::to_string(kCheckpointFormatVersion));
  size_t headerLength = load<uint32_t>(bytes, sizeof kMagic + 4);
  if (headerLength > bytes.size() - kPreamble)
    fail("truncated: " + std::to_string(bytes.size()) + " bytes, fewer than its header needs");

  LoadedCheckpoint ck;
  ck.path = path;
  json header;
  try {
    header = json::parse(bytes.begin() + kPreamble, bytes.begin() + kPreamble + headerLength);
  } catch (const json::exception &) {
    fail("corrupt: the header is not valid JSON");
  }

  std::string name = model.name ? model.name : "?";
  try {
    std::string theirs = header.at("model_hash").get<std::string>();
    if (theirs != hex(modelHash(model)))
      fail("written by model '" + header.at("model").get<std::string>() + "' (hash " + theirs +
           "), not by this build of '" + name + "' (hash " + hex(modelHash(model)) +
           "); a checkpoint resumes only the model that wrote it");
    if (header.at("rng").at("generator").get<std::string>() != kGenerator)
      fail("random numbers from '" + header["rng"]["generator"].get<std::string>() +
           "', but this runtime draws them from " + kGenerator);

    // Sizes before values, so that a cut file reads as truncated rather than
    // as a checksum failure.
    const json &tensors = header.at("tensors");
    size_t expected = kPreamble + headerLength + kChecksumBytes;
    for (const json &t : tensors)
      expected += t.at("floats").get<size_t>() * sizeof(float);
    if (bytes.size() < expected)
      fail("truncated: " + std::to_string(bytes.size()) + " bytes of the " +
           std::to_string(expected) + " its header describes");
    if (bytes.size() > expected)
      fail("corrupt: " + std::to_string(bytes.size() - expected) + " bytes after its end");
    Fnv1a sum;
    sum.bytes(bytes.data(), bytes.size() - kChecksumBytes);
    if (sum.value() != load<uint64_t>(bytes, bytes.size() - kChecksumBytes))
      fail("corrupt: checksum mismatch");

    CheckpointState &s = ck.state;
    s.epoch = header.at("epoch").get<int>();
    s.time = header.at("context").at("time").get<int64_t>();
    s.nextExample = header.at("context").at("next_example").get<int64_t>();
    s.run = runFromJson(header.at("run"), header.at("rng").at("seed").get<uint64_t>());
    const json &params = header.at("params");
    for (int i = 0; i < model.numParams; ++i)
      s.params.push_back(params.at(model.params[i].name).get<double>());
    for (const json &e : header.at("history")) {
      s.history.push_back(metricsFromJson(e));
      s.history.back().epochs = s.run.epochs;
    }

    // The hash fixed which tensors there are; the order is the model's.
    ck.tensors.resize(size_t(model.numTensors));
    size_t offset = kPreamble + headerLength;
    size_t next = 0;
    for (int i = 0; i < model.numTensors; ++i) {
      const BdlTensorDesc &t = model.tensors[i];
      if (!isCheckpointed(t.role))
        continue;
      if (next >= tensors.size() || tensors[next].at("name").get<std::string>() != t.name)
        fail("corrupt: tensor '" + std::string(t.name) + "' missing from the header");
      size_t floats = tensors[next++].at("floats").get<size_t>();
      ck.tensors[size_t(i)].resize(floats);
      std::memcpy(ck.tensors[size_t(i)].data(), bytes.data() + offset, floats * sizeof(float));
      offset += floats * sizeof(float);
    }
    if (next != tensors.size())
      fail("corrupt: the header lists tensors the model does not have");
  } catch (const json::exception &e) {
    fail(std::string("corrupt header: ") + e.what());
  }
  return ck;
}

void restoreCheckpoint(ModelInstance &inst, const LoadedCheckpoint &ck) {
  const BdlModel &m = inst.model();
  for (int i = 0; i < m.numTensors; ++i) {
    if (!isCheckpointed(m.tensors[i].role))
      continue;
    const std::vector<float> &values = ck.tensors[size_t(i)];
    if (values.size() != inst.capacity(i))
      throw Error(ck.path + ": tensor '" + m.tensors[i].name + "' holds " +
                  std::to_string(values.size()) + " values but the model allocates " +
                  std::to_string(inst.capacity(i)) + " for it here");
    std::memcpy(inst.data(i), values.data(), values.size() * sizeof(float));
  }
  inst.setTime(ck.state.time);
  exec::hostWroteAll(inst);
}

} // namespace bdl
