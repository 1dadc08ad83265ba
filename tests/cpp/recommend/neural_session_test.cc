#include "comptoir/recommend/neural_session.h"

#include <cmath>
#include <vector>

#include "comptoir/model.h"
#include "fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommend/neural_session_network.h"
#include "recommend/neural_session_train.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using ::testing::HasSubstr;

// Three sessions over 12 items, one of them longer than max_session_length.
struct Tiny {
  std::vector<std::int64_t> offsets{0, 4, 7, 13};
  std::vector<std::int32_t> items{0, 3, 5, 7, 2, 3, 9, 1, 4, 6, 8, 10, 11};
  data::SessionsView view() const { return {offsets, items, {}, {}, {}}; }
};

NeuralSessionConfig TinyConfig(std::int32_t negatives) {
  NeuralSessionConfig config;
  config.dim = 6;
  config.max_session_length = 4;
  config.scale = 3.0f;
  config.num_negatives = negatives;
  return config;
}

std::vector<std::int64_t> TargetCounts(const Tiny& tiny) {
  std::vector<std::int64_t> counts(12, 0);
  for (std::size_t s = 0; s + 1 < tiny.offsets.size(); ++s) {
    for (std::int64_t i = tiny.offsets[s] + 1; i < tiny.offsets[s + 1]; ++i) ++counts[tiny.items[i]];
  }
  return counts;
}

// Central differences of the batch loss against every dense parameter and every touched item
// entry, for the full softmax and for a fixed draw of sampled negatives (with the logQ terms).
// With dropout the draw is a function of the batch key, so every evaluation drops the same entries.
struct GradientCase {
  std::int32_t negatives;
  float dropout;
};

class GradientCheck : public ::testing::TestWithParam<GradientCase> {};

TEST_P(GradientCheck, AnalyticGradientsMatchFiniteDifferences) {
  const Tiny tiny;
  NeuralSessionConfig config = TinyConfig(GetParam().negatives);
  config.dropout = GetParam().dropout;
  const neural::Examples examples = neural::Prefixes(tiny.view(), config.max_session_length, {});
  ASSERT_EQ(examples.size(), 10);
  std::vector<std::int64_t> batch{0, 2, 5, 9, 7};
  ExecutionOptions options;
  options.num_threads = 1;
  neural::Network net = neural::InitialNetwork(12, config, 7);
  // Larger weights than the initial ones, so that the gates and the attention matter.
  for (float& v : net.dense) v *= 3.0f;
  const neural::BatchGradient analytic =
      neural::ComputeBatchGradient(net, examples, batch, TargetCounts(tiny), config, options, 99);
  ASSERT_TRUE(std::isfinite(analytic.loss));
  const auto loss_at = [&](neural::Network& changed) {
    return neural::ComputeBatchGradient(changed, examples, batch, TargetCounts(tiny), config, options, 99).loss;
  };
  // float parameters: a step of 1e-2 balances rounding against curvature.
  constexpr float kStep = 1e-2f;
  const auto check = [&](float& parameter, double expected, const std::string& what) {
    const float saved = parameter;
    parameter = saved + kStep;
    const double up = loss_at(net);
    parameter = saved - kStep;
    const double down = loss_at(net);
    parameter = saved;
    const double numeric = (up - down) / (2 * kStep);
    EXPECT_NEAR(expected, numeric, 2e-3 + 2e-2 * std::abs(numeric)) << what;
  };
  int checked = 0;
  for (std::size_t p = 0; p < net.dense.size(); p += 3) {
    check(net.dense[p], analytic.dense[p], "dense parameter " + std::to_string(p));
    ++checked;
  }
  for (std::size_t r = 0; r < analytic.items.size(); ++r) {
    for (std::int32_t k = 0; k < config.dim; ++k) {
      check(net.items[static_cast<std::size_t>(analytic.items[r]) * config.dim + k],
            analytic.item_rows[r * config.dim + k], "item " + std::to_string(analytic.items[r]));
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
  // Items outside the candidates and contexts have no gradient: the loss does not move with them.
  if (GetParam().negatives > 0) {
    for (std::int32_t item = 0; item < 12; ++item) {
      if (std::find(analytic.items.begin(), analytic.items.end(), item) != analytic.items.end()) continue;
      check(net.items[static_cast<std::size_t>(item) * config.dim], 0.0, "untouched item " + std::to_string(item));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Softmax, GradientCheck,
                         ::testing::Values(GradientCase{0, 0.0f}, GradientCase{5, 0.0f}, GradientCase{5, 0.3f}));

TEST(NeuralSession, DropoutDropsTheRequestedShareAndKeepsTheMean) {
  std::vector<float> scales(40000);
  neural::DropoutScales(0.25f, 3, 11, static_cast<std::int64_t>(scales.size()), scales.data());
  const auto zeros = std::count(scales.begin(), scales.end(), 0.0f);
  EXPECT_NEAR(static_cast<double>(zeros) / static_cast<double>(scales.size()), 0.25, 0.01);
  double mean = 0;
  for (float v : scales) mean += v;
  EXPECT_NEAR(mean / static_cast<double>(scales.size()), 1.0, 0.02);
  std::vector<float> again(scales.size());
  neural::DropoutScales(0.25f, 3, 11, static_cast<std::int64_t>(again.size()), again.data());
  EXPECT_EQ(scales, again);
  neural::DropoutScales(0.25f, 3, 12, static_cast<std::int64_t>(again.size()), again.data());
  EXPECT_NE(scales, again);
}

NeuralSessionConfig ChainConfig() {
  NeuralSessionConfig config;
  config.dim = 16;
  config.max_session_length = 5;
  config.num_negatives = 20;
  config.batch_size = 64;
  config.epochs = 6;
  config.learning_rate = 0.01f;
  return config;
}

TEST(NeuralSession, LearnsTheChainsAndIsDeterministicWhateverTheThreads) {
  const fixtures::Log train = fixtures::ChainSessions(1500, 1);
  const fixtures::Log validation = fixtures::ChainSessions(200, 2);
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto a, NeuralSession::Fit(train.view(), validation.view(), 100, ChainConfig(), one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto b, NeuralSession::Fit(train.view(), validation.view(), 100, ChainConfig(), two));
  ASSERT_FALSE(a->history().empty());
  const auto last_validated = std::find_if(a->history().rbegin(), a->history().rend(),
                                           [](const NeuralSessionEpoch& e) { return !e.refit; });
  ASSERT_NE(last_validated, a->history().rend());
  EXPECT_GT(last_validated->validation_hit_rate, 0.9) << "the next chain item is easy to learn";
  EXPECT_LT(last_validated->loss, a->history().front().loss);
  ASSERT_EQ(a->item_vectors().size(), b->item_vectors().size());
  for (std::size_t i = 0; i < a->item_vectors().size(); ++i) ASSERT_EQ(a->item_vectors()[i], b->item_vectors()[i]) << i;
  // After 21 -> 22 the next chain item comes first, and the reason names a session item.
  const std::vector<std::int32_t> session{21, 22};
  RecommendRequest request;
  request.session_items = session;
  request.k = 5;
  request.filters.exclude_session_items = true;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, a->Recommend(request));
  ASSERT_EQ(response.items.size(), 5u);
  EXPECT_EQ(response.items[0], 23);
  EXPECT_EQ(response.reasons[0].kind, ReasonKind::kSimilarItem);
  EXPECT_THAT(session, ::testing::Contains(response.reasons[0].anchor_item));
  for (std::size_t i = 1; i < response.scores.size(); ++i) EXPECT_GE(response.scores[i - 1], response.scores[i]);
}

// The refit is the chosen number of epochs from the same start on the sessions end to end: the
// very network a run without validation on those sessions gives; the file keeps which is which.
TEST(NeuralSession, RefitTrainsTheChosenEpochsOnTrainingAndValidationSessions) {
  const fixtures::Log train = fixtures::ChainSessions(400, 1);
  const fixtures::Log validation = fixtures::ChainSessions(100, 2);
  NeuralSessionConfig config = ChainConfig();
  config.epochs = 4;
  config.patience = 1;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto refit, NeuralSession::Fit(train.view(), validation.view(), 100, config, {}));
  std::int32_t selection = 0, refit_epochs = 0, best = 0;
  double best_mrr = -1;
  for (const NeuralSessionEpoch& e : refit->history()) {
    if (e.refit) {
      ++refit_epochs;
      EXPECT_EQ(e.validation_mrr, -1);
      EXPECT_EQ(e.epoch, refit_epochs);
    } else {
      ++selection;
      if (e.validation_mrr > best_mrr) best_mrr = e.validation_mrr, best = e.epoch;
    }
  }
  EXPECT_GT(selection, 0);
  EXPECT_EQ(refit_epochs, best);
  fixtures::Log both = train;
  for (std::size_t s = 1; s < validation.offsets.size(); ++s) {
    both.offsets.push_back(both.offsets.back() + validation.offsets[s] - validation.offsets[s - 1]);
  }
  both.items.insert(both.items.end(), validation.items.begin(), validation.items.end());
  NeuralSessionConfig plain = config;
  plain.epochs = best;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto direct, NeuralSession::Fit(both.view(), {}, 100, plain, {}));
  ASSERT_EQ(refit->item_vectors().size(), direct->item_vectors().size());
  for (std::size_t i = 0; i < direct->item_vectors().size(); ++i) {
    ASSERT_EQ(refit->item_vectors()[i], direct->item_vectors()[i]) << i;
  }
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, refit->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto loaded, NeuralSession::FromModelFile(file));
  ASSERT_EQ(loaded->history().size(), refit->history().size());
  for (std::size_t e = 0; e < refit->history().size(); ++e) EXPECT_EQ(loaded->history()[e].refit, refit->history()[e].refit);
  EXPECT_TRUE(loaded->config().refit);
  config.refit = false;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto kept, NeuralSession::Fit(train.view(), validation.view(), 100, config, {}));
  EXPECT_TRUE(std::none_of(kept->history().begin(), kept->history().end(), [](const NeuralSessionEpoch& e) { return e.refit; }));
}

TEST(NeuralSession, ServesFallbacksFiltersAndSurvivesItsFile) {
  const fixtures::Log train = fixtures::ChainSessions(600, 3);
  NeuralSessionConfig config = ChainConfig();
  config.epochs = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto model, NeuralSession::Fit(train.view(), {}, 101, config, {}));
  EXPECT_FALSE(model->seen()[100]) << "item 100 never occurs";
  // Unknown and out-of-range items are reported and ignored; nothing known: popular items.
  const std::vector<std::int32_t> unknown{100, 5000, -3};
  RecommendRequest request;
  request.session_items = unknown;
  request.k = 3;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse cold, model->Recommend(request));
  EXPECT_EQ(cold.unknown_items, unknown);
  ASSERT_EQ(cold.items.size(), 3u);
  EXPECT_EQ(cold.reasons[0].kind, ReasonKind::kTrending);
  // A huge session encodes its last items only, and stock flags hold.
  std::vector<std::int32_t> huge(10'000, 7);
  huge.back() = 41;
  std::vector<std::uint8_t> allowed(101, 1);
  allowed[42] = 0;
  request.session_items = huge;
  request.filters.allowed_items = allowed;
  request.k = 10;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, model->Recommend(request));
  EXPECT_THAT(response.items, ::testing::Not(::testing::Contains(42)));
  EXPECT_THAT(response.items, ::testing::Not(::testing::Contains(100)));
  for (float score : response.scores) EXPECT_TRUE(std::isfinite(score));
  // Profiles, the file and the registry.
  COMPTOIR_ASSERT_OK(model->SetUserHistory(4, std::vector<std::int32_t>{60, 61, 62}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto loaded, LoadModelFromBytes(bytes));
  const Recommender* back = loaded->AsRecommender();
  ASSERT_NE(back, nullptr);
  request.user = 4;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse again, back->Recommend(request));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse before, model->Recommend(request));
  EXPECT_EQ(again.items, before.items);
  EXPECT_EQ(again.scores, before.scores);
  EXPECT_EQ(dynamic_cast<const NeuralSession*>(back)->history().size(), model->history().size());
  // A large repeat boost puts the user's earlier items first, saying why; none leaves them out.
  const std::vector<std::int32_t> chain{21, 22};
  RecommendRequest known;
  known.session_items = chain;
  known.user = 4;
  known.k = 5;
  COMPTOIR_ASSERT_OK(model->set_repeat_boost(30.0f));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse boosted, model->Recommend(known));
  EXPECT_THAT(std::vector<std::int32_t>(boosted.items.begin(), boosted.items.begin() + 3),
              ::testing::UnorderedElementsAre(60, 61, 62));
  EXPECT_EQ(boosted.reasons[0].kind, ReasonKind::kProfile);
  EXPECT_EQ(boosted.reasons[0].anchor_item, boosted.items[0]);
  EXPECT_FALSE(model->set_repeat_boost(-1.0f).ok());
  COMPTOIR_ASSERT_OK(model->set_repeat_boost(0.0f));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse plain, model->Recommend(known));
  EXPECT_THAT(plain.items, ::testing::Not(::testing::Contains(60)));
  EXPECT_EQ(model->ForgetUser(4), 1);
}

TEST(NeuralSession, RefusesBadInputNamingIt) {
  const fixtures::Log train = fixtures::ChainSessions(50, 4);
  NeuralSessionConfig config = ChainConfig();
  config.learning_rate = std::nanf("");
  EXPECT_THAT(NeuralSession::Fit(train.view(), {}, 100, config, {}).status().message(), HasSubstr("learning_rate"));
  config = ChainConfig();
  config.dim = -4;
  EXPECT_THAT(NeuralSession::Fit(train.view(), {}, 100, config, {}).status().message(), HasSubstr("dim"));
  for (float dropout : {1.0f, -0.1f, std::nanf("")}) {
    config = ChainConfig();
    config.dropout = dropout;
    EXPECT_THAT(NeuralSession::Fit(train.view(), {}, 100, config, {}).status().message(), HasSubstr("dropout"));
  }
  // One-item sessions have no next item.
  const std::vector<std::int64_t> offsets{0, 1, 2};
  const std::vector<std::int32_t> singles{3, 4};
  EXPECT_THAT(NeuralSession::Fit({offsets, singles, {}, {}, {}}, {}, 100, ChainConfig(), {}).status().message(),
              HasSubstr("two items"));
  // A validation split whose items training never saw.
  const std::vector<std::int32_t> strangers{99, 98};
  const std::vector<std::int64_t> one_session{0, 2};
  EXPECT_THAT(NeuralSession::Fit(train.view(), {one_session, strangers, {}, {}, {}}, 100, ChainConfig(), {})
                  .status()
                  .message(),
              HasSubstr("no prefix with an item seen in training"));
  const std::vector<std::int32_t> outside{3, 400};
  EXPECT_THAT(NeuralSession::Fit({one_session, outside, {}, {}, {}}, {}, 100, ChainConfig(), {}).status().message(),
              HasSubstr("outside [0, 100)"));
}

TEST(NeuralSession, ADivergingRunIsRefusedNamingTheRateNotSavedAsNaN) {
  const fixtures::Log train = fixtures::ChainSessions(300, 5);
  NeuralSessionConfig config = ChainConfig();
  config.epochs = 2;
  config.learning_rate = 1e30f;  // every Adam step moves a weight by about the rate: inf at once
  const auto fitted = NeuralSession::Fit(train.view(), {}, 100, config, {});
  ASSERT_FALSE(fitted.ok());
  EXPECT_THAT(fitted.status().message(), HasSubstr("diverged"));
  EXPECT_THAT(fitted.status().message(), HasSubstr("learning_rate"));
}

}  // namespace
}  // namespace comptoir::recommend
