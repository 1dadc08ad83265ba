#include "comptoir/recommend/embedding.h"

#include "comptoir/recommend/hybrid.h"
#include "gtest/gtest.h"
#include "recommend/fixtures.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;
using fixtures::GroupEmbeddings;

TEST(EmbeddingRecommender, SimilarItemsWithTheirAnchorAndProfiles) {
  EmbeddingRecommender model(GroupEmbeddings(), {});
  const std::int32_t session[] = {3, 20, 99};
  RecommendRequest request;
  request.session_items = session;
  request.k = 5;
  request.filters.exclude_session_items = true;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model.Recommend(request));
  ASSERT_EQ(response.items.size(), 5u);
  for (std::int32_t item : response.items) EXPECT_LT(item, 10);
  EXPECT_EQ(response.unknown_items, (std::vector<std::int32_t>{20, 99}));
  EXPECT_EQ(response.reasons[0].ToString(), "similar to item 3 in your session");
  // An empty session needs a profile; with one, the user's group comes back.
  request.session_items = {};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse nothing, model.Recommend(request));
  EXPECT_TRUE(nothing.items.empty());
  const std::int32_t history[] = {11, 12, 13, 14};
  ASSERT_THAT(model.SetUserHistory(7, history), IsOk());
  request.user = 7;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse profiled, model.Recommend(request));
  ASSERT_FALSE(profiled.items.empty());
  EXPECT_GE(profiled.items[0], 10);
  EXPECT_EQ(profiled.reasons[0].kind, ReasonKind::kProfile);
  const std::int32_t bad[] = {500};
  EXPECT_THAT(model.SetUserHistory(8, bad), StatusIs(absl::StatusCode::kInvalidArgument));
  // Saved and loaded through the generic recommender loader, profiles included.
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model.ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, LoadRecommender(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse again, loaded->Recommend(request));
  EXPECT_EQ(again.items, profiled.items);
}

}  // namespace
}  // namespace comptoir::recommend
