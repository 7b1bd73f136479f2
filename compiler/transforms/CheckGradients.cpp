//===- CheckGradients.cpp -------------------------------------------------===//
#include "transforms/CheckGradients.h"

#include "ir/Format.h"
#include "ir/Interpreter.h"
#include "ir/Verifier.h"
#include "transforms/Passes.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace bdl {

using namespace ir;

namespace {

double meanLoss(const Interpreter &run, TensorId loss) {
  const std::vector<double> &l = run.tensor(loss);
  double sum = 0;
  for (double v : l)
    sum += v;
  return sum / (double)l.size();
}

/// Inputs in [-1, 1], matrices in [-1, 1] / sqrt(columns) (so that a
/// product stays of order 1 and no tanh saturates: a vanishing gradient
/// compares nothing), vectors in [-1, 1]; targets in [0, 1], not normalised,
/// so that no rule may assume one-hot targets.
void randomise(const Module &m, Interpreter &run, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> signedUnit(-1, 1), unit(0, 1);
  for (size_t t = 0; t < m.tensors.size(); ++t) {
    Role r = m.tensors[t].role;
    if (r != Role::Weight && r != Role::Fixed && r != Role::Input && r != Role::Target)
      continue;
    bool matrix = r != Role::Input && r != Role::Target && run.rows((TensorId)t) > 1;
    double scale = matrix ? 1 / std::sqrt((double)run.cols((TensorId)t)) : 1;
    for (double &v : run.tensor((TensorId)t))
      v = r == Role::Target ? unit(rng) : scale * signedUnit(rng);
  }
}

} // namespace

bool checkGradients(Module &m, const GradientCheckOptions &opts, llvm::raw_ostream &os) {
  std::vector<GradOp> grads;
  for (const Block &b : m.trainBlocks)
    for (const Op &op : b.ops)
      if (auto *d = std::get_if<GradOp>(&op))
        grads.push_back(*d);
  if (grads.empty()) {
    os << "check-gradients: the model has no grad()\n";
    return false;
  }
  differentiate(m);
  if (!verify(m, os, /*lowered=*/true)) {
    os << "check-gradients: the differentiated IR does not verify (a bdl bug)\n";
    return false;
  }
  Interpreter initial(m, opts.batch);
  randomise(m, initial, opts.seed);
  Interpreter analytic = initial;
  if (std::string problem = analytic.run(m.trainBlocks); !problem.empty()) {
    os << "check-gradients: cannot interpret the model: " << problem << "\n";
    return false;
  }
  bool ok = true;
  for (const GradOp &d : grads) {
    const std::vector<double> &g = analytic.tensor(d.out);
    size_t n = g.size(), samples = std::min<size_t>(n, (size_t)opts.samples);
    double worst = 0, worstAnalytic = 0, worstNumeric = 0;
    size_t worstAt = 0;
    for (size_t s = 0; s < samples; ++s) {
      size_t e = samples == n ? s : s * (n - 1) / (samples - 1); // spread over the tensor
      double w = initial.tensor(d.weight)[e], h = opts.step * std::max(1.0, std::fabs(w));
      auto central = [&](double step) {
        double f[2];
        for (int side = 0; side < 2; ++side) {
          Interpreter nudged = initial;
          nudged.tensor(d.weight)[e] = w + (side ? -step : step);
          nudged.run(m.trainBlocks);
          f[side] = meanLoss(nudged, d.loss);
        }
        return (f[0] - f[1]) / (2 * step);
      };
      // Richardson's extrapolation of two central differences: an error of
      // order h^4, so that h can be large enough for rounding not to matter.
      double numeric = (4 * central(h / 2) - central(h)) / 3, a = g[e];
      double error = std::fabs(a - numeric) / std::max({std::fabs(a), std::fabs(numeric), 1e-8});
      if (error >= worst)
        worst = error, worstAt = e, worstAnalytic = a, worstNumeric = numeric;
    }
    bool pass = worst <= opts.tolerance;
    ok &= pass;
    const Tensor &W = m.tensors[d.weight];
    os << "grad %" << formatName(m.tensors[d.loss].name) << " wrt %" << formatName(W.name) << " "
       << formatShape(W.rows, W.cols, m.params) << ": " << samples << " of " << n
       << " elements, max relative error " << llvm::format("%.2e", worst) << " at element "
       << worstAt << " (" << llvm::format("%.9g", worstAnalytic) << " against "
       << llvm::format("%.9g", worstNumeric) << ")" << (pass ? " ok" : " FAILED") << "\n";
  }
  os << (ok ? "gradients ok" : "gradient check failed") << " (tolerance "
     << llvm::format("%.0e", opts.tolerance) << ", batch " << opts.batch << ", double precision)\n";
  return ok;
}

} // namespace bdl
