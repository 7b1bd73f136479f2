//===- report/PlotTrace.cpp - net plot trace: dynamics of a --trace -------===//
//
// One panel per traced tensor, stacked on a shared step axis: potentials
// as lines for a few units, spike counts as a raster. The blocks that
// trace.json records (forward, target, ... phases) shade the background
// and are named above the top panel.
//
//===----------------------------------------------------------------------===//

#include "Gnuplot.h"
#include "bdl/error.h"
#include "bdl/npy.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

namespace bdl::plot {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Panel {
  std::string name;
  int64_t steps = 0, units = 0;
  std::vector<float> values; // [steps, units]
  bool spikes = false;
};

struct Phase {
  std::string name;
  int64_t first, length;
};

/// Spike tensors hold counts; a potential that happens to be integral
/// everywhere is still told apart by being all zero or by its name.
bool looksLikeCounts(const std::string &name, const std::vector<float> &v) {
  if (name.size() > 2 && name.compare(name.size() - 2, 2, ".s") == 0)
    return true;
  bool any = false;
  for (float x : v) {
    if (x < 0 || x != std::floor(x))
      return false;
    any = any || x > 0;
  }
  return any;
}

Panel loadPanel(const std::string &dir, const json &entry) {
  Panel p;
  p.name = entry.value("name", "");
  std::string file = (fs::path(dir) / entry.value("file", p.name + ".npy")).string();
  NpyArray a = readNpy(file);
  const std::string rows = entry.value("rows", "");
  p.steps = a.shape.empty() ? 0 : a.shape[0];
  if (a.shape.size() == 2) {
    p.units = a.shape[1];
    p.values = std::move(a.data);
  } else if (a.shape.size() == 3 && rows == "every row of the batch") {
    // The first example of the batch: the one trace.json lists first.
    p.units = a.shape[2];
    for (int64_t t = 0; t < p.steps; ++t)
      p.values.insert(p.values.end(), a.data.begin() + t * a.shape[1] * a.shape[2],
                      a.data.begin() + t * a.shape[1] * a.shape[2] + p.units);
  } else if (a.shape.size() == 3) {
    p.units = a.shape[1] * a.shape[2];
    p.values = std::move(a.data);
  } else {
    throw Error(file + ": shape " + npyShapeText(a.shape) +
                "; a trace is time-major, (steps, n) or (steps, rows, cols)");
  }
  if (p.steps == 0 || p.units == 0)
    throw Error(file + ": shape " + npyShapeText(a.shape) + " holds no values");
  p.spikes = looksLikeCounts(p.name, p.values);
  return p;
}

/// The phase names above the top panel. Phases too short for their name
/// (guerguiev's one-step readout and learn) share one label.
std::string phaseLabels(const std::vector<Phase> &phases, int64_t steps) {
  std::vector<std::pair<std::string, double>> labels; // text, centre
  for (size_t i = 0; i < phases.size();) {
    size_t j = i;
    std::string text;
    auto shortPhase = [&](size_t k) { return phases[k].length * 15 < steps; };
    do {
      if (text.find(phases[j].name) == std::string::npos)
        text += (text.empty() ? "" : ", ") + phases[j].name;
      ++j;
    } while (j < phases.size() && shortPhase(j - 1) && shortPhase(j));
    double from = double(phases[i].first), to = double(phases[j - 1].first + phases[j - 1].length);
    labels.push_back({text, (from + to) / 2 - 0.5});
    i = j;
  }
  if (labels.size() > 24) // one example's worth is enough to read them
    labels.resize(24);
  std::string s;
  for (const auto &[text, at] : labels)
    s += "set label " + quote(text) + " at first " + num(at) +
         ", graph 1 offset 0,0.8 center font ',11' tc rgb '#404040'\n";
  return s;
}

} // namespace

void plotTrace(const PlotRequest &r) {
  std::string dir = r.inputs.at(0);
  std::error_code ec;
  // A run's --out DIR holds its trace in DIR/trace unless --trace-dir moved it.
  if (!fs::exists(fs::path(dir) / "trace.json", ec) &&
      fs::exists(fs::path(dir) / "trace" / "trace.json", ec))
    dir = (fs::path(dir) / "trace").string();
  std::string metaPath = (fs::path(dir) / "trace.json").string();
  std::ifstream in(metaPath);
  if (!in)
    throw Error(metaPath + ": cannot open (a train --trace directory holds trace.json and one "
                           "NAME.npy per tensor)");
  json meta;
  try {
    meta = json::parse(in);
  } catch (const json::exception &e) {
    throw Error(metaPath + ": not JSON: " + e.what());
  }
  if (!meta.is_object() || !meta.contains("tensors") || !meta["tensors"].is_array())
    throw Error(metaPath + ": no \"tensors\" list; is this a train --trace directory?");

  std::vector<const json *> chosen;
  const json &tensors = meta["tensors"];
  auto byName = [&](const std::string &name) -> const json * {
    for (const json &t : tensors)
      if (t.is_object() && t.value("name", "") == name)
        return &t;
    return nullptr;
  };
  if (r.tensors.empty()) {
    for (const json &t : tensors)
      chosen.push_back(&t);
  } else {
    for (const std::string &name : r.tensors) {
      if (const json *t = byName(name)) {
        chosen.push_back(t);
        continue;
      }
      std::string names;
      for (const json &t : tensors)
        names += (names.empty() ? "" : ", ") + t.value("name", "?");
      throw UsageError("--tensors " + name + ": not in " + metaPath + " (traced: " + names + ")");
    }
  }
  if (chosen.empty())
    throw Error(metaPath + ": no tensor was traced");

  std::vector<Panel> panels;
  int64_t steps = 0;
  for (const json *t : chosen) {
    panels.push_back(loadPanel(dir, *t));
    steps = std::max(steps, panels.back().steps);
  }
  std::vector<Phase> phases;
  if (meta.contains("blocks") && meta["blocks"].is_array())
    for (const json &b : meta["blocks"])
      if (b.is_object())
        phases.push_back({b.value("name", "?"), b.value("first_step", int64_t(0)),
                          b.value("length", int64_t(0))});

  std::vector<int64_t> units = r.units;
  if (units.empty())
    for (int64_t u = 0; u < 5; ++u)
      units.push_back(u);
  for (const Panel &p : panels)
    if (!p.spikes && !r.units.empty())
      for (int64_t u : units)
        if (u < 0 || u >= p.units)
          throw UsageError("--units " + std::to_string(u) + ": " + p.name + " has " +
                           std::to_string(p.units) + " units (0-" + std::to_string(p.units - 1) +
                           ")");

  // Panels share the step axis and the left/right edges, so that a step
  // lines up across them; the key sits to the right of each.
  Gnuplot gp(r);
  const int width = 1000, top = 70, bottom = 55, gap = 14, panelHeight = 190;
  int n = int(panels.size());
  Size size{width, top + bottom + n * panelHeight + (n - 1) * gap};
  int height = size.height;
  if (!r.size.empty())
    std::sscanf(r.size.c_str(), "%dx%d", &size.width, &height);
  std::string script = gp.terminal(size);
  // "run/trace" says more than the default directory's name alone.
  std::string where = baseName(dir);
  if (where == "trace")
    where = baseName(fs::absolute(dir).parent_path().string()) + "/trace";
  std::string first;
  if (meta.contains("examples") && meta["examples"].is_array() && !meta["examples"].empty() &&
      meta["examples"][0].is_object())
    first = ", first training example: dataset index " +
            std::to_string(meta["examples"][0].value("index", int64_t(0)));
  std::string title = !r.title.empty()
                          ? r.title
                          : "Dynamics of " + meta.value("model", std::string("model")) + ": " +
                                where + " (" + std::to_string(steps) + " steps" + first + ")";
  script += "set multiplot title " + quote(title) + " font ',14'\n";
  script += "set lmargin at screen 0.09\nset rmargin at screen 0.84\n";
  script += "set xrange [-0.5:" + num(double(steps) - 0.5) + "]\n";
  // Alternate phases are shaded, every boundary gets a dashed line; the
  // names go above the top panel only.
  int object = 1;
  for (size_t i = 0; i < phases.size(); ++i) {
    const Phase &ph = phases[i];
    if (i % 2 == 1)
      script += "set object " + std::to_string(object++) + " rect from first " +
                num(double(ph.first) - 0.5) + ", graph 0 to first " +
                num(double(ph.first + ph.length) - 0.5) +
                ", graph 1 behind fc rgb '#eef1f6' fs solid 1.0 noborder\n";
    if (ph.first > 0)
      script += "set arrow from first " + num(double(ph.first) - 0.5) + ", graph 0 to first " +
                num(double(ph.first) - 0.5) + ", graph 1 nohead dt 2 lw 1.2 lc rgb '#707070'\n";
  }
  script += phaseLabels(phases, steps);

  // Panels in pixels from the top, then as gnuplot's screen fractions.
  double H = height, each = (H - top - bottom - (n - 1) * gap) / n;
  for (int k = 0; k < n; ++k) {
    const Panel &p = panels[size_t(k)];
    double yTop = top + k * (each + gap), yBottom = yTop + each;
    script += "set tmargin at screen " + num(1 - yTop / H) + "\nset bmargin at screen " +
              num(1 - yBottom / H) + "\n";
    if (k == 1) // the phase names go above the top panel only
      script += "unset label\n";
    bool last = k + 1 == n;
    script += last ? "set xlabel 'step'\nset format x '%.0f'\n" : "unset xlabel\nset format x ''\n";
    std::string name = p.name;
    std::replace(name.begin(), name.end(), '/', '_');
    if (p.spikes) {
      std::string text;
      int64_t count = 0;
      for (int64_t t = 0; t < p.steps; ++t)
        for (int64_t u = 0; u < p.units; ++u)
          if (p.values[size_t(t * p.units + u)] > 0) {
            text += std::to_string(t) + " " + std::to_string(u) + "\n";
            ++count;
          }
      script += "set ylabel " + quote(p.name + " (unit)") +
                "\nset yrange [-0.5:" + num(double(p.units) - 0.5) +
                "]\nset ytics autofreq\nset key outside right top title " +
                quote(std::to_string(p.units) + " units") + "\n";
      double ps = p.units > 200 ? 0.25 : p.units > 40 ? 0.4 : 0.6;
      if (count == 0)
        script += "set label 99 'no spikes' at graph 0.5, graph 0.5 center\nplot NaN notitle\n"
                  "unset label 99\n";
      else
        script += "plot " + gp.data(name + ".spikes.dat", text) +
                  " using 1:2 with points pt 7 ps " + num(ps) + " lc rgb '#1a1a1a' title " +
                  quote(std::to_string(count) + " spikes") + "\n";
    } else {
      std::vector<int64_t> drawn;
      for (int64_t u : units)
        if (u < p.units)
          drawn.push_back(u);
      std::string text;
      Range y;
      for (int64_t t = 0; t < p.steps; ++t) {
        text += std::to_string(t);
        for (int64_t u : drawn) {
          float v = p.values[size_t(t * p.units + u)];
          text += " " + num(v);
          y.add(v);
        }
        text += "\n";
      }
      std::string file = gp.data(name + ".dat", text);
      script += "set ylabel " + quote(p.name) + "\nset yrange " + y.text(0.06) +
                "\nset ytics autofreq\nset key outside right top title " +
                quote(std::to_string(p.units) + " units") + "\n";
      std::string plots;
      for (size_t i = 0; i < drawn.size(); ++i)
        plots += std::string(plots.empty() ? "plot " : ", \\\n     ") + file +
                 " using 1:" + std::to_string(i + 2) + " with lines lw 1.6 title " +
                 quote("unit " + std::to_string(drawn[i]));
      script += plots + "\n";
    }
  }
  script += "unset multiplot\n";
  gp.run(script);
}

} // namespace bdl::plot
