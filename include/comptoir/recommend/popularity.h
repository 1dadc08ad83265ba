// Cold start and trending: time-decayed popularity, overall and per category, and
// "frequently bought together": item-to-item co-purchase association for cart cross-sell.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/recommend/recommender.h"

namespace comptoir::recommend {

struct PopularityConfig {
  float half_life_days = 7.0f;  // an event's weight halves every half_life_days before the newest event
  // Weight per data::EventKind (view, cart, purchase, remove-from-cart, return).
  float kind_weights[data::kNumEventKinds] = {1.0f, 3.0f, 5.0f, 0.0f, 0.0f};
  absl::Status Validate() const;
};

// Events to learn from; timestamps and kinds may be empty (all equal weight and age).
struct EventsView {
  absl::Span<const std::int32_t> items;
  absl::Span<const std::int64_t> timestamps;
  absl::Span<const data::EventKind> kinds;
};

class Popularity final : public Recommender {
 public:
  static constexpr const char* kModelKind = "popularity";

  // `item_category` (one per item, may be empty) enables "trending in category C": a session's
  // categories get their own trending items first.
  static absl::StatusOr<std::unique_ptr<Popularity>> Fit(const EventsView& events, std::int32_t num_items,
                                                         absl::Span<const std::int32_t> item_category,
                                                         const PopularityConfig& config);

  std::int32_t num_items() const override { return static_cast<std::int32_t>(score_.size()); }
  const PopularityConfig& config() const { return config_; }
  absl::Span<const float> scores() const { return score_; }
  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<std::unique_ptr<Popularity>> FromModelFile(const io::ModelFile& file);

 private:
  Popularity(std::vector<float> score, std::vector<std::int32_t> category, const PopularityConfig& config);
  PopularityConfig config_;
  std::vector<float> score_;
  std::vector<std::int32_t> category_;       // empty when unknown
  std::vector<std::int32_t> ranked_;         // items by score, best first
  // ranked_ split by category (CSR over the sorted ids present): a session's categories are
  // served in O(k log categories), not O(items).
  std::size_t CategoryIndex(std::int32_t category) const;  // category_ids_.size() when absent
  std::vector<std::int32_t> category_ids_;
  std::vector<std::int64_t> category_offsets_;
  std::vector<std::int32_t> category_ranked_;
};

enum class AssociationMeasure : std::int32_t { kLift = 0, kCosine = 1, kConfidence = 2 };

struct CoPurchaseConfig {
  AssociationMeasure measure = AssociationMeasure::kCosine;
  std::int32_t min_support = 2;        // baskets an item pair must share
  std::int32_t max_neighbours = 100;   // associations kept per item
  std::int32_t max_basket_size = 50;   // larger baskets are truncated (bulk orders carry no signal)
  absl::Status Validate() const;
};

class CoPurchase final : public Recommender {
 public:
  static constexpr const char* kModelKind = "co_purchase";

  // One basket per session or order: its distinct items count once.
  static absl::StatusOr<std::unique_ptr<CoPurchase>> Fit(const data::SessionsView& baskets, std::int32_t num_items,
                                                         const CoPurchaseConfig& config,
                                                         const ExecutionOptions& options = {});

  std::int32_t num_items() const override { return static_cast<std::int32_t>(offsets_.size()) - 1; }
  const CoPurchaseConfig& config() const { return config_; }
  // Items bought with `item`, best first, as (item, association) pairs.
  std::vector<std::pair<std::int32_t, float>> BoughtWith(std::int32_t item) const;
  // Cart and purchase events anchor the cross-sell when present, else every session item does.
  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<std::unique_ptr<CoPurchase>> FromModelFile(const io::ModelFile& file);

 private:
  CoPurchase() = default;
  CoPurchaseConfig config_;
  std::vector<std::int64_t> offsets_{0};   // CSR over items
  std::vector<std::int32_t> neighbours_;
  std::vector<float> association_;
  std::vector<std::int32_t> support_;
};

struct SequentialRulesConfig {
  std::int32_t max_steps = 10;        // b counts as following a when at most this many clicks later
  std::int32_t max_neighbours = 200;  // rules kept per item
  std::int32_t session_items = 3;     // most recent session items that fire rules (weight 1 / age)
  absl::Status Validate() const;
};

// Sequential rules (Ludewig & Jannach 2018): item b is recommended after a when b followed a in
// training sessions, each occurrence weighted 1 / (steps between them). Complements session kNN,
// which ignores order inside neighbour sessions.
class SequentialRules final : public Recommender {
 public:
  static constexpr const char* kModelKind = "sequential_rules";

  static absl::StatusOr<std::unique_ptr<SequentialRules>> Fit(const data::SessionsView& sessions, std::int32_t num_items,
                                                              const SequentialRulesConfig& config,
                                                              const ExecutionOptions& options = {});

  std::int32_t num_items() const override { return static_cast<std::int32_t>(offsets_.size()) - 1; }
  const SequentialRulesConfig& config() const { return config_; }
  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<std::unique_ptr<SequentialRules>> FromModelFile(const io::ModelFile& file);

 private:
  SequentialRules() = default;
  SequentialRulesConfig config_;
  std::vector<std::int64_t> offsets_{0};
  std::vector<std::int32_t> next_;
  std::vector<float> weight_;
  std::vector<std::int32_t> support_;
};

}  // namespace comptoir::recommend
