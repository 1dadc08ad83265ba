// Serving threads recommend while others change the models' user data: every answer must stay a
// valid ranking (no crash, no torn state), and erasures must hold once the writers are done.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "comptoir/recommend/embedding.h"
#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/session_knn.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "recommend/fixtures.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using ::comptoir::testing::IsOk;

// Counts what makes a response invalid: an error, too many items, items out of range or
// repeated, scores not finite, outside [lo, hi] or not in decreasing order, reasons missing.
int Violations(const absl::StatusOr<RecommendResponse>& response, int k, std::int32_t num_items, float lo, float hi) {
  if (!response.ok()) return 1;
  const RecommendResponse& r = *response;
  int bad = 0;
  bad += static_cast<int>(r.items.size()) > k;
  bad += r.scores.size() != r.items.size() || r.reasons.size() != r.items.size();
  std::vector<std::int32_t> sorted = r.items;
  std::sort(sorted.begin(), sorted.end());
  bad += std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
  for (std::size_t i = 0; i < r.items.size() && i < r.scores.size(); ++i) {
    bad += r.items[i] < 0 || r.items[i] >= num_items;
    bad += !std::isfinite(r.scores[i]) || r.scores[i] < lo || r.scores[i] > hi;
    bad += i > 0 && r.scores[i] > r.scores[i - 1];
  }
  return bad;
}

int CandidateViolations(const std::vector<std::pair<std::int32_t, float>>& candidates, std::int32_t num_items) {
  int bad = 0;
  for (const auto& [item, score] : candidates) bad += item < 0 || item >= num_items || !std::isfinite(score);
  return bad;
}

TEST(Concurrency, EmbeddingProfilesChangeWhileServing) {
  EmbeddingRecommender model(fixtures::GroupEmbeddings(), {});
  const std::int32_t history[] = {11, 12, 13, 14};
  for (std::int32_t user = 0; user < 20; ++user) ASSERT_THAT(model.SetUserHistory(user, history), IsOk());
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      internal::CounterRng rng(11, static_cast<std::uint64_t>(t));
      int bad = 0;
      for (int i = 0; i < 1500 || !done.load(); ++i) {
        const std::int32_t session[] = {static_cast<std::int32_t>(rng.UniformInt(20)), static_cast<std::int32_t>(rng.UniformInt(21))};
        RecommendRequest request;
        // Every third request is profile-only, so the profile alone decides the answer.
        if (i % 3 != 0) request.session_items = session;
        request.user = static_cast<std::int32_t>(rng.UniformInt(25));
        request.k = 5;
        bad += Violations(model.Recommend(request), 5, model.num_items(), -1.001f, 1.001f);
        std::vector<std::pair<std::int32_t, float>> candidates;
        model.ScoreCandidates(session, candidates);
        bad += CandidateViolations(candidates, model.num_items());
        if (i > 100'000) break;  // a stuck writer must not hang the test
      }
      violations += bad;
    });
  }
  std::thread writer([&] {
    internal::CounterRng rng(12, 0);
    for (int i = 0; i < 3000; ++i) {
      const auto user = static_cast<std::int32_t>(rng.UniformInt(25));
      if (i % 3 == 0) {
        model.ForgetUser(user);
      } else {
        const std::int32_t items[] = {static_cast<std::int32_t>(rng.UniformInt(20)), static_cast<std::int32_t>(rng.UniformInt(20))};
        if (!model.SetUserHistory(user, items).ok()) ++violations;
      }
      if (i % 500 == 0 && !model.ToModelFile().ok()) ++violations;
    }
    done = true;
  });
  writer.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(violations.load(), 0);
  // Once the writers are done an erasure holds: the profile is gone from answers and the file.
  ASSERT_THAT(model.SetUserHistory(3, history), IsOk());
  EXPECT_TRUE(model.ForgetUser(3));
  EXPECT_FALSE(model.ForgetUser(3));
  const std::vector<std::int32_t> users = model.profile_users();
  EXPECT_FALSE(std::binary_search(users.begin(), users.end(), 3));
  RecommendRequest profile_only;
  profile_only.user = 3;
  profile_only.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse forgotten, model.Recommend(profile_only));
  EXPECT_TRUE(forgotten.items.empty());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model.ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, EmbeddingRecommender::FromModelFile(file));
  EXPECT_EQ(loaded->profile_users(), users);
}

TEST(Concurrency, SessionKnnAndNestedHybridServeWhileSessionsComeAndGo) {
  SessionKnnConfig config;
  config.max_sessions = 1200;  // online adds evict and compact while readers score
  config.sample_size = 50;
  const std::shared_ptr<SessionKnn> knn = SessionKnn::Fit(fixtures::ChainSessions(1000, 1).training(), 100, config).value();
  SessionKnnConfig flat;
  flat.position_decay = PositionDecay::kNone;
  const std::shared_ptr<const Recommender> other = SessionKnn::Fit(fixtures::ChainSessions(500, 2).training(), 100, flat).value();
  std::shared_ptr<const Recommender> inner = Hybrid::Create({{knn, 0.6f}, {other, 0.4f}}).value();
  const std::shared_ptr<const Recommender> nested = Hybrid::Create({{inner, 0.7f}, {knn, 0.3f}}).value();
  const fixtures::Log queries = fixtures::ChainSessions(300, 7);
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      int bad = 0;
      for (int i = 0; i < 600 || !done.load(); ++i) {
        RecommendRequest request;
        request.session_items = queries.view().SessionItems((i * 3 + t) % 300);
        request.k = 10;
        // Neighbour votes are positive; popularity fillers sit in (-1, 0), decreasing even
        // while the popularity order lags the online sessions.
        bad += Violations(knn->Recommend(request), 10, 100, -1.0f, 1e9f);
        // Blended scores: weights sum to 1 at each level, so nothing exceeds 1.
        bad += Violations(nested->Recommend(request), 10, 100, 0.0f, 1.0f + 1e-5f);
        std::vector<std::pair<std::int32_t, float>> candidates;
        nested->ScoreCandidates(request.session_items, candidates);
        bad += CandidateViolations(candidates, 100);
        for (const auto& [item, score] : candidates) bad += !(score > 0.0f && score <= 1.0f + 1e-5f);
        if (i > 50'000) break;
      }
      violations += bad;
    });
  }
  std::thread writer([&] {
    const fixtures::Log online = fixtures::ChainSessions(1500, 5);
    for (std::int64_t s = 0; s < online.view().num_sessions(); ++s) {
      // Users 1000+ are online-only, so forgetting them is checked exactly below.
      if (!knn->AddSession(online.view().SessionItems(s), 3'000'000 + s, 1000 + static_cast<std::int32_t>(s % 20)).ok()) ++violations;
      if (s % 40 == 0) knn->Forget(1000 + static_cast<std::int32_t>((s / 40) % 20));
      if (s % 500 == 0 && !knn->ToModelFile().ok()) ++violations;
    }
    done = true;
  });
  writer.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_LE(knn->num_sessions(), config.max_sessions);
  std::int64_t removed = 0;
  for (std::int32_t user = 1000; user < 1020; ++user) removed += knn->Forget(user);
  EXPECT_GT(removed, 0);
  for (std::int32_t user = 1000; user < 1020; ++user) EXPECT_EQ(knn->Forget(user), 0);
}

}  // namespace
}  // namespace comptoir::recommend
