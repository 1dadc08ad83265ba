#include "comptoir/recommend/session_knn.h"

#include <thread>

#include "comptoir/eval/next_item.h"
#include "gtest/gtest.h"
#include "recommend/fixtures.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using fixtures::ChainSessions;
using fixtures::Log;

std::unique_ptr<SessionKnn> FitChains(SessionKnnConfig config = {}) {
  return SessionKnn::Fit(ChainSessions(3000, 1).training(), 100, config).value();
}

TEST(SessionKnn, RecommendsTheChainsContinuationWithReasons) {
  const auto model = FitChains();
  const std::int32_t session[] = {40, 41, 42};
  RecommendRequest request;
  request.session_items = session;
  request.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  ASSERT_EQ(response.items.size(), 5u);
  EXPECT_EQ(response.items[0] / 20, 2);
  EXPECT_TRUE(std::is_sorted(response.scores.rbegin(), response.scores.rend()));
  EXPECT_EQ(response.reasons[0].kind, ReasonKind::kCoVisited);
  EXPECT_GT(response.reasons[0].support, 0);
  EXPECT_THAT(response.reasons[0].ToString(), HasSubstr("seen with item 4"));
  EXPECT_TRUE(response.unknown_items.empty());
}

TEST(SessionKnn, ReasonsNameTheEventsItWasTrainedOn) {
  auto model = FitChains();
  const std::int32_t session[] = {40, 41, 42};
  RecommendRequest request;
  request.session_items = session;
  request.k = 1;
  model->set_training_events(TrainingEvents::kPurchases);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse bought, model->Recommend(request));
  EXPECT_EQ(bought.reasons[0].events, TrainingEvents::kPurchases);
  EXPECT_THAT(bought.reasons[0].ToString(), HasSubstr("bought together with item 4"));
  EXPECT_THAT(bought.reasons[0].ToString(), HasSubstr("recent orders"));
  EXPECT_THAT(bought.reasons[0].ToString(), Not(HasSubstr("viewed")));
  model->set_training_events(TrainingEvents::kViews);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse viewed, model->Recommend(request));
  EXPECT_THAT(viewed.reasons[0].ToString(), HasSubstr("viewed together with item 4"));
  // The file keeps what the model learned from.
  const io::ModelFile file = model->ToModelFile().value();
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, SessionKnn::FromModelFile(file));
  EXPECT_EQ(loaded->training_events(), TrainingEvents::kViews);
}

TEST(SessionKnn, VariantsAllBeatPopularityOnHeldOutSessions) {
  const Log test = ChainSessions(300, 99);
  for (const PositionDecay decay : {PositionDecay::kNone, PositionDecay::kLinear, PositionDecay::kExponential}) {
    SessionKnnConfig config;
    config.position_decay = decay;
    config.lambda_inh = decay == PositionDecay::kExponential ? 2.0f : 0.0f;
    config.lambda_snh = decay == PositionDecay::kExponential ? 30.0f : 0.0f;
    const auto model = FitChains(config);
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const eval::NextItemMetrics metrics, eval::EvaluateNextItem(*model, test.view(), 5, {}, {}));
    EXPECT_GT(metrics.hit_rate, 0.6) << static_cast<int>(decay);  // popularity would sit near 5/100
  }
}

TEST(SessionKnn, FiltersUnknownItemsEmptySessionsAndBadRequests) {
  const auto model = FitChains();
  std::vector<std::uint8_t> in_stock(100, 1);
  in_stock[43] = 0;
  const std::int32_t session[] = {40, 41, 42, 5000};
  const std::int32_t bought[] = {44};
  RecommendRequest request;
  request.session_items = session;
  request.k = 10;
  request.filters.allowed_items = in_stock;
  request.filters.excluded_items = bought;
  request.filters.exclude_session_items = true;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  EXPECT_EQ(response.unknown_items, std::vector<std::int32_t>{5000});
  for (std::int32_t item : response.items) {
    EXPECT_NE(item, 43);
    EXPECT_NE(item, 44);
    EXPECT_TRUE(item < 40 || item > 42);
  }
  data::Catalogue catalogue;
  for (int i = 0; i < 100; ++i) catalogue.category.push_back(i / 20), catalogue.price.push_back(static_cast<float>(i));
  const std::int32_t denied[] = {2};
  request.filters = {};
  request.filters.catalogue = &catalogue;
  request.filters.denied_categories = denied;
  request.filters.max_price = 70.0f;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse categories, model->Recommend(request));
  ASSERT_EQ(categories.items.size(), 10u);
  for (std::int32_t item : categories.items) {
    EXPECT_NE(item / 20, 2);
    EXPECT_LE(item, 70);
  }
  request = {};
  request.k = 3;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse empty, model->Recommend(request));
  ASSERT_EQ(empty.items.size(), 3u);
  EXPECT_EQ(empty.reasons[0].kind, ReasonKind::kTrending);
  EXPECT_EQ(empty.reasons[0].ToString(), "popular right now");
  request.k = 0;
  EXPECT_THAT(model->Recommend(request), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("k must be")));
  request.k = 5;
  const std::int64_t backwards[] = {10, 5};
  const std::int32_t two[] = {1, 2};
  request.session_items = two;
  request.session_timestamps = backwards;
  EXPECT_THAT(model->Recommend(request), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("back in time")));
}

TEST(SessionKnn, HugeSessionsCostBoundedWork) {
  const auto model = FitChains();
  std::vector<std::int32_t> huge(100'000, 0);
  for (std::size_t i = 0; i < huge.size(); ++i) huge[i] = static_cast<std::int32_t>(i % 100);
  RecommendRequest request;
  request.session_items = huge;
  request.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  EXPECT_EQ(response.items.size(), 5u);
}

TEST(SessionKnn, BatchMatchesSingleAndConcurrentCallsAgree) {
  const auto model = FitChains();
  const Log queries = ChainSessions(200, 7);
  std::vector<RecommendRequest> requests(200);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    requests[i].session_items = queries.view().SessionItems(static_cast<std::int64_t>(i));
    requests[i].k = 10;
  }
  ExecutionOptions two;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto batch, model->RecommendBatch(requests, two));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto single = model->Recommend(requests[i]);
        mismatches[t] += !single.ok() || single->items != batch[i].items || single->scores != batch[i].scores;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(SessionKnn, OnlineUpdatesAreBoundedAndForgetErasesAUser) {
  SessionKnnConfig config;
  config.sample_size = 50;
  config.max_sessions = 2000;
  const auto model = SessionKnn::Fit(ChainSessions(1500, 1).training(), 100, config).value();
  // A new pattern learned online: 90 -> 7, never seen in training.
  for (int i = 0; i < 60; ++i) {
    const std::int32_t session[] = {90, 7};
    ASSERT_THAT(model->AddSession(session, 2'000'000 + i, /*user=*/777), IsOk());
  }
  for (int i = 0; i < 1000; ++i) {
    const std::int32_t session[] = {static_cast<std::int32_t>(i % 80), static_cast<std::int32_t>(i % 80 + 1)};
    ASSERT_THAT(model->AddSession(session, 2'100'000 + i), IsOk());
  }
  EXPECT_EQ(model->num_sessions(), 2000);  // bounded
  const std::int32_t query[] = {90};
  RecommendRequest request;
  request.session_items = query;
  request.k = 3;
  request.filters.exclude_session_items = true;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse learned, model->Recommend(request));
  EXPECT_EQ(learned.items[0], 7);
  EXPECT_EQ(learned.reasons[0].kind, ReasonKind::kCoVisited);
  EXPECT_EQ(model->Forget(777), 60);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse forgotten, model->Recommend(request));
  EXPECT_NE(forgotten.items[0], 7);
  for (const Reason& reason : forgotten.reasons) EXPECT_NE(reason.kind, ReasonKind::kCoVisited);
  const std::int32_t bad[] = {100};
  EXPECT_THAT(model->AddSession(bad, 1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SessionKnn, SaveLoadGivesIdenticalRecommendationsAndChecksKind) {
  const auto model = FitChains();
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile parsed, io::ParseModelFile(bytes));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, SessionKnn::FromModelFile(parsed));
  const Log queries = ChainSessions(50, 3);
  for (std::int64_t s = 0; s < 50; ++s) {
    RecommendRequest request;
    request.session_items = queries.view().SessionItems(s);
    request.k = 10;
    const auto a = model->Recommend(request);
    const auto b = loaded->Recommend(request);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->items, b->items);
    EXPECT_EQ(a->scores, b->scores);
  }
  const auto wrong = SessionKnn::FromModelFile(io::ModelFile("item2vec"));
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(IsModelFormatError(wrong.status()));
}

// The repro: sessions added online make item 3 the most clicked; the popularity fallback
// must rank by those live counts (scores sorted, inside (-1, 0)) and a save/load must not change it.
TEST(SessionKnn, PopularityFallbackFollowsOnlineClicksAndSurvivesSaveLoad) {
  const std::vector<std::int64_t> offsets = {0, 2, 4, 6, 8, 9};
  const std::vector<std::int32_t> items = {0, 1, 0, 2, 0, 3, 1, 2, 4};
  const auto model = SessionKnn::Fit({{offsets, items, {}, {}, {}}, {}, {}}, 5, {}).value();
  for (int i = 0; i < 10; ++i) {
    const std::int32_t three[] = {3};
    ASSERT_THAT(model->AddSession(three, 100 + i), IsOk());
  }
  RecommendRequest request;
  request.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse live, model->Recommend(request));
  // Clicks: item 3 has 11, item 0 has 3, items 1 and 2 have 2, item 4 has 1.
  EXPECT_EQ(live.items, (std::vector<std::int32_t>{3, 0, 1, 2, 4}));
  ASSERT_EQ(live.scores.size(), 5u);
  for (std::size_t i = 0; i < live.scores.size(); ++i) {
    EXPECT_GT(live.scores[i], -1.0f);
    EXPECT_LT(live.scores[i], 0.0f);
    if (i > 0) {
      EXPECT_GE(live.scores[i - 1], live.scores[i]);
    }
  }
  EXPECT_GT(live.scores[0], live.scores[1]);
  EXPECT_EQ(live.reasons[0].support, 11);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, SessionKnn::FromModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse reloaded, loaded->Recommend(request));
  EXPECT_EQ(reloaded.items, live.items);
  EXPECT_EQ(reloaded.scores, live.scores);
  // Erasing and evicting take clicks away just as live: the user's 3s go, 0 leads again.
  for (int i = 0; i < 3; ++i) {
    const std::int32_t four[] = {4, 4};
    ASSERT_THAT(model->AddSession(four, 200 + i, /*user=*/9), IsOk());
  }
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse with_fours, model->Recommend(request));
  EXPECT_EQ(with_fours.items, (std::vector<std::int32_t>{3, 4, 0, 1, 2}));
  EXPECT_EQ(model->Forget(9), 3);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse forgotten, model->Recommend(request));
  EXPECT_EQ(forgotten.items, live.items);
  EXPECT_EQ(forgotten.scores, live.scores);
}

TEST(SessionKnn, RejectsBadTrainingData) {
  Log log = ChainSessions(10, 1);
  EXPECT_THAT(SessionKnn::Fit(log.training(), 50, {}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside [0, 50)")));
  SessionKnnConfig config;
  config.k = 0;
  EXPECT_THAT(SessionKnn::Fit(log.training(), 100, config), StatusIs(absl::StatusCode::kInvalidArgument));
  log.times.pop_back();
  EXPECT_THAT(SessionKnn::Fit(log.training(), 100, {}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timestamps")));
}

}  // namespace
}  // namespace comptoir::recommend
