//===- data/Files.cpp - Whole-file reads, transparently inflating .gz -----===//

#include "bdl/data.h"
#include "bdl/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <zlib.h>

namespace bdl {

static bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static std::vector<uint8_t> readPlain(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  std::streamoff size = in.tellg();
  std::vector<uint8_t> bytes(size_t(std::max<std::streamoff>(size, 0)));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char *>(bytes.data()), std::streamsize(bytes.size())))
    throw Error(path + ": read error");
  return bytes;
}

static std::vector<uint8_t> readGzip(const std::string &path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};
  gzbuffer(f, 1 << 18);
  std::vector<uint8_t> bytes;
  constexpr unsigned kChunk = 1 << 20;
  for (;;) {
    size_t old = bytes.size();
    bytes.resize(old + kChunk);
    int got = gzread(f, bytes.data() + old, kChunk);
    if (got < 0) {
      int code = 0;
      const char *msg = gzerror(f, &code);
      throw Error(path + ": corrupt gzip data: " + (msg && *msg ? msg : "read error"));
    }
    bytes.resize(old + size_t(got));
    // zlib reads a file that is not gzip "transparently"; a .gz name
    // promises compression, so a plain file here is a mistake worth naming.
    if (old == 0 && gzdirect(f))
      throw Error(path + ": not in gzip format (the name ends in .gz)");
    if (got == 0)
      break;
  }
  int code = Z_OK;
  const char *msg = gzerror(f, &code);
  // Z_BUF_ERROR at end of input: the compressed stream stopped midway.
  if (code == Z_BUF_ERROR)
    throw Error(path + ": corrupt gzip data: truncated compressed stream");
  if (code != Z_OK)
    throw Error(path + ": corrupt gzip data: " + (msg ? msg : "unknown error"));
  return bytes;
}

std::vector<uint8_t> readFileBytes(const std::string &path) {
  return endsWith(path, ".gz") ? readGzip(path) : readPlain(path);
}

std::string findDataFile(const std::string &dir, const std::string &name, const std::string &hint) {
  std::filesystem::path base = std::filesystem::path(dir) / name;
  std::error_code ec;
  if (std::filesystem::is_regular_file(base, ec))
    return base.string();
  std::string gz = base.string() + ".gz";
  if (std::filesystem::is_regular_file(gz, ec))
    return gz;
  throw Error(base.string() + ": file not found (nor " + gz + ")" +
              (hint.empty() ? "" : "; " + hint));
}

} // namespace bdl
