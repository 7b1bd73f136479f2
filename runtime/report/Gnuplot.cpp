//===- report/Gnuplot.cpp - Running gnuplot for net plot ------------------===//

#include "Gnuplot.h"
#include "bdl/error.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace bdl::plot {

namespace fs = std::filesystem;

std::string quote(const std::string &text) {
  std::string out = "'";
  for (char c : text)
    out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string num(double v) {
  if (!std::isfinite(v))
    return "NaN";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Range::add(double v) {
  if (std::isfinite(v)) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
}

std::string Range::text(double pad, double floor, double ceiling) const {
  if (empty())
    return "[0:1]";
  double span = hi - lo;
  if (span <= 0) // gnuplot would warn of an empty range and pick its own
    span = lo != 0 ? std::fabs(lo) * 0.2 : 1;
  double a = std::max(lo - pad * span, std::min(floor, lo));
  double b = std::min(hi + pad * span, std::max(ceiling, hi));
  return "[" + num(a) + ":" + num(b) + "]";
}

std::string baseName(const std::string &path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  std::string name = fs::path(p).filename().string();
  return name.empty() || name == "." ? p : name;
}

static std::string lower(std::string s) {
  for (char &c : s)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

static bool isSvg(const std::string &output) {
  return lower(fs::path(output).extension().string()) == ".svg";
}

void checkOutput(const PlotRequest &r) {
  std::string ext = lower(fs::path(r.output).extension().string());
  if (ext != ".png" && ext != ".svg")
    throw UsageError("-o " + r.output + ": the extension chooses the format, .png or .svg");
  fs::path parent = fs::absolute(r.output).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw Error(parent.string() + ": no such directory for -o " + r.output);
  if (!r.size.empty()) {
    int w = 0, h = 0;
    char extra = 0;
    if (std::sscanf(r.size.c_str(), "%dx%d%c", &w, &h, &extra) != 2 || w < 100 || h < 100 ||
        w > 10000 || h > 10000)
      throw UsageError("--size " + r.size + ": expected WIDTHxHEIGHT in pixels, e.g. 1000x600");
  }
}

Gnuplot::Gnuplot(const PlotRequest &r) : req(r), output(fs::absolute(r.output).string()) {
  std::error_code ec;
  if (!r.keep.empty()) {
    dir = fs::absolute(r.keep);
    fs::create_directories(dir, ec);
    if (ec)
      throw Error(r.keep + ": cannot create directory: " + ec.message());
    return;
  }
  std::string pattern = (fs::temp_directory_path(ec) / "bdl-plot-XXXXXX").string();
  if (!mkdtemp(pattern.data()))
    throw Error(pattern + ": cannot create a temporary directory: " + std::strerror(errno));
  dir = pattern;
  temporary = true;
}

Gnuplot::~Gnuplot() {
  if (temporary) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

std::string Gnuplot::data(const std::string &name, const std::string &text) {
  fs::path path = dir / name;
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out)
    throw Error(path.string() + ": cannot write");
  return quote(path.string());
}

std::string Gnuplot::terminal(Size fallback) const {
  Size s = fallback;
  if (!req.size.empty())
    std::sscanf(req.size.c_str(), "%dx%d", &s.width, &s.height);
  std::string size = std::to_string(s.width) + "," + std::to_string(s.height);
  // noenhanced: names such as test_accuracy would otherwise lose their
  // underscores to subscripts.
  std::string t = isSvg(output) ? "set terminal svg size " + size +
                                      " dynamic noenhanced font 'DejaVu Sans,12' background "
                                      "'#ffffff'\n"
                                : "set terminal pngcairo size " + size +
                                      " noenhanced font 'DejaVu Sans,11' background '#ffffff'\n";
  t += "set output " + quote(output) + "\n";
  t += "set grid back lt 1 lc rgb '#e2e2e2' lw 1\n"
       "set border lc rgb '#404040'\n";
  // gnuplot's fifth default colour, yellow, is hard to see on white.
  const char *colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  for (int i = 0; i < 10; ++i)
    t += "set linetype " + std::to_string(i + 1) + " lc rgb '" + colours[i] + "' lw 1\n";
  t += "set linetype cycle 10\n"
       "set key opaque box lc rgb '#c0c0c0' samplen 2.5 spacing 1.1\n";
  return t;
}

/// The executable `name` in a PATH directory, or "".
static std::string onPath(const std::string &name) {
  const char *path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    fs::path candidate = fs::path(d.empty() ? "." : d) / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && access(candidate.c_str(), X_OK) == 0)
      return candidate.string();
  }
  return "";
}

void Gnuplot::run(const std::string &script) {
  std::string exe = onPath("gnuplot");
  if (exe.empty())
    throw Error("gnuplot not found on PATH: net plot draws with it; install the Debian package "
                "gnuplot-nox (apt-get install gnuplot-nox)");
  std::string scriptPath = (dir / "plot.gp").string();
  {
    std::ofstream out(scriptPath, std::ios::trunc);
    out << script;
    out.close();
    if (!out)
      throw Error(scriptPath + ": cannot write");
  }
  std::error_code ec;
  fs::remove(output, ec); // a failed run must not leave an old figure looking new
  std::string errPath = (dir / "gnuplot.err").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<char *> argv{const_cast<char *>(exe.c_str()), scriptPath.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw Error(exe + ": cannot start: " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::ifstream errIn(errPath);
  std::string messages((std::istreambuf_iterator<char>(errIn)), std::istreambuf_iterator<char>());
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok) {
    fs::remove(output, ec); // half a multiplot
    throw Error("gnuplot failed on " + (temporary ? std::string("its script") : scriptPath) +
                (messages.empty() ? std::string() : ":\n" + messages));
  }
  if (!messages.empty()) // warnings: a series may be missing from the figure
    std::fprintf(stderr, "gnuplot: %s", messages.c_str());
  if (fs::file_size(output, ec) == 0 || ec)
    throw Error(output + ": gnuplot wrote nothing");
}

} // namespace bdl::plot
