// L1/L2-regularised logistic regression: the calibrated, explainable baseline of propensity
// scoring, and a base learner for uplift models. Fitted by proximal Newton (glmnet's scheme:
// a weighted least-squares model of the loss solved by coordinate descent, then a line search on
// the true objective), which reaches the optimum to the tolerance asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/features/drift.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/propensity/calibration.h"
#include "comptoir/scorer.h"

namespace comptoir::propensity {

using RowMatrix = ::comptoir::RowMatrix;

// Minimises  sum_i w_i logloss_i  +  penalty(coef) / C, with penalty ||coef||^2 / 2 (L2) or
// ||coef||_1 (L1), as scikit-learn's LogisticRegression does (same C, same optimum); the intercept
// is not penalised. The field names are that estimator's keyword arguments.
struct LogisticRegressionConfig {
  enum class Penalty : std::int32_t { kL2 = 0, kL1 = 1 };  // numbered as in model files
  double C = 1.0;
  Penalty penalty = Penalty::kL2;
  bool fit_intercept = true;
  std::int32_t max_iter = 100;  // Newton steps
  double tol = 1e-10;           // stop when the objective improves by less (relative)

  absl::Status Validate() const;
};

class LogisticRegression final : public Scorer {
 public:
  static constexpr const char* kModelKind = "logistic_regression";

  // X: rows x features (no NaN or infinity: the column is named); y: 0/1 with both classes;
  // sample_weight: empty or one non-negative weight per row.
  static absl::StatusOr<LogisticRegression> Fit(const Eigen::Ref<const RowMatrix>& X, absl::Span<const std::uint8_t> y,
                                                absl::Span<const double> sample_weight,
                                                const LogisticRegressionConfig& config, const ExecutionOptions& options);

  std::int32_t num_features() const override { return static_cast<std::int32_t>(coef_.size()); }
  Output output() const override { return Output::kProbability; }
  Link link() const override { return Link::kLogistic; }
  const FeatureSchema& schema() const override { return schema_; }
  absl::Status set_schema(FeatureSchema schema);
  // Column names, saved with the model so that batch scorers can pick the columns by name.
  const std::vector<std::string>& feature_names() const { return schema_.feature_names; }
  absl::Status set_feature_names(std::vector<std::string> names);
  // What the training features looked like (empty unless set), kept in the model file.
  const features::FeatureProfile& training_profile() const { return training_profile_; }
  absl::Status set_training_profile(features::FeatureProfile profile);
  const Eigen::VectorXd& coefficients() const { return coef_; }
  double intercept() const { return intercept_; }
  const LogisticRegressionConfig& config() const { return config_; }
  // The training objective at the optimum (for comparison with other solvers), normalised by the
  // total weight: mean log loss + penalty / (C * total weight).
  double objective() const { return objective_; }
  std::int32_t iterations() const { return iterations_; }

  // Log-odds and probability per row, in parallel; InvalidArgument on a feature-count mismatch.
  absl::StatusOr<std::vector<double>> DecisionFunction(const Eigen::Ref<const RowMatrix>& X,
                                                       const ExecutionOptions& options = {}) const;
  absl::StatusOr<std::vector<double>> PredictProbability(const Eigen::Ref<const RowMatrix>& X,
                                                         const ExecutionOptions& options = {}) const;
  absl::StatusOr<std::vector<double>> Score(const Eigen::Ref<const RowMatrix>& X,
                                            const ExecutionOptions& options = {}) const override {
    return PredictProbability(X, options);
  }
  // Per-feature contributions coef_j * (x_j - mean_j) plus the base value (intercept + coef .
  // training mean) in the last column: each row sums exactly to its log-odds.
  absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X,
                                          const ExecutionOptions& options = {}) const override;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<LogisticRegression> FromModelFile(const io::ModelFile& file);

 private:
  LogisticRegression() = default;
  Eigen::VectorXd coef_;
  Eigen::VectorXd feature_mean_;
  FeatureSchema schema_;
  features::FeatureProfile training_profile_;
  double intercept_ = 0;
  double objective_ = 0;
  std::int32_t iterations_ = 0;
  LogisticRegressionConfig config_;
};

}  // namespace comptoir::propensity
