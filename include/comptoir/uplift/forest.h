// Uplift trees and random forests: trees whose splits maximise the difference between how treated
// and control customers respond (Rzepakowski and Jaroszewicz's divergence criteria, as causalml's
// UpliftRandomForestClassifier uses them), so each leaf holds customers with a similar effect.
//
// Several offers against one control: a node's divergence is the sum over offers of the divergence
// between that offer's and control's outcome distributions. Binary outcomes (conversion) work with
// every criterion; continuous outcomes (spend) with kEuclidean (on the arm means) and kDDP.
// Arm outcome estimates are shrunk towards the parent node's by `n_reg` pseudo-rows, which keeps
// small arms from producing extreme divergences. Trees grow on binned features (trees/binning.h)
// in parallel, one seeded random stream per tree: bit-identical for any thread count.
#pragma once

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

namespace comptoir::uplift {

using RowMatrix = trees::RowMatrix;

enum class SplitCriterion {
  kKL,         // Kullback-Leibler divergence (binary outcomes)
  kEuclidean,  // squared Euclidean distance between outcome distributions (binary) or means (continuous)
  kChi,        // chi-square divergence (binary outcomes)
  kDDP,        // difference of the effects in the two children (Hansotia and Rukstales); max over offers
};

struct UpliftForestConfig {
  SplitCriterion criterion = SplitCriterion::kKL;
  std::int32_t n_estimators = 100;  // trees
  std::int32_t max_depth = 6;
  std::int32_t min_samples_leaf = 100;
  std::int32_t min_samples_treatment = 10;  // rows of every arm in every child
  double n_reg = 100;                        // pseudo-rows of shrinkage towards the parent
  // Features tried at each node: a fraction of them (0: the square root of their number).
  double max_features = 0;
  // Each tree sees a bootstrap sample (with replacement) or, when false, all rows.
  bool bootstrap = true;
  // Honest estimation: half of each tree's rows choose the splits, the other half the leaf values.
  bool honest = false;
  trees::BinningConfig binning{64, {}, 200000};

  absl::Status Validate() const;
};

struct UpliftTree {
  std::vector<std::int32_t> feature;  // -1 at leaves
  std::vector<double> threshold;      // x <= threshold goes left; NaN follows default_left
  std::vector<std::int32_t> left, right;
  std::vector<std::uint8_t> default_left;
  std::vector<double> arm_mean;       // node x arm estimated outcome, control first
  std::vector<double> count;          // rows reaching the node
};

class UpliftForest final : public UpliftModel {
 public:
  static constexpr const char* kModelKind = "uplift_forest";

  // treatment: 0 (control) or 1..K per row, every arm present; y: 0/1 for kKL and kChi, any finite
  // value otherwise.
  static absl::StatusOr<UpliftForest> Fit(const Eigen::Ref<const RowMatrix>& X, absl::Span<const std::int32_t> treatment,
                                          absl::Span<const double> y, const UpliftForestConfig& config,
                                          const ExecutionOptions& options);

  // Estimated effect of each offer against control: rows x K.
  absl::StatusOr<RowMatrix> Predict(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options = {}) const;
  // Estimated outcome under each arm, control first: rows x (K + 1).
  absl::StatusOr<RowMatrix> PredictArmOutcomes(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options = {}) const;
  // Path attributions of offer `offer`'s (1..K) effect: each split moves the effect from the parent's
  // to the child's, credited to the split feature; rows x (features + 1), the last column the forest's
  // mean root effect. Each row adds up to its predicted effect.
  absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X, std::int32_t offer,
                                          const ExecutionOptions& options = {}) const override;
  absl::StatusOr<RowMatrix> Effect(const Eigen::Ref<const RowMatrix>& X,
                                   const ExecutionOptions& options = {}) const override {
    return Predict(X, options);
  }
  const FeatureSchema& schema() const override { return schema_; }
  absl::Status set_schema(FeatureSchema schema);

  const UpliftForestConfig& config() const { return config_; }
  std::int32_t num_features() const override { return num_features_; }
  std::int32_t num_offers() const override { return num_arms_ - 1; }
  std::int32_t num_trees() const { return static_cast<std::int32_t>(trees_.size()); }
  const std::vector<UpliftTree>& trees() const { return trees_; }
  // Total criterion gain per feature, over all trees.
  const std::vector<double>& feature_importance() const { return feature_importance_; }
  const std::vector<std::string>& feature_names() const { return schema_.feature_names; }
  absl::Status set_feature_names(std::vector<std::string> names);
  // What the training features looked like (empty unless set), kept in the model file.
  const features::FeatureProfile& training_profile() const { return training_profile_; }
  absl::Status set_training_profile(features::FeatureProfile profile);

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<UpliftForest> FromModelFile(const io::ModelFile& file);

 private:
  UpliftForest() = default;
  std::int32_t LeafOf(const UpliftTree& tree, const double* row) const;

  UpliftForestConfig config_;
  std::int32_t num_features_ = 0;
  std::int32_t num_arms_ = 0;
  std::vector<UpliftTree> trees_;
  std::vector<double> feature_importance_;
  FeatureSchema schema_;
  features::FeatureProfile training_profile_;
};

}  // namespace comptoir::uplift
