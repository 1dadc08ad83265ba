// The objectives, for the fit (gradients, losses, the base score) and for Predict (the link).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "comptoir/trees/gradient_boosting.h"
#include "internal/strings.h"

namespace comptoir::trees {

// LightGBM's safeguard for Poisson: the hessian of exp(f) is inflated so first steps stay small.
inline constexpr double kPoissonMaxDeltaStep = 0.7;

inline double Sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }
inline double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

inline const char* ObjectiveName(Objective objective) {
  switch (objective) {
    case Objective::kBinaryLogLoss: return "binary log loss";
    case Objective::kSquaredError: return "squared error";
    case Objective::kPoisson: return "Poisson";
    case Objective::kTweedie: return "Tweedie";
  }
  return "unknown";
}

// Gradient, hessian and loss of one row for the configured objective, on the raw score f.
struct Loss {
  Objective objective;
  double power;

  void GradientHessian(double y, double f, double* g, double* h) const {
    switch (objective) {
      case Objective::kBinaryLogLoss: {
        const double p = Sigmoid(f);
        *g = p - y;
        *h = std::max(p * (1 - p), 1e-16);
        return;
      }
      case Objective::kSquaredError:
        *g = f - y;
        *h = 1;
        return;
      case Objective::kPoisson:
        *g = std::exp(f) - y;
        *h = std::exp(f + kPoissonMaxDeltaStep);
        return;
      case Objective::kTweedie: {
        const double a = std::exp((1 - power) * f), b = std::exp((2 - power) * f);
        *g = -y * a + b;
        *h = -y * (1 - power) * a + (2 - power) * b;
        return;
      }
    }
  }

  // The loss up to terms that do not depend on f (so losses compare across models).
  double Value(double y, double f) const {
    switch (objective) {
      case Objective::kBinaryLogLoss: return Softplus(f) - y * f;
      case Objective::kSquaredError: return 0.5 * (f - y) * (f - y);
      case Objective::kPoisson: return std::exp(f) - y * f;
      case Objective::kTweedie:
        return -y * std::exp((1 - power) * f) / (1 - power) + std::exp((2 - power) * f) / (2 - power);
    }
    return 0;
  }

  double Response(double f) const {
    switch (objective) {
      case Objective::kBinaryLogLoss: return Sigmoid(f);
      case Objective::kSquaredError: return f;
      case Objective::kPoisson:
      case Objective::kTweedie: return std::exp(f);
    }
    return f;
  }

  // The constant raw score that minimises the loss for a weighted mean target.
  double BaseScore(double mean) const {
    switch (objective) {
      case Objective::kBinaryLogLoss: return std::log(mean / (1 - mean));
      case Objective::kSquaredError: return mean;
      case Objective::kPoisson:
      case Objective::kTweedie: return std::log(mean);
    }
    return 0;
  }

  absl::Status CheckTargets(absl::Span<const double> y, std::string_view what) const {
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double v = y[i];
      const bool ok = objective == Objective::kBinaryLogLoss ? (v == 0 || v == 1)
                      : objective == Objective::kSquaredError ? std::isfinite(v)
                                                              : (std::isfinite(v) && v >= 0);
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(internal::Sv(what), " ", i, " is ", v, ", which the ", ObjectiveName(objective), " objective does not accept",
                                                       objective == Objective::kBinaryLogLoss ? " (labels must be 0 or 1)" : ""));
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace comptoir::trees
