#include <limits>

#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/popularity.h"
#include "comptoir/recommend/session_knn.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using ::comptoir::testing::StatusIs;
using data::EventKind;

// Baskets: {0,1} bought together often, {0,2} once, {3,4} often; 5 is bought alone.
struct Baskets {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  void Add(std::vector<std::int32_t> basket, int times) {
    for (int t = 0; t < times; ++t) {
      items.insert(items.end(), basket.begin(), basket.end());
      offsets.push_back(static_cast<std::int64_t>(items.size()));
    }
  }
  data::SessionsView view() const { return {offsets, items, {}, {}, {}}; }
};

Baskets Shop() {
  Baskets b;
  b.Add({0, 1}, 10);
  b.Add({0, 2}, 1);
  b.Add({3, 4}, 8);
  b.Add({5}, 20);
  b.Add({1, 0, 6}, 2);
  return b;
}

TEST(CoPurchase, RanksBoughtTogetherAndExplainsItWithTheCartItem) {
  CoPurchaseConfig config;
  config.min_support = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto model, CoPurchase::Fit(Shop().view(), 7, config));
  const auto with_zero = model->BoughtWith(0);
  ASSERT_EQ(with_zero.size(), 2u);  // 2 shares only one basket: below min_support
  EXPECT_EQ(with_zero[0].first, 1);
  EXPECT_EQ(with_zero[1].first, 6);
  const std::int32_t session[] = {3, 0};
  const EventKind kinds[] = {EventKind::kView, EventKind::kCart};
  RecommendRequest request;
  request.session_items = session;
  request.session_kinds = kinds;
  request.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  ASSERT_FALSE(response.items.empty());
  EXPECT_EQ(response.items[0], 1);  // the cart item anchors, not the viewed one
  EXPECT_EQ(response.reasons[0].ToString(), "often in the same basket as item 0 (12 baskets)");
  model->set_training_events(TrainingEvents::kPurchases);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse bought, model->Recommend(request));
  EXPECT_EQ(bought.reasons[0].ToString(), "often bought together with item 0 (12 orders)");
  model->set_training_events(TrainingEvents::kViews);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse viewed, model->Recommend(request));
  EXPECT_EQ(viewed.reasons[0].ToString(), "often viewed together with item 0 (12 sessions)");
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, CoPurchase::FromModelFile(model->ToModelFile().value()));
  EXPECT_EQ(loaded->training_events(), TrainingEvents::kViews);
  for (std::int32_t item : response.items) EXPECT_NE(item, 4);
  config.measure = AssociationMeasure::kLift;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto lift, CoPurchase::Fit(Shop().view(), 7, config));
  EXPECT_FALSE(lift->BoughtWith(3).empty());
  EXPECT_THAT(CoPurchase::Fit(Shop().view(), 5, config), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Popularity, DecaysWithAgeAndTrendsWithinTheSessionsCategory) {
  const std::int32_t items[] = {0, 0, 0, 1, 2, 2};
  const std::int64_t day = 86'400;
  const std::int64_t times[] = {0, 0, 0, 30 * day, 30 * day, 30 * day};  // item 0 was popular a month ago
  PopularityConfig config;
  config.half_life_days = 7;
  const std::int32_t category[] = {0, 1, 1};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto model, Popularity::Fit({items, times, {}}, 3, category, config));
  EXPECT_GT(model->scores()[2], model->scores()[0]);
  EXPECT_NEAR(model->scores()[0], 3.0 * std::exp2(-30.0 / 7.0), 1e-4);
  RecommendRequest request;
  request.k = 3;
  const std::int32_t session[] = {0};
  request.session_items = session;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  EXPECT_EQ(response.items[0], 0);  // the session's category first
  EXPECT_EQ(response.reasons[0].ToString(), "trending in category 0");
  EXPECT_EQ(response.items[1], 2);
  EXPECT_EQ(response.reasons[1].ToString(), "popular right now");
}

// Found by fuzz_load_model: a category id near 2^31 (in a file, or a catalogue) sized the
// per-category index by the id (13 GB); it is sized by the categories present now.
TEST(Popularity, HugeCategoryIdsCostNoMemoryAndStillTrend) {
  const std::int32_t items[] = {0, 0, 1, 2, 2, 2};
  const std::int32_t category[] = {2'000'000'000, std::numeric_limits<std::int32_t>::max(), 2'000'000'000};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto model, Popularity::Fit({items, {}, {}}, 3, category, {}));
  RecommendRequest request;
  request.k = 3;
  const std::int32_t session[] = {1};
  request.session_items = session;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  EXPECT_EQ(response.items, (std::vector<std::int32_t>{1, 2, 0}));  // item 1's category first
  EXPECT_EQ(response.reasons[0].category, std::numeric_limits<std::int32_t>::max());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, Popularity::FromModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse again, loaded->Recommend(request));
  EXPECT_EQ(again.items, response.items);
}

TEST(SequentialRules, FollowsOrderAndRoundTrips) {
  Baskets clicks;
  clicks.Add({0, 1, 2}, 5);
  clicks.Add({2, 0}, 1);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto model, SequentialRules::Fit(clicks.view(), 3, {}));
  std::vector<std::pair<std::int32_t, float>> scores;
  const std::int32_t after_zero[] = {0};
  model->ScoreCandidates(after_zero, scores);
  std::sort(scores.begin(), scores.end());
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_FLOAT_EQ(scores[0].second, 5.0f);        // 1 follows 0 one step later, five times
  EXPECT_FLOAT_EQ(scores[1].second, 5.0f * 0.5f);  // 2 follows two steps later
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto loaded, LoadRecommender(file));
  std::vector<std::pair<std::int32_t, float>> again;
  loaded->ScoreCandidates(after_zero, again);
  std::sort(again.begin(), again.end());
  EXPECT_EQ(again, scores);
}

TEST(Hybrid, BlendsNormalisedScoresAndSavesItsParts) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(std::shared_ptr<CoPurchase> together, CoPurchase::Fit(Shop().view(), 7, {}));
  const std::int32_t clicks[] = {5, 5, 5, 6};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(std::shared_ptr<Popularity> popular, Popularity::Fit({clicks, {}, {}}, 7, {}, {}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto hybrid, Hybrid::Create({{together, 1.0f}, {popular, 0.5f}}));
  std::vector<std::pair<std::int32_t, float>> scores;
  const std::int32_t session[] = {0};
  hybrid->ScoreCandidates(session, scores);
  std::sort(scores.begin(), scores.end());
  // 1 is together's best (1.0); 5 is popularity's best (0.5); 6 gets a share of both.
  ASSERT_GE(scores.size(), 3u);
  EXPECT_FLOAT_EQ(scores[0].second, 1.0f);
  const auto five = std::find_if(scores.begin(), scores.end(), [](const auto& p) { return p.first == 5; });
  ASSERT_NE(five, scores.end());
  EXPECT_FLOAT_EQ(five->second, 0.5f);
  RecommendRequest request;
  request.session_items = session;
  request.k = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, hybrid->Recommend(request));
  EXPECT_EQ(response.items[0], 1);
  EXPECT_EQ(response.reasons[0].kind, ReasonKind::kBoughtTogether);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, hybrid->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile parsed, io::ParseModelFile(bytes));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto loaded, LoadRecommender(parsed));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse again, loaded->Recommend(request));
  EXPECT_EQ(again.items, response.items);
  EXPECT_EQ(again.scores, response.scores);
  EXPECT_THAT(Hybrid::Create({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Hybrid::Create({{together, -1.0f}}), StatusIs(absl::StatusCode::kInvalidArgument));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(std::shared_ptr<Popularity> small, Popularity::Fit({clicks, {}, {}}, 8, {}, {}));
  EXPECT_THAT(Hybrid::Create({{together, 1.0f}, {small, 1.0f}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(LoadRecommender(io::ModelFile("no_such_model")), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace comptoir::recommend
