// Histogram gradient-boosted trees: the accurate base learner of propensity scoring and of the
// uplift meta-learners. Second-order boosting (Newton steps on the loss) with leaf-wise growth over
// binned features (trees/binning.h), learned missing-value directions, categorical splits by the
// sorted-gradient method, early stopping on a validation set, and exact TreeSHAP contributions.
// Results are bit-identical for a seed whatever the thread count.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/features/drift.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/scorer.h"
#include "comptoir/trees/binning.h"

namespace comptoir::trees {

// Numbered as in model files (comptoir.v1.Objective).
enum class Objective {
  kBinaryLogLoss = 0,  // y in {0, 1}; raw score = log-odds
  kSquaredError = 1,   // any finite y; raw score = prediction
  kPoisson = 2,        // y >= 0; raw score = log of the mean
  kTweedie = 3,        // y >= 0 (spend with many zeros); raw score = log of the mean
};

// The field names are the Python estimators' keyword arguments (scikit-learn's and LightGBM's).
struct GradientBoostingConfig {
  Objective objective = Objective::kBinaryLogLoss;
  double power = 1.5;  // Tweedie variance power, in (1, 2)
  std::int32_t n_estimators = 100;
  double learning_rate = 0.1;
  std::int32_t num_leaves = 31;
  // 0: limited by num_leaves only (and by kMaxTreeDepth, which no fit exceeds).
  std::int32_t max_depth = 0;
  // Rows per child, counted as LightGBM counts them: a candidate side's rows are estimated from its
  // share of the node's hessian (exact for unweighted squared error, close elsewhere).
  std::int32_t min_samples_leaf = 20;
  double min_hessian_leaf = 1e-3;
  double l2_regularization = 0.0;  // on leaf values
  double min_split_gain = 0.0;
  // Categorical splits: gradient ratios are smoothed by `categorical_smoothing` (in hessian units)
  // and a category needs `min_samples_category` rows to be ordered on its own.
  double categorical_smoothing = 10.0;
  std::int32_t min_samples_category = 10;
  double subsample = 1.0;  // fraction of rows per tree (without replacement)
  double colsample = 1.0;  // fraction of features per tree
  // With early_stopping, stop when the validation loss has not improved for n_iter_no_change trees;
  // the model keeps the trees up to the best iteration. Without it a validation set is only scored.
  bool early_stopping = false;
  std::int32_t n_iter_no_change = 10;
  BinningConfig binning;
  // How histograms are built. kSparse keeps, per row, only the values outside their feature's most
  // frequent bin and fills that bin in from the node's totals (faster when most values are zeros,
  // flags or other dominant values; twice the memory per kept value); kDense adds every value. kAuto
  // picks kSparse when at most 60% of the values are kept. Both grow the same trees up to rounding.
  // Either way the fit holds the binned features twice (one byte per value, by rows and by features).
  enum class HistogramLayout { kAuto = 0, kDense = 1, kSparse = 2 };
  HistogramLayout histogram_layout = HistogramLayout::kAuto;

  absl::Status Validate() const;
};

// The deepest tree a fit grows (whatever max_depth and num_leaves ask) and a model file may hold:
// TreeSHAP's recursion and path buffers grow with depth, so deeper trees in a file are rejected.
inline constexpr std::int32_t kMaxTreeDepth = 256;

// One tree in flat arrays. Node k is a leaf when left[k] < 0. A numeric split sends x to the left
// when x <= threshold; a categorical split when x's bin is in the node's category set; missing
// values (NaN) follow default_left.
struct Tree {
  std::vector<std::int32_t> feature;
  std::vector<double> threshold;
  std::vector<std::int32_t> left, right;
  std::vector<std::uint8_t> default_left;
  std::vector<std::int32_t> category_set;  // index into category_bins, -1 for numeric splits
  std::vector<double> value;               // leaf output (learning rate applied)
  std::vector<double> cover;               // training rows (sum of weights) reaching the node
  std::vector<std::array<std::uint64_t, 4>> category_bins;  // bins going left, one bitset per categorical split

  std::int32_t num_nodes() const { return static_cast<std::int32_t>(feature.size()); }
};

class GradientBoosting final : public Scorer {
 public:
  static constexpr const char* kModelKind = "gradient_boosting";

  // X: rows x features (NaN = missing); y: one target per row, checked against the objective;
  // sample_weight: empty or non-negative per row. The validation set (may be empty) drives early
  // stopping and the recorded validation loss.
  static absl::StatusOr<GradientBoosting> Fit(const Eigen::Ref<const RowMatrix>& X, absl::Span<const double> y,
                                              absl::Span<const double> sample_weight,
                                              const Eigen::Ref<const RowMatrix>& X_validation,
                                              absl::Span<const double> y_validation,
                                              const GradientBoostingConfig& config, const ExecutionOptions& options);

  // Raw scores (log-odds, or log mean) and predictions on the response scale, in parallel.
  absl::StatusOr<std::vector<double>> PredictRaw(const Eigen::Ref<const RowMatrix>& X,
                                                 const ExecutionOptions& options = {}) const;
  absl::StatusOr<std::vector<double>> Predict(const Eigen::Ref<const RowMatrix>& X,
                                              const ExecutionOptions& options = {}) const;
  // Exact TreeSHAP values (path-dependent, weighted by training cover): rows x (features + 1),
  // the last column the expected raw score; each row adds up to its raw score.
  absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X,
                                          const ExecutionOptions& options = {}) const override;

  // Scorer: the probability (binary log loss) or the prediction (the other objectives).
  Output output() const override {
    return config_.objective == Objective::kBinaryLogLoss ? Output::kProbability : Output::kPrediction;
  }
  absl::StatusOr<std::vector<double>> Score(const Eigen::Ref<const RowMatrix>& X,
                                            const ExecutionOptions& options = {}) const override {
    return Predict(X, options);
  }
  Link link() const override {
    switch (config_.objective) {
      case Objective::kBinaryLogLoss: return Link::kLogistic;
      case Objective::kSquaredError: return Link::kIdentity;
      case Objective::kPoisson:
      case Objective::kTweedie: return Link::kExp;
    }
    return Link::kNone;
  }
  const FeatureSchema& schema() const override { return schema_; }
  absl::Status set_schema(FeatureSchema schema);

  std::int32_t num_features() const override { return binning_.num_features(); }
  std::int32_t num_trees() const { return static_cast<std::int32_t>(trees_.size()); }
  const std::vector<Tree>& trees() const { return trees_; }
  double base_score() const { return base_score_; }
  Objective objective() const { return config_.objective; }
  const GradientBoostingConfig& config() const { return config_; }
  // ExecutionOptions::seed of the fit (row and feature sampling, the binning sample).
  std::uint64_t seed() const { return seed_; }
  // Mean validation loss after each tree (empty without a validation set).
  const std::vector<double>& validation_loss() const { return validation_loss_; }
  // Total split gain per feature.
  const std::vector<double>& feature_importance() const { return feature_importance_; }
  const std::vector<std::string>& feature_names() const { return schema_.feature_names; }
  absl::Status set_feature_names(std::vector<std::string> names);
  // What the training features looked like (empty unless set), kept in the model file.
  const features::FeatureProfile& training_profile() const { return training_profile_; }
  absl::Status set_training_profile(features::FeatureProfile profile);

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<GradientBoosting> FromModelFile(const io::ModelFile& file);

 private:
  GradientBoosting() = default;
  // Flattens the trees into one array of compact nodes, the layout batch scoring walks.
  void BuildScoringLayout();

  // One node in 24 bytes: a split (feature >= 0) or a leaf whose value sits in `threshold`.
  struct ScoringNode {
    double threshold;
    std::int32_t feature;
    std::int32_t left, right;  // absolute indices into scoring_nodes_
    std::int32_t category_set : 24;  // index into scoring_category_bins_, -1 for numeric splits
    std::uint32_t default_left : 8;
  };

  GradientBoostingConfig config_;
  FeatureBinning binning_;
  std::vector<Tree> trees_;
  double base_score_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<double> validation_loss_, feature_importance_;
  FeatureSchema schema_;
  features::FeatureProfile training_profile_;
  std::vector<ScoringNode> scoring_nodes_;
  std::vector<std::int32_t> scoring_roots_;
  std::vector<std::array<std::uint64_t, 4>> scoring_category_bins_;
};

}  // namespace comptoir::trees
