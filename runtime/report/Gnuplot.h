//===- report/Gnuplot.h - Running gnuplot for net plot ----------*- C++ -*-===//
//
// Shared by the plot kinds (Plot.cpp, PlotTrace.cpp): each writes its
// series as data files into a Gnuplot job's directory, then a script that
// starts with terminal() and is handed to run().
//
//===----------------------------------------------------------------------===//
#ifndef BDL_REPORT_GNUPLOT_H
#define BDL_REPORT_GNUPLOT_H

#include "bdl/plot.h"

#include <filesystem>
#include <limits>
#include <string>

namespace bdl::plot {

/// A gnuplot single-quoted string: no escapes are processed in it, so
/// paths and names go in as they are, with ' doubled.
std::string quote(const std::string &text);

/// A number as gnuplot reads it back; NaN for a missing value (gnuplot
/// leaves such points out).
std::string num(double v);

struct Size {
  int width, height;
};

/// The values a panel's axis must show, padded so that no point sits on
/// the frame.
struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v);
  bool empty() const { return lo > hi; }
  /// "[lo:hi]" widened by `pad` of the span on each side (a single value
  /// gets a span of its own).
  /// An accuracy's axis stays within [0, 1]: pass those as the bounds.
  std::string text(double pad = 0.05, double floor = -std::numeric_limits<double>::infinity(),
                   double ceiling = std::numeric_limits<double>::infinity()) const;
};

/// The file name without its directories; a trailing slash is ignored.
std::string baseName(const std::string &path);

class Gnuplot {
public:
  /// Creates the working directory (--keep DIR, or a fresh temporary one).
  explicit Gnuplot(const PlotRequest &request);
  ~Gnuplot();
  Gnuplot(const Gnuplot &) = delete;
  Gnuplot &operator=(const Gnuplot &) = delete;

  /// Writes a data file and returns its path, quoted for the script.
  std::string data(const std::string &name, const std::string &text);
  /// The terminal (from the output's extension), its size (--size, else
  /// `fallback`), the font, the output file and the common style.
  std::string terminal(Size fallback) const;
  /// Writes the script and runs gnuplot on it; throws Error when gnuplot is
  /// not on PATH (naming the package), fails, or writes no output.
  void run(const std::string &script);

private:
  const PlotRequest &req;
  std::filesystem::path dir;
  bool temporary = false;
  std::string output; // absolute
};

/// The -o file's format must be known before any input is read.
void checkOutput(const PlotRequest &request);

void plotTrace(const PlotRequest &request);

} // namespace bdl::plot

#endif // BDL_REPORT_GNUPLOT_H
