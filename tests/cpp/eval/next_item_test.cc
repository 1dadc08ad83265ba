#include "comptoir/eval/next_item.h"

#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir::eval {
namespace {

using ::comptoir::testing::StatusIs;

// Scores a fixed table, whatever the prefix: lets the tests craft ties and gaps.
class TableScorer final : public recommend::Recommender {
 public:
  TableScorer(std::int32_t num_items, std::vector<std::pair<std::int32_t, float>> scores)
      : num_items_(num_items), scores_(std::move(scores)) {}
  std::int32_t num_items() const override { return num_items_; }
  absl::StatusOr<recommend::RecommendResponse> Recommend(const recommend::RecommendRequest&) const override {
    return absl::UnimplementedError("not needed");
  }
  void ScoreCandidates(absl::Span<const std::int32_t>, std::vector<std::pair<std::int32_t, float>>& out) const override {
    out = scores_;
  }

 private:
  std::int32_t num_items_;
  std::vector<std::pair<std::int32_t, float>> scores_;
};

TEST(TieAwareRank, TiesCountAgainstTheTarget) {
  const std::vector<std::pair<std::int32_t, float>> scores = {{0, 1.0f}, {1, 0.5f}, {2, 0.5f}, {3, 0.5f}};
  EXPECT_EQ(TieAwareRank(scores, 0, 10), 1);
  EXPECT_EQ(TieAwareRank(scores, 1, 10), 4);  // ties with 2 and 3: all rank above it
  EXPECT_EQ(TieAwareRank(scores, 3, 10), 4);
  EXPECT_EQ(TieAwareRank(scores, 7, 10), 10);  // unscored: shares the lowest score with all unscored
}

TEST(EvaluateNextItem, ComputesHitRateMrrNdcgCoverageAndPopularity) {
  // Targets: session {5, 0} -> 0 (rank 1), {5, 1} -> 1 (rank 4, tied), {5, 9} -> 9 (unscored).
  const std::vector<std::int64_t> offsets = {0, 2, 4, 6};
  const std::vector<std::int32_t> items = {5, 0, 5, 1, 5, 9};
  const data::SessionsView test{offsets, items, {}, {}, {}};
  const TableScorer scorer(10, {{0, 1.0f}, {1, 0.5f}, {2, 0.5f}, {3, 0.5f}});
  const std::vector<std::int64_t> popularity = {10, 5, 5, 5, 0, 0, 0, 0, 0, 0};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const NextItemMetrics at3, EvaluateNextItem(scorer, test, 3, popularity, {}));
  EXPECT_EQ(at3.predictions, 3);
  EXPECT_DOUBLE_EQ(at3.hit_rate, 1.0 / 3);  // rank 4 is outside the top 3 although 1 is shown
  EXPECT_DOUBLE_EQ(at3.mrr, 1.0 / 3);
  EXPECT_DOUBLE_EQ(at3.coverage, 0.3);  // 0, 1, 2 shown
  EXPECT_DOUBLE_EQ(at3.popularity_bias, (1.0 + 0.5 + 0.5) / 3);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const NextItemMetrics at4, EvaluateNextItem(scorer, test, 4, {}, {}));
  EXPECT_DOUBLE_EQ(at4.hit_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(at4.mrr, (1.0 + 0.25) / 3);
  EXPECT_DOUBLE_EQ(at4.ndcg, (1.0 + 1.0 / std::log2(5.0)) / 3);
  // A model that scores nothing never hits, even with k = num_items - 1.
  const TableScorer silent(10, {});
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const NextItemMetrics none, EvaluateNextItem(silent, test, 9, {}, {}));
  EXPECT_EQ(none.hit_rate, 0.0);
  EXPECT_THAT(EvaluateNextItem(scorer, test, 0, {}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EvaluateNextItem(scorer, test, 3, std::vector<std::int64_t>{1}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::eval
