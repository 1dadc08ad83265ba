// Calibration of a classifier's probabilities on held-out data: Platt scaling, isotonic
// regression, and the "calibrated_classifier" model that serves a classifier with either.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/scorer.h"

namespace comptoir::propensity {

// Calibration maps fitted on held-out (score, label) pairs; their bytes are the comptoir.v1
// PlattScaling and IsotonicCalibration messages.
class PlattScaling {
 public:
  // p = sigmoid(a * score + b), fitted by Newton on the log loss.
  static absl::StatusOr<PlattScaling> Fit(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels);
  double Calibrate(double score) const;
  double a() const { return a_; }
  double b() const { return b_; }

  std::string Serialize() const;
  static absl::StatusOr<PlattScaling> Parse(std::string_view bytes);

 private:
  double a_ = 1, b_ = 0;
};

class IsotonicCalibration {
 public:
  // Pool-adjacent-violators on the scores; predictions interpolate between block means.
  static absl::StatusOr<IsotonicCalibration> Fit(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels);
  double Calibrate(double score) const;
  const std::vector<double>& thresholds() const { return thresholds_; }
  const std::vector<double>& values() const { return values_; }

  std::string Serialize() const;
  // ModelFormatError unless thresholds increase strictly and values are probabilities that do not
  // decrease.
  static absl::StatusOr<IsotonicCalibration> Parse(std::string_view bytes);

 private:
  std::vector<double> thresholds_;
  std::vector<double> values_;
};

// A classifier (any Scorer giving probabilities: gradient boosting, logistic regression) and the
// calibration map of its probabilities. Its model file nests the classifier's own file ("base_model"
// blob) and the map ("calibrator" blob); its schema is the classifier's.
class CalibratedClassifier final : public Scorer {
 public:
  static constexpr const char* kModelKind = "calibrated_classifier";
  enum class Method : std::int32_t { kIsotonic = 0, kSigmoid = 1 };  // numbered as in model files
  using Calibrator = std::variant<IsotonicCalibration, PlattScaling>;

  // Fits `method` on base's probabilities for X against y (0/1).
  static absl::StatusOr<CalibratedClassifier> Fit(std::shared_ptr<const Scorer> base, const Eigen::Ref<const RowMatrix>& X,
                                                  absl::Span<const std::uint8_t> y, Method method,
                                                  const ExecutionOptions& options = {});
  // A calibrator fitted elsewhere (on the same base's probabilities). InvalidArgument unless base
  // gives probabilities.
  static absl::StatusOr<CalibratedClassifier> Create(std::shared_ptr<const Scorer> base, Calibrator calibrator);

  Output output() const override { return Output::kProbability; }
  // Contributions explain the base model's log-odds; the calibrated probability is not a function
  // of their sum alone.
  Link link() const override { return Link::kNone; }
  std::int32_t num_features() const override { return base_->num_features(); }
  const FeatureSchema& schema() const override { return base_->schema(); }
  // The base model's probabilities, calibrated.
  absl::StatusOr<std::vector<double>> Score(const Eigen::Ref<const RowMatrix>& X,
                                            const ExecutionOptions& options = {}) const override;
  // The base model's contributions to its raw score (see Scorer::Contributions).
  absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X,
                                          const ExecutionOptions& options = {}) const override {
    return base_->Contributions(X, options);
  }

  const Scorer& base() const { return *base_; }
  Method method() const { return calibrator_.index() == 0 ? Method::kIsotonic : Method::kSigmoid; }
  const Calibrator& calibrator() const { return calibrator_; }
  double Calibrate(double probability) const;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<CalibratedClassifier> FromModelFile(const io::ModelFile& file);

 private:
  CalibratedClassifier(std::shared_ptr<const Scorer> base, Calibrator calibrator)
      : base_(std::move(base)), calibrator_(std::move(calibrator)) {}

  std::shared_ptr<const Scorer> base_;
  Calibrator calibrator_;
};

}  // namespace comptoir::propensity
