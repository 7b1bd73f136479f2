//===- tune/Gp.cpp - Gaussian process regression for the tuner ------------===//
//
// Matérn 5/2 with ARD (Rasmussen & Williams 2006, eq. 4.17), marginal
// likelihood and its gradient (eqs. 2.30, 5.9). All parameters are fitted in
// log space, where the likelihood surface is far better conditioned.
//
//===----------------------------------------------------------------------===//
#include "Gp.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

namespace bdl::tune::detail {

using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

constexpr double kSqrt5 = 2.23606797749979;
constexpr double kLog2Pi = 1.8378770664093453;

// Weak log-normal priors: with 5-20 points in several dimensions the bare
// likelihood often prefers a degenerate fit (tiny length scales that
// interpolate each point in isolation, or all variance explained as noise).
constexpr double kPriorLogEll = -0.6931471805599453; // log 0.5
constexpr double kPriorLogEllSd = 1.5;
constexpr double kPriorLogSignalSd = 1.5;
constexpr double kPriorLogNoise = -9.210340371976182; // log 1e-4
constexpr double kPriorLogNoiseSd = 3.0;

/// The Matérn 5/2 correlation and the common factor of its derivatives,
/// 5/3 (1 + sqrt5 r) exp(-sqrt5 r), both finite at r = 0.
inline void matern(double r2, double &k, double &dfac) {
  double r = std::sqrt(r2);
  double e = std::exp(-kSqrt5 * r);
  k = (1 + kSqrt5 * r + 5.0 / 3.0 * r2) * e;
  dfac = 5.0 / 3.0 * (1 + kSqrt5 * r) * e;
}

inline double scaledDist2(const MatrixXd &a, Eigen::Index i, const MatrixXd &b, Eigen::Index j,
                          const VectorXd &invEll2) {
  double s = 0;
  for (Eigen::Index c = 0; c < a.cols(); ++c) {
    double d = a(i, c) - b(j, c);
    s += d * d * invEll2[c];
  }
  return s;
}

/// Cholesky of K + (noise + jitter) I, raising the jitter until it succeeds:
/// duplicate points and rounded discrete axes make K singular.
bool choleskyWithJitter(MatrixXd k, double noise, double scale, Eigen::LLT<MatrixXd> &llt) {
  double jitter = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    MatrixXd a = k;
    a.diagonal().array() += noise + jitter;
    llt.compute(a);
    if (llt.info() == Eigen::Success && llt.matrixLLT().diagonal().minCoeff() > 0)
      return true;
    jitter = jitter == 0 ? 1e-10 * scale : jitter * 10;
  }
  return false;
}

} // namespace

double uniform01(Philox &rng) {
  uint64_t hi = rng.nextU32() >> 5, lo = rng.nextU32() >> 6;
  return double((hi << 26) | lo) * 0x1p-53;
}

double minimizeBox(const std::function<double(const VectorXd &, VectorXd &)> &f, VectorXd &x,
                   const VectorXd &lo, const VectorXd &hi, int maxIter, double firstStep) {
  const Eigen::Index n = x.size();
  constexpr int kMemory = 6;
  x = x.cwiseMax(lo).cwiseMin(hi);
  VectorXd g(n);
  double fx = f(x, g);
  if (!std::isfinite(fx) || !g.allFinite())
    return fx;
  std::deque<VectorXd> ss, ys;
  VectorXd gn(n), xn(n), d(n), q(n);
  for (int it = 0; it < maxIter; ++it) {
    // Variables pressed against a bound by the gradient stay fixed this step.
    VectorXd gp = g;
    for (Eigen::Index i = 0; i < n; ++i)
      if ((x[i] <= lo[i] && g[i] > 0) || (x[i] >= hi[i] && g[i] < 0))
        gp[i] = 0;
    if (gp.lpNorm<Eigen::Infinity>() < 1e-10)
      break;
    // Two-loop recursion (Nocedal & Wright 2006, alg. 7.4).
    q = gp;
    std::vector<double> a(ss.size());
    for (int k = int(ss.size()) - 1; k >= 0; --k) {
      a[k] = ss[k].dot(q) / ys[k].dot(ss[k]);
      q -= a[k] * ys[k];
    }
    if (!ss.empty())
      q *= ss.back().dot(ys.back()) / ys.back().squaredNorm();
    for (size_t k = 0; k < ss.size(); ++k) {
      double b = ys[k].dot(q) / ys[k].dot(ss[k]);
      q += (a[k] - b) * ss[k];
    }
    d = -q;
    for (Eigen::Index i = 0; i < n; ++i)
      if (gp[i] == 0)
        d[i] = 0;
    if (d.dot(gp) >= 0 || ss.empty()) {
      if (d.dot(gp) >= 0)
        ss.clear(), ys.clear();
      if (ss.empty())
        d = -gp * (firstStep / gp.lpNorm<Eigen::Infinity>());
    }
    double t = 1;
    bool accepted = false;
    double fn = fx;
    for (int ls = 0; ls < 20; ++ls) {
      xn = (x + t * d).cwiseMax(lo).cwiseMin(hi);
      fn = f(xn, gn);
      if (std::isfinite(fn) && gn.allFinite() && fn <= fx + 1e-4 * g.dot(xn - x)) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted)
      break;
    VectorXd s = xn - x, y = gn - g;
    if (s.dot(y) > 1e-12 * s.norm() * y.norm()) {
      ss.push_back(s);
      ys.push_back(y);
      if (int(ss.size()) > kMemory)
        ss.pop_front(), ys.pop_front();
    }
    bool converged = fx - fn <= 1e-9 * (1 + std::abs(fx));
    x = xn;
    fx = fn;
    g = gn;
    if (converged)
      break;
  }
  return fx;
}

double Gp::objective(const MatrixXd &z, const VectorXd &y, const VectorXd &theta, VectorXd *grad) {
  const Eigen::Index n = z.rows(), d = z.cols();
  VectorXd invEll2 = (-2 * theta.head(d)).array().exp();
  double signal = std::exp(theta[d]), noise = std::exp(theta[d + 1]);
  MatrixXd k(n, n), dfac(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j <= i; ++j) {
      double kij, fij;
      matern(scaledDist2(z, i, z, j, invEll2), kij, fij);
      k(i, j) = k(j, i) = signal * kij;
      dfac(i, j) = dfac(j, i) = signal * fij;
    }
  Eigen::LLT<MatrixXd> llt;
  if (!choleskyWithJitter(k, noise, signal, llt))
    return std::numeric_limits<double>::infinity();
  VectorXd alpha = llt.solve(y);
  double logDet = 2 * llt.matrixLLT().diagonal().array().log().sum();
  double nll = 0.5 * y.dot(alpha) + 0.5 * logDet + 0.5 * double(n) * kLog2Pi;

  auto sq = [](double v) { return v * v; };
  double penalty = 0;
  for (Eigen::Index c = 0; c < d; ++c)
    penalty += 0.5 * sq((theta[c] - kPriorLogEll) / kPriorLogEllSd);
  penalty += 0.5 * sq(theta[d] / kPriorLogSignalSd);
  penalty += 0.5 * sq((theta[d + 1] - kPriorLogNoise) / kPriorLogNoiseSd);

  if (grad) {
    grad->resize(d + 2);
    // dNLL/dθ = -1/2 tr((α αᵀ - K⁻¹) dK/dθ).
    MatrixXd w = alpha * alpha.transpose() - llt.solve(MatrixXd::Identity(n, n));
    MatrixXd wf = w.cwiseProduct(dfac);
    for (Eigen::Index c = 0; c < d; ++c) {
      double s = 0;
      for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < i; ++j)
          s += 2 * wf(i, j) * sq(z(i, c) - z(j, c));
      (*grad)[c] = -0.5 * s * invEll2[c] + (theta[c] - kPriorLogEll) / sq(kPriorLogEllSd);
    }
    (*grad)[d] = -0.5 * w.cwiseProduct(k).sum() + theta[d] / sq(kPriorLogSignalSd);
    (*grad)[d + 1] =
        -0.5 * w.trace() * noise + (theta[d + 1] - kPriorLogNoise) / sq(kPriorLogNoiseSd);
  }
  return nll + penalty;
}

GpHyper Gp::fit(const MatrixXd &z, const VectorXd &y, Philox &rng, int restarts) {
  const Eigen::Index d = z.cols();
  VectorXd lo(d + 2), hi(d + 2);
  lo.head(d).setConstant(GpBounds::logEllLo);
  hi.head(d).setConstant(GpBounds::logEllHi);
  lo[d] = GpBounds::logSignalLo, hi[d] = GpBounds::logSignalHi;
  lo[d + 1] = GpBounds::logNoiseLo, hi[d + 1] = GpBounds::logNoiseHi;
  auto f = [&](const VectorXd &theta, VectorXd &g) { return objective(z, y, theta, &g); };

  VectorXd best(d + 2);
  best.head(d).setConstant(kPriorLogEll);
  best[d] = 0;
  best[d + 1] = std::log(1e-3);
  double bestValue = std::numeric_limits<double>::infinity();
  for (int r = 0; r < restarts; ++r) {
    VectorXd theta(d + 2);
    if (r == 0) {
      theta = best;
    } else {
      // Random starts cover short and long length scales, where the
      // likelihood's local optima (wiggly versus smooth fits) usually lie.
      for (Eigen::Index c = 0; c < d; ++c)
        theta[c] = std::log(0.05) + uniform01(rng) * (std::log(3.0) - std::log(0.05));
      theta[d] = -1 + 2 * uniform01(rng);
      theta[d + 1] = std::log(1e-6) + uniform01(rng) * (std::log(1e-2) - std::log(1e-6));
    }
    double v = minimizeBox(f, theta, lo, hi, 60, 1.0);
    if (std::isfinite(v) && v < bestValue) {
      bestValue = v;
      best = theta;
    }
  }
  GpHyper h;
  h.logEll = best.head(d);
  h.logSignal = best[d];
  h.logNoise = best[d + 1];
  return h;
}

bool Gp::condition(const MatrixXd &z, const VectorXd &y, const GpHyper &h) {
  const Eigen::Index n = z.rows();
  z_ = z;
  invEll2_ = (-2 * h.logEll).array().exp();
  signal_ = std::exp(h.logSignal);
  MatrixXd k(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j <= i; ++j) {
      double kij, fij;
      matern(scaledDist2(z, i, z, j, invEll2_), kij, fij);
      k(i, j) = k(j, i) = signal_ * kij;
    }
  if (!choleskyWithJitter(k, std::exp(h.logNoise), signal_, llt_))
    return false;
  alpha_ = llt_.solve(y);
  return true;
}

void Gp::predict(const MatrixXd &zs, VectorXd &mean, VectorXd &var) const {
  const Eigen::Index m = zs.rows(), n = z_.rows();
  MatrixXd ks(n, m);
  for (Eigen::Index i = 0; i < m; ++i)
    for (Eigen::Index j = 0; j < n; ++j) {
      double kij, fij;
      matern(scaledDist2(zs, i, z_, j, invEll2_), kij, fij);
      ks(j, i) = signal_ * kij;
    }
  mean = ks.transpose() * alpha_;
  llt_.matrixL().solveInPlace(ks);
  var = (signal_ - ks.colwise().squaredNorm().array()).matrix();
}

void Gp::predictGrad(const VectorXd &zs, double &mean, double &var, VectorXd &dMean,
                     VectorXd &dVar) const {
  const Eigen::Index n = z_.rows(), d = z_.cols();
  VectorXd k(n);
  MatrixXd dk(n, d);
  for (Eigen::Index j = 0; j < n; ++j) {
    double r2 = 0;
    for (Eigen::Index c = 0; c < d; ++c)
      r2 += (zs[c] - z_(j, c)) * (zs[c] - z_(j, c)) * invEll2_[c];
    double kj, fj;
    matern(r2, kj, fj);
    k[j] = signal_ * kj;
    for (Eigen::Index c = 0; c < d; ++c)
      dk(j, c) = -signal_ * fj * (zs[c] - z_(j, c)) * invEll2_[c];
  }
  VectorXd v = llt_.solve(k);
  mean = k.dot(alpha_);
  var = signal_ - k.dot(v);
  dMean = dk.transpose() * alpha_;
  dVar = -2 * (dk.transpose() * v);
}

} // namespace bdl::tune::detail
