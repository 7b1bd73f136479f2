//===- report/Npy.cpp - Reading and writing NumPy .npy files --------------===//
//
// Format: "\x93NUMPY", major and minor version bytes, the little-endian
// length of a Python-literal dict (2 bytes in 1.0, 4 in 2.0/3.0), the dict
// itself, then the raw values.
//
//===----------------------------------------------------------------------===//

#include "bdl/npy.h"
#include "bdl/data.h"
#include "bdl/error.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace bdl {

static_assert(std::endian::native == std::endian::little,
              "the .npy code writes floats as they lie in memory: '<f4'");

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicLen = 6;

std::string npyHeader(const std::vector<int64_t> &shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i)
    dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1)
    dict += ",";
  dict += "), }";
  // NumPy pads with spaces and ends with a newline so that the data starts
  // at a multiple of 64 bytes.
  size_t prefix = kMagicLen + 2 + 2;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string header(kMagic, kMagicLen);
  header += char(1);
  header += char(0);
  header += char(dict.size() & 0xff);
  header += char(dict.size() >> 8);
  return header + dict;
}

void writeNpy(const std::string &path, const float *data, const std::vector<int64_t> &shape) {
  size_t count = 1;
  for (int64_t d : shape)
    count *= size_t(d);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw Error(path + ": cannot create: " + std::strerror(errno));
  std::string header = npyHeader(shape);
  out.write(header.data(), std::streamsize(header.size()));
  out.write(reinterpret_cast<const char *>(data), std::streamsize(count * sizeof(float)));
  out.close();
  if (!out)
    throw Error(path + ": write error");
}

namespace {
/// Just enough of Python's literal syntax for a .npy header dict.
class HeaderParser {
public:
  HeaderParser(const std::string &path, std::string_view text) : path(path), text(text) {}

  void parse(std::string &descr, bool &fortran, std::vector<int64_t> &shape, bool &haveShape) {
    expect('{');
    for (;;) {
      skipSpace();
      if (peek() == '}')
        break;
      std::string key = parseString();
      expect(':');
      skipSpace();
      if (key == "descr") {
        descr = parseString();
      } else if (key == "fortran_order") {
        fortran = parseBool();
      } else if (key == "shape") {
        shape = parseTuple();
        haveShape = true;
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      skipSpace();
      if (peek() == ',')
        ++pos;
    }
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw Error(path + ": malformed .npy header: " + what);
  }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  void skipSpace() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
      ++pos;
  }
  void expect(char c) {
    skipSpace();
    if (peek() != c)
      fail(std::string("expected '") + c + "'");
    ++pos;
  }
  std::string parseString() {
    skipSpace();
    char quote = peek();
    if (quote != '\'' && quote != '"')
      fail("expected a string");
    size_t end = text.find(quote, pos + 1);
    if (end == std::string_view::npos)
      fail("unterminated string");
    std::string s(text.substr(pos + 1, end - pos - 1));
    pos = end + 1;
    return s;
  }
  bool parseBool() {
    if (text.substr(pos, 4) == "True") {
      pos += 4;
      return true;
    }
    if (text.substr(pos, 5) == "False") {
      pos += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> parseTuple() {
    expect('(');
    std::vector<int64_t> dims;
    for (;;) {
      skipSpace();
      if (peek() == ')')
        break;
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("expected a non-negative integer in the shape");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        v = v * 10 + (peek() - '0');
        if (v > (int64_t(1) << 48))
          fail("shape too large");
        ++pos;
      }
      if (peek() == 'L') // written by Python 2
        ++pos;
      dims.push_back(v);
      skipSpace();
      if (peek() == ',')
        ++pos;
      else if (peek() != ')')
        fail("expected ',' or ')' in the shape");
    }
    ++pos;
    return dims;
  }

  const std::string &path;
  std::string_view text;
  size_t pos = 0;
};
} // namespace

std::string npyShapeText(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

NpyArray readNpy(const std::string &path) {
  std::vector<uint8_t> bytes = readFileBytes(path);
  if (bytes.size() < kMagicLen + 4 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    throw Error(path + ": not a .npy file (no \\x93NUMPY magic)");
  unsigned major = bytes[6];
  size_t lenBytes = major == 1 ? 2 : (major == 2 || major == 3) ? 4 : 0;
  if (!lenBytes)
    throw Error(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                std::to_string(bytes[7]));
  size_t start = 8 + lenBytes;
  if (bytes.size() < start)
    throw Error(path + ": truncated .npy header");
  size_t headerLen = 0;
  for (size_t i = 0; i < lenBytes; ++i)
    headerLen |= size_t(bytes[8 + i]) << (8 * i);
  if (bytes.size() < start + headerLen)
    throw Error(path + ": truncated .npy header");

  std::string descr;
  bool fortran = false, haveShape = false;
  NpyArray a;
  std::string_view text(reinterpret_cast<const char *>(bytes.data() + start), headerLen);
  HeaderParser(path, text).parse(descr, fortran, a.shape, haveShape);
  // float64 (numpy's default, and the reference data's) is narrowed.
  if (descr != "<f4" && descr != "<f8")
    throw Error(path + ": dtype '" + descr +
                "' is not supported (expected '<f4', float32, or '<f8', float64)");
  size_t elemBytes = descr == "<f8" ? sizeof(double) : sizeof(float);
  if (fortran)
    throw Error(path + ": Fortran-order arrays are not supported (expected C order)");
  if (!haveShape)
    throw Error(path + ": malformed .npy header: no shape");

  size_t count = 1;
  for (int64_t d : a.shape)
    count *= size_t(d);
  size_t have = bytes.size() - start - headerLen;
  if (have != count * elemBytes)
    throw Error(path + ": " + (have < count * elemBytes ? "truncated" : "oversized") +
                ": the shape needs " + std::to_string(count * elemBytes) +
                " bytes of data, the file holds " + std::to_string(have));
  a.data.resize(count);
  const uint8_t *payload = bytes.data() + start + headerLen;
  if (elemBytes == sizeof(float)) {
    std::memcpy(a.data.data(), payload, count * sizeof(float));
  } else {
    for (size_t i = 0; i < count; ++i) {
      double v;
      std::memcpy(&v, payload + i * sizeof v, sizeof v);
      a.data[i] = float(v);
    }
  }
  return a;
}

} // namespace bdl
