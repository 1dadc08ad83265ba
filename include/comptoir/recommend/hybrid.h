// A weighted blend of recommenders: each component's scores are scaled so its best candidate
// scores 1, then summed with the component's weight. Weights are meant to be tuned on a
// validation split carved from the training data (comptoir.recommend.tune_hybrid_weights).
// A hybrid is immutable and as thread-safe as its parts; a part may itself be a hybrid (each
// nesting level blends in its own per-thread buffers).
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/io/model_file.h"
#include "comptoir/recommend/recommender.h"

namespace comptoir::recommend {

struct HybridComponent {
  std::shared_ptr<const Recommender> model;
  float weight = 1.0f;
};

class Hybrid final : public Recommender {
 public:
  static constexpr const char* kModelKind = "hybrid";

  // Components must agree on num_items; weights must be finite and >= 0.
  static absl::StatusOr<std::unique_ptr<Hybrid>> Create(std::vector<HybridComponent> components);

  std::int32_t num_items() const override { return components_.front().model->num_items(); }
  const std::vector<HybridComponent>& components() const { return components_; }

  // Each component proposes candidates (3k of them, filters applied); the item's reason is the
  // reason of the component that contributed most to its blended score.
  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  // Erases the user from the parts this hybrid owns (those it loaded from its file); parts given
  // to Create stay with their owner, who erases through them directly.
  std::int64_t ForgetUser(std::int32_t user) override;

  // Components are stored as nested model files, so any saveable recommender can be a part.
  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  // Components load through the model registry, whatever their kind.
  static absl::StatusOr<std::unique_ptr<Hybrid>> FromModelFile(const io::ModelFile& file);

 private:
  explicit Hybrid(std::vector<HybridComponent> components) : components_(std::move(components)) {}
  std::vector<HybridComponent> components_;
  std::vector<std::shared_ptr<Recommender>> owned_;  // the loaded parts, writable for erasure
};

// Any saved recommender, by its model kind (through comptoir::LoadModel's registry); a model of
// another family is a ModelFormatError naming its kind.
absl::StatusOr<std::unique_ptr<Recommender>> LoadRecommender(const io::ModelFile& file);

}  // namespace comptoir::recommend
