// Uplift meta-learners served from C++: S-, T-, X-, DR-learners and the class transformation as
// composite models whose parts are nested model files of any comptoir Scorer (logistic regression,
// boosted classifier or regressor, ...). Fitting is orchestrated by the Python layer (each part is
// fitted by its own C++ model); a MetaLearner holds the fitted parts and combines their scores
// into each offer's effect exactly as the Python learners define it.
//
// Parts, in file order (part_0, part_1, ...):
//   kSLearner            one model of the design [x, arm indicators (K), indicator_k * x_j (K x p)]
//   kTLearner            one response model per arm, control first
//   kXLearner            per offer: the effect regressor fitted on control rows, then the one on
//                        treated rows; effect = blend_k * on_control + (1 - blend_k) * on_treated
//   kDRLearner           one effect regressor per offer
//   kClassTransformation one classifier per offer; effect = 2 P(z = 1 | x) - 1
// Response models are classifiers (probability outputs) for a binary outcome and regressors for a
// continuous one; effect regressors are regressors.
//
// Contributions are each part's per-feature contributions on the scale of its output, combined
// with the same weights as the effect, so each row adds up to the effect (to rounding):
//   * a part whose output is its raw score (a squared-error regressor) contributes its own
//     contributions unchanged (the X- and DR-learners' reasons are their regressors' TreeSHAP);
//   * a part whose output goes through a link (probability = sigmoid(raw), Poisson/Tweedie mean =
//     exp(raw)) has its raw contributions rescaled by the secant slope of the link between its
//     base value b and the row's raw score f: c_j * (g(f) - g(b)) / (f - b), base value g(b) (the
//     "rescale" rule; the slope is g'(b) where f == b). Signs and ranking within the row are kept.
//     The link is the part's Scorer::link(); a part without one (a calibrated classifier) has no
//     reasons on the effect's scale, and Contributions says so (FailedPrecondition).
//   * the S-learner credits a design column to the feature it is built from (x_j and every
//     indicator_k * x_j to feature j); the arm indicators' own contributions, which belong to the
//     offer rather than to any feature, go to the base-value column.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/features/drift.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/scorer.h"

namespace comptoir::uplift {

enum class MetaLearnerType : std::int32_t {
  kSLearner = 1,
  kTLearner = 2,
  kXLearner = 3,
  kDRLearner = 4,
  kClassTransformation = 5,
};

// What prediction needs besides the parts.
struct MetaLearnerSpec {
  MetaLearnerType learner = MetaLearnerType::kTLearner;
  bool binary_outcome = true;  // response models give probabilities (else predictions)
  std::int32_t num_arms = 2;   // control and K = num_arms - 1 offers
  std::vector<double> blend;   // X-learner only: the on-control regressor's weight per offer, in [0, 1]
};

class MetaLearner final : public UpliftModel {
 public:
  static constexpr const char* kSLearnerKind = "s_learner";
  static constexpr const char* kTLearnerKind = "t_learner";
  static constexpr const char* kXLearnerKind = "x_learner";
  static constexpr const char* kDRLearnerKind = "dr_learner";
  static constexpr const char* kClassTransformationKind = "class_transformation";
  static const char* KindOf(MetaLearnerType learner);

  // `parts`: the parts' model-file bytes in the order above. `schema`: the outer features (names,
  // category levels) and the arm names; names x0.. and arms "control", "offer 1".. when empty.
  // InvalidArgument when the parts do not fit the learner (count, output, feature count).
  static absl::StatusOr<MetaLearner> Create(const MetaLearnerSpec& spec, std::vector<std::string> parts,
                                            FeatureSchema schema);

  absl::StatusOr<RowMatrix> Effect(const Eigen::Ref<const RowMatrix>& X,
                                   const ExecutionOptions& options = {}) const override;
  absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X, std::int32_t offer,
                                          const ExecutionOptions& options = {}) const override;
  // The outcome under each arm, control first (rows x num_arms): T- and S-learners only
  // (FailedPrecondition for the learners that model effects, not outcomes).
  absl::StatusOr<RowMatrix> ArmOutcomes(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options = {}) const;
  // The S-learner's design for `arm` (0 control), exactly as its part was fitted on.
  static RowMatrix Design(const Eigen::Ref<const RowMatrix>& X, std::int32_t arm, std::int32_t num_arms);

  std::int32_t num_features() const override { return num_features_; }
  std::int32_t num_offers() const override { return spec_.num_arms - 1; }
  const FeatureSchema& schema() const override { return schema_; }
  absl::Status set_schema(FeatureSchema schema);
  const MetaLearnerSpec& spec() const { return spec_; }
  std::int32_t num_parts() const { return static_cast<std::int32_t>(parts_.size()); }
  const Scorer& part(std::int32_t k) const { return *parts_[static_cast<std::size_t>(k)].model; }
  // The part's model-file bytes as given (a Python estimator record inside is kept).
  const std::string& part_bytes(std::int32_t k) const { return parts_[static_cast<std::size_t>(k)].bytes; }
  const features::FeatureProfile& training_profile() const { return training_profile_; }
  absl::Status set_training_profile(features::FeatureProfile profile);

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  // Any of the five kinds; a file whose config names another learner than its kind, or whose
  // parts do not fit, is a ModelFormatError.
  static absl::StatusOr<MetaLearner> FromModelFile(const io::ModelFile& file);

 private:
  // Parts are immutable once loaded: copies of a learner share them.
  struct Part {
    std::string bytes;
    std::shared_ptr<const Scorer> model;
  };
  // One weighted part score in an offer's effect; design_arm >= 0 scores the S-learner design.
  struct Term {
    std::int32_t part;
    std::int32_t design_arm;
    double weight;
  };
  struct OfferPlan {
    std::vector<Term> terms;
    double constant = 0;
  };

  MetaLearner() = default;
  static absl::StatusOr<MetaLearner> Build(const MetaLearnerSpec& spec, std::vector<Part> parts, FeatureSchema schema);
  absl::Status CheckInput(const Eigen::Ref<const RowMatrix>& X) const;
  absl::StatusOr<std::vector<double>> PartScore(const Term& term, const Eigen::Ref<const RowMatrix>& X,
                                                const ExecutionOptions& options) const;
  absl::StatusOr<RowMatrix> PartContributions(const Term& term, const Eigen::Ref<const RowMatrix>& X,
                                              const ExecutionOptions& options) const;

  MetaLearnerSpec spec_;
  std::int32_t num_features_ = 0;
  std::vector<Part> parts_;
  std::vector<OfferPlan> plans_;  // per offer
  FeatureSchema schema_;
  features::FeatureProfile training_profile_;
};

}  // namespace comptoir::uplift
