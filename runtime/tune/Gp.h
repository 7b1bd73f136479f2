//===- tune/Gp.h - Gaussian process regression for the tuner --------*- C++ -*-===//
//
// Internal to tune/: a zero-mean GP on standardised targets with a Matérn 5/2
// ARD kernel, the hyperparameters fitted by maximising the log marginal
// likelihood (plus weak priors), and the predictive mean and variance with
// their gradients in the inputs, which expected improvement needs. Inputs are
// kernel coordinates: the caller has already rounded the discrete dimensions.
//
//===----------------------------------------------------------------------===//
#ifndef BDL_TUNE_GP_H
#define BDL_TUNE_GP_H

#include "bdl/rng.h"

#include <Eigen/Dense>
#include <functional>

namespace bdl::tune::detail {

/// Uniform in [0, 1) with 53 random bits (Philox::uniform has only 24).
double uniform01(Philox &rng);

/// Log-parameters: one length scale per dimension, signal and noise variance.
struct GpHyper {
  Eigen::VectorXd logEll;
  double logSignal = 0;
  double logNoise = 0;
};

/// Minimises f over the box [lo, hi] by projected L-BFGS, starting from x
/// (which it overwrites with the best point found). f returns the value and
/// writes the gradient; a non-finite value is treated as a failed step.
/// `firstStep` bounds the largest coordinate move of the first iteration,
/// before any curvature is known. Returns the value at x.
double minimizeBox(const std::function<double(const Eigen::VectorXd &, Eigen::VectorXd &)> &f,
                   Eigen::VectorXd &x, const Eigen::VectorXd &lo, const Eigen::VectorXd &hi,
                   int maxIter, double firstStep);

class Gp {
public:
  /// Hyperparameters maximising the penalised marginal likelihood of (z, y),
  /// the best of `restarts` local searches (the first from a fixed default).
  static GpHyper fit(const Eigen::MatrixXd &z, const Eigen::VectorXd &y, Philox &rng, int restarts);

  /// Negative log marginal likelihood minus log prior, and its gradient in
  /// the log-parameters (ordered logEll..., logSignal, logNoise).
  static double objective(const Eigen::MatrixXd &z, const Eigen::VectorXd &y,
                          const Eigen::VectorXd &theta, Eigen::VectorXd *grad);

  /// Conditions on (z, y); false only if no jitter makes the kernel matrix
  /// positive definite.
  bool condition(const Eigen::MatrixXd &z, const Eigen::VectorXd &y, const GpHyper &h);

  /// Mean and latent variance at each row of zs.
  void predict(const Eigen::MatrixXd &zs, Eigen::VectorXd &mean, Eigen::VectorXd &var) const;

  /// Mean and latent variance at one point, with their gradients in zs.
  void predictGrad(const Eigen::VectorXd &zs, double &mean, double &var, Eigen::VectorXd &dMean,
                   Eigen::VectorXd &dVar) const;

  double signal() const { return signal_; }

private:
  Eigen::MatrixXd z_;
  Eigen::VectorXd invEll2_; // 1 / ell^2 per dimension
  double signal_ = 1;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::VectorXd alpha_; // K^-1 y
};

/// Bounds of the log-parameters, shared by the fit and the tests.
struct GpBounds {
  static constexpr double logEllLo = -4.605170185988091; // log 0.01
  static constexpr double logEllHi = 2.302585092994046;  // log 10
  static constexpr double logSignalLo = -3.0;
  static constexpr double logSignalHi = 3.0;
  static constexpr double logNoiseLo = -13.815510557964274; // log 1e-6
  static constexpr double logNoiseHi = -0.6931471805599453; // log 0.5
};

} // namespace bdl::tune::detail

#endif // BDL_TUNE_GP_H
