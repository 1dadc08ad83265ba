// What serving exposes beyond single calls: hybrids nested in hybrids, and per-thread buffers
// that must not keep the largest model's memory forever.
#include <map>
#include <thread>

#include "comptoir/recommend/embedding.h"
#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/session_knn.h"
#include "gtest/gtest.h"
#include "internal/scratch.h"
#include "recommend/fixtures.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using Scores = std::map<std::int32_t, float>;

Scores Candidates(const Recommender& model, absl::Span<const std::int32_t> session) {
  std::vector<std::pair<std::int32_t, float>> out;
  model.ScoreCandidates(session, out);
  return Scores(out.begin(), out.end());
}

// The hybrid's rule, written out: each part scaled so its best candidate scores its weight.
Scores Blend(const std::vector<std::pair<Scores, float>>& parts) {
  Scores blended;
  for (const auto& [scores, weight] : parts) {
    float best = 0.0f;
    for (const auto& [item, score] : scores) best = std::max(best, score);
    if (!(best > 0.0f)) continue;
    for (const auto& [item, score] : scores) {
      if (score > 0.0f) blended[item] += score * weight / best;
    }
  }
  return blended;
}

void ExpectNear(const Scores& actual, const Scores& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [item, score] : expected) {
    ASSERT_EQ(actual.count(item), 1u) << item;
    EXPECT_NEAR(actual.at(item), score, 1e-5f) << item;
  }
}

struct Parts {
  std::shared_ptr<const Recommender> a, b, c;
};

Parts ThreeParts() {
  SessionKnnConfig flat;
  flat.position_decay = PositionDecay::kNone;
  SessionKnnConfig stan;
  stan.position_decay = PositionDecay::kExponential;
  stan.k = 20;
  return {SessionKnn::Fit(fixtures::ChainSessions(1500, 1).training(), 100, {}).value(),
          SessionKnn::Fit(fixtures::ChainSessions(800, 2).training(), 100, flat).value(),
          SessionKnn::Fit(fixtures::ChainSessions(600, 3).training(), 100, stan).value()};
}

TEST(NestedHybrid, ScoresEqualBlendingTheInnerHybridsScores) {
  const Parts parts = ThreeParts();
  const std::shared_ptr<const Recommender> inner = Hybrid::Create({{parts.a, 0.6f}, {parts.b, 0.4f}}).value();
  const auto nested = Hybrid::Create({{parts.c, 0.5f}, {inner, 0.3f}, {parts.a, 0.2f}}).value();
  const fixtures::Log queries = fixtures::ChainSessions(30, 9);
  for (std::int64_t q = 0; q < queries.view().num_sessions(); ++q) {
    const auto session = queries.view().SessionItems(q);
    const Scores expected = Blend({{Candidates(*parts.c, session), 0.5f},
                                   {Candidates(*inner, session), 0.3f},
                                   {Candidates(*parts.a, session), 0.2f}});
    ASSERT_FALSE(expected.empty());
    ExpectNear(Candidates(*nested, session), expected);
  }
}

TEST(NestedHybrid, AUnitWeightSingleHybridIsTransparent) {
  // A hybrid of one part at weight 1 rescales its best candidate to 1, so nesting the part in it
  // changes nothing: the nested blend must equal the flat one, scores and rankings.
  const Parts parts = ThreeParts();
  const std::shared_ptr<const Recommender> wrapped = Hybrid::Create({{parts.a, 1.0f}}).value();
  // The nested part comes second, so its blend runs while the outer one holds the first part.
  const auto nested = Hybrid::Create({{parts.c, 1.0f}, {wrapped, 1.0f}}).value();
  const auto flat = Hybrid::Create({{parts.c, 1.0f}, {parts.a, 1.0f}}).value();
  const fixtures::Log queries = fixtures::ChainSessions(30, 4);
  for (std::int64_t q = 0; q < queries.view().num_sessions(); ++q) {
    RecommendRequest request;
    request.session_items = queries.view().SessionItems(q);
    request.k = 10;
    ExpectNear(Candidates(*nested, request.session_items), Candidates(*flat, request.session_items));
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse n, nested->Recommend(request));
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse f, flat->Recommend(request));
    EXPECT_EQ(n.items, f.items);
  }
}

TEST(ForgetUser, ErasesAUserThroughTheBaseInterfaceIncludingALoadedHybridsParts) {
  // Session s of ChainSessions belongs to user s % 50, so 1500 sessions give user 7 thirty.
  const std::shared_ptr<Recommender> knn = SessionKnn::Fit(fixtures::ChainSessions(1500, 1).training(), 100, {}).value();
  const std::shared_ptr<Recommender> other = SessionKnn::Fit(fixtures::ChainSessions(600, 2).training(), 100, {}).value();
  const auto given = Hybrid::Create({{knn, 1.0f}, {other, 0.5f}}).value();
  EXPECT_EQ(given->ForgetUser(7), 0);  // parts handed to Create stay their owner's to erase
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, given->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Recommender> loaded, LoadRecommender(file));
  EXPECT_EQ(loaded->ForgetUser(7), 30 + 12);
  EXPECT_EQ(loaded->ForgetUser(7), 0);
  EXPECT_EQ(knn->ForgetUser(7), 30);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile saved, loaded->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Recommender> reloaded, LoadRecommender(saved));
  EXPECT_EQ(reloaded->ForgetUser(7), 0);
  EXPECT_EQ(reloaded->ForgetUser(8), 30 + 12);
  EmbeddingRecommender embedding(fixtures::GroupEmbeddings(), {});
  const std::int32_t history[] = {1, 2};
  ASSERT_TRUE(embedding.SetUserHistory(4, history).ok());
  Recommender& base = embedding;
  EXPECT_EQ(base.ForgetUser(4), 1);
  EXPECT_EQ(base.ForgetUser(4), 0);
}

TEST(ScratchBound, ReleasesOnlyAfterALongRunOfOversizedRequests) {
  internal::ScratchBound bound;
  const std::size_t big = internal::ScratchBound::kFloor * 8;
  // Small buffers, or buffers the current model needs, are never released.
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(bound.Release(internal::ScratchBound::kFloor, 1));
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(bound.Release(big, big / 2));
  // Alternating with the large model keeps the buffers: it is still being served.
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(bound.Release(big, i % 2 == 0 ? 10 : big));
  int released = 0;
  for (int i = 0; i < internal::ScratchBound::kStreak * 3; ++i) released += bound.Release(big, 10);
  EXPECT_EQ(released, 3);
}

TEST(ScratchBound, AThreadServesCorrectlyAcrossAReleaseOfItsBuffers) {
  // One thread serves a large index, then only a small one long enough for its buffers to be
  // dropped and rebuilt; its answers must match a thread that never saw the large model.
  const std::unique_ptr<SessionKnn> large = SessionKnn::Fit(fixtures::ChainSessions(100'000, 1).training(), 100, {}).value();
  const std::shared_ptr<const Recommender> small = SessionKnn::Fit(fixtures::ChainSessions(300, 2).training(), 100, {}).value();
  const auto hybrid = Hybrid::Create({{small, 1.0f}}).value();
  const fixtures::Log queries = fixtures::ChainSessions(50, 8);
  auto serve = [&](bool warm_large) {
    std::vector<std::vector<std::int32_t>> answers;
    std::thread([&] {
      RecommendRequest request;
      request.k = 10;
      if (warm_large) {
        request.session_items = queries.view().SessionItems(0);
        (void)large->Recommend(request);
      }
      for (int round = 0; round < 3 * internal::ScratchBound::kStreak / 50 + 1; ++round) {
        for (std::int64_t q = 0; q < queries.view().num_sessions(); ++q) {
          request.session_items = queries.view().SessionItems(q);
          const auto knn = small->Recommend(request);
          const auto blended = hybrid->Recommend(request);
          if (round == 0 || q % 7 == 0) {
            answers.push_back(knn.ok() ? knn->items : std::vector<std::int32_t>{-1});
            answers.push_back(blended.ok() ? blended->items : std::vector<std::int32_t>{-1});
          }
        }
      }
    }).join();
    return answers;
  };
  const std::int64_t releases = internal::ScratchBound::TotalReleases();
  const auto after_large = serve(true);
  EXPECT_GT(internal::ScratchBound::TotalReleases(), releases);
  EXPECT_EQ(after_large, serve(false));
}

}  // namespace
}  // namespace comptoir::recommend
