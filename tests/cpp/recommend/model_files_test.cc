// Every recommender kind through its model file and the registry (comptoir::LoadModelFromBytes):
// the loaded model keeps its config and answers bit-identically, in dense and in shop ids.
#include <memory>
#include <string>
#include <vector>

#include "comptoir/embed/item2vec.h"
#include "comptoir/model.h"
#include "comptoir/recommend/embedding.h"
#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/popularity.h"
#include "comptoir/recommend/session_knn.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::recommend {
namespace {

using ::comptoir::testing::IsOk;
using ::testing::HasSubstr;

constexpr std::int32_t kItems = 60;

struct Sessions {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  std::vector<std::int64_t> times;
  std::vector<std::int32_t> users;
  data::SessionsView view() const { return {offsets, items, {}, {}, {}}; }
};

// Chains of 20 items in three groups: item g*20+i is usually followed by g*20+i+1.
Sessions Chains() {
  Sessions s;
  internal::CounterRng rng(7, 0);
  for (int n = 0; n < 800; ++n) {
    const auto group = static_cast<std::int32_t>(rng.UniformInt(3));
    auto position = static_cast<std::int32_t>(rng.UniformInt(15));
    for (int i = 0; i < 2 + static_cast<int>(rng.UniformInt(5)) && position < 20; ++i) s.items.push_back(group * 20 + position++);
    s.offsets.push_back(static_cast<std::int64_t>(s.items.size()));
    s.times.push_back(1'000'000 + n * 60);
    s.users.push_back(n % 10);
  }
  return s;
}

std::string Bytes(const Recommender& model) {
  return io::SerializeModelFile(model.ToModelFile().value()).value();
}

void ExpectSameAnswers(const Recommender& a, const Recommender& b) {
  const std::int32_t sessions[][3] = {{20, 21, 22}, {1, 2, 3}, {45, 46, 47}, {59, 0, 30}};
  for (const auto& session : sessions) {
    RecommendRequest request;
    request.session_items = session;
    request.k = 8;
    request.user = 3;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse x, a.Recommend(request));
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse y, b.Recommend(request));
    ASSERT_FALSE(x.items.empty());
    EXPECT_EQ(x.items, y.items);
    EXPECT_EQ(x.scores, y.scores);  // bit-identical
    ASSERT_EQ(x.reasons.size(), y.reasons.size());
    for (std::size_t i = 0; i < x.reasons.size(); ++i) EXPECT_EQ(x.reasons[i].ToString(), y.reasons[i].ToString());
  }
}

// The model back through the registry, of the same kind.
std::unique_ptr<Model> Reload(const Recommender& model, const std::string& kind) {
  absl::StatusOr<std::unique_ptr<Model>> loaded = LoadModelFromBytes(Bytes(model));
  EXPECT_THAT(loaded, IsOk());
  EXPECT_EQ((*loaded)->kind(), kind);
  EXPECT_NE((*loaded)->AsRecommender(), nullptr);
  return *std::move(loaded);
}

TEST(RecommenderFiles, SessionKnnKeepsItsConfig) {
  const Sessions s = Chains();
  SessionKnnConfig config;
  config.k = 40;
  config.position_decay = PositionDecay::kExponential;
  config.lambda_spw = 2.5f;
  config.lambda_inh = 1.5f;
  config.idf_weighting = false;
  const auto model = SessionKnn::Fit({s.view(), s.times, s.users}, kItems, config).value();
  const auto loaded = Reload(*model, SessionKnn::kModelKind);
  const auto& back = dynamic_cast<const SessionKnn&>(*loaded->AsRecommender());
  EXPECT_EQ(back.config().k, 40);
  EXPECT_EQ(back.config().position_decay, PositionDecay::kExponential);
  EXPECT_EQ(back.config().lambda_spw, 2.5f);
  EXPECT_FALSE(back.config().idf_weighting);
  ExpectSameAnswers(*model, back);
}

TEST(RecommenderFiles, PopularityCoPurchaseAndRulesKeepTheirConfigs) {
  const Sessions s = Chains();
  PopularityConfig popularity;
  popularity.half_life_days = 3.0f;
  popularity.kind_weights[2] = 9.0f;
  const auto popular = Popularity::Fit({s.items, {}, {}}, kItems, {}, popularity).value();
  const auto popular_back = Reload(*popular, Popularity::kModelKind);
  const auto& p = dynamic_cast<const Popularity&>(*popular_back->AsRecommender());
  EXPECT_EQ(p.config().half_life_days, 3.0f);
  EXPECT_EQ(p.config().kind_weights[2], 9.0f);
  ExpectSameAnswers(*popular, p);

  CoPurchaseConfig co;
  co.measure = AssociationMeasure::kLift;
  co.min_support = 3;
  co.max_basket_size = 7;
  const auto bought = CoPurchase::Fit(s.view(), kItems, co).value();
  const auto bought_back = Reload(*bought, CoPurchase::kModelKind);
  const auto& b = dynamic_cast<const CoPurchase&>(*bought_back->AsRecommender());
  EXPECT_EQ(b.config().measure, AssociationMeasure::kLift);
  EXPECT_EQ(b.config().min_support, 3);
  EXPECT_EQ(b.config().max_basket_size, 7);
  ExpectSameAnswers(*bought, b);

  SequentialRulesConfig rules;
  rules.max_steps = 4;
  rules.session_items = 2;
  const auto sequential = SequentialRules::Fit(s.view(), kItems, rules).value();
  const auto sequential_back = Reload(*sequential, SequentialRules::kModelKind);
  const auto& r = dynamic_cast<const SequentialRules&>(*sequential_back->AsRecommender());
  EXPECT_EQ(r.config().max_steps, 4);
  EXPECT_EQ(r.config().session_items, 2);
  ExpectSameAnswers(*sequential, r);
}

TEST(RecommenderFiles, RulesFilesWithoutAConfigStillLoad) {
  // Before configs were stored, sequential rules kept only session_items in a "settings" array.
  const Sessions s = Chains();
  SequentialRulesConfig rules;
  rules.session_items = 2;
  const auto model = SequentialRules::Fit(s.view(), kItems, rules).value();
  io::ModelFile file = model->ToModelFile().value();
  file.set_config("");
  ASSERT_THAT(file.AddArray<std::int32_t>("settings", std::vector<std::int32_t>{2}), IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto old, SequentialRules::FromModelFile(file));
  EXPECT_EQ(old->config().session_items, 2);
  ExpectSameAnswers(*model, *old);
}

TEST(RecommenderFiles, EmbeddingsHybridAndItem2VecThroughTheRegistry) {
  const Sessions s = Chains();
  embed::Item2VecConfig i2v;
  i2v.dim = 8;
  i2v.epochs = 3;
  i2v.subsample = 0;
  auto embeddings = std::make_shared<const embed::Item2Vec>(embed::Item2Vec::Fit(s.view(), kItems, i2v, {}).value());
  embed::SessionEncoderConfig encoder;
  encoder.recency_decay = 0.6f;
  encoder.max_events = 9;
  encoder.profile_weight = 0.4f;
  auto recommender = std::make_shared<EmbeddingRecommender>(embeddings, encoder);
  const std::int32_t history[] = {1, 2, 3};
  ASSERT_THAT(recommender->SetUserHistory(3, history), IsOk());
  const auto loaded = Reload(*recommender, EmbeddingRecommender::kModelKind);
  const auto& e = dynamic_cast<const EmbeddingRecommender&>(*loaded->AsRecommender());
  EXPECT_EQ(e.config().recency_decay, 0.6f);
  EXPECT_EQ(e.config().max_events, 9);
  EXPECT_EQ(e.config().profile_weight, 0.4f);
  EXPECT_EQ(e.profile_users(), std::vector<std::int32_t>{3});
  EXPECT_EQ(e.embeddings().config().dim, 8);
  ExpectSameAnswers(*recommender, e);

  auto rules = std::shared_ptr<const Recommender>(SequentialRules::Fit(s.view(), kItems, {}).value());
  const auto hybrid = Hybrid::Create({{rules, 1.0f}, {recommender, 0.5f}}).value();
  const auto hybrid_back = Reload(*hybrid, Hybrid::kModelKind);
  ExpectSameAnswers(*hybrid, *hybrid_back->AsRecommender());

  // item2vec files serve as an embedding recommender with the default encoder.
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto i2v_model,
                                LoadModelFromBytes(io::SerializeModelFile(embeddings->ToModelFile().value()).value()));
  EXPECT_EQ(i2v_model->kind(), embed::Item2Vec::kModelKind);
  const EmbeddingRecommender plain(embeddings, embed::SessionEncoderConfig{});
  ExpectSameAnswers(plain, *i2v_model->AsRecommender());
}

TEST(RecommenderFiles, TrainingEventsTravelAndNameTheReasons) {
  const Sessions s = Chains();
  auto rules = SequentialRules::Fit(s.view(), kItems, {}).value();
  rules->set_training_events(TrainingEvents::kPurchases);
  const auto loaded = Reload(*rules, SequentialRules::kModelKind);
  EXPECT_EQ(loaded->AsRecommender()->training_events(), TrainingEvents::kPurchases);
  ExpectSameAnswers(*rules, *loaded->AsRecommender());
  const std::int32_t session[] = {20, 21};
  RecommendRequest request;
  request.session_items = session;
  request.k = 1;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse response, loaded->AsRecommender()->Recommend(request));
  EXPECT_THAT(response.reasons[0].ToString(), HasSubstr("bought together with item 21"));
  // A hybrid's reasons keep each part's own events.
  auto knn = std::shared_ptr<Recommender>(SessionKnn::Fit({s.view(), s.times, {}}, kItems, {}).value());
  knn->set_training_events(TrainingEvents::kViews);
  const auto hybrid = Hybrid::Create({{knn, 1.0f}}).value();
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse blended, hybrid->Recommend(request));
  EXPECT_EQ(blended.reasons[0].events, TrainingEvents::kViews);
  // A value no version wrote is a damaged file.
  io::ModelFile file = rules->ToModelFile().value();
  file.SetBlob("training_events", std::string(1, '\x09'));
  EXPECT_TRUE(IsModelFormatError(SequentialRules::FromModelFile(file).status()));
}

TEST(RecommenderFiles, ShopIdsInAndOutWithReasonsQuotingSkus) {
  const Sessions s = Chains();
  std::vector<std::string> skus;
  for (int i = 0; i < kItems; ++i) skus.push_back("SKU-" + std::to_string(1000 + i));
  std::vector<std::int32_t> dense;
  data::IdMap items = data::IdMap::Assign(skus, dense).value();
  const auto knn = SessionKnn::Fit({s.view(), s.times, {}}, kItems, {}).value();
  const std::string bytes = Bytes(*knn);
  io::ModelFile file = io::ParseModelFile(bytes).value();
  ASSERT_THAT(ModelIds(items, {}).AppendTo(file), IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto model, LoadModelFromFile(file));

  ShopRecommendRequest request;
  request.session_items = {"SKU-1020", "SKU-1021", "NOT-A-SKU", "SKU-1022"};
  request.excluded_items = {"SKU-1023"};
  request.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ShopRecommendation shop, model->Recommend(request));
  ASSERT_EQ(shop.items.size(), 5u);
  EXPECT_EQ(shop.unknown_items, std::vector<std::string>{"NOT-A-SKU"});
  for (const std::string& item : shop.items) {
    EXPECT_EQ(item.rfind("SKU-10", 0), 0u) << item;
    EXPECT_NE(item, "SKU-1023");
  }
  EXPECT_THAT(shop.reasons[0].text, HasSubstr("seen with SKU-102"));
  EXPECT_EQ(shop.reasons[0].anchor_item.rfind("SKU-102", 0), 0u);

  // The same answer as the dense request, translated.
  const std::int32_t session[] = {20, 21, 22};
  const std::int32_t excluded[] = {23};
  RecommendRequest dense_request;
  dense_request.session_items = session;
  dense_request.filters.excluded_items = excluded;
  dense_request.k = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RecommendResponse direct, knn->Recommend(dense_request));
  for (std::size_t i = 0; i < direct.items.size(); ++i) EXPECT_EQ(shop.items[i], skus[static_cast<std::size_t>(direct.items[i])]);
  EXPECT_EQ(shop.scores, direct.scores);
}

TEST(RecommenderFiles, LargeIntegerIdsNeverWrap) {
  const Sessions s = Chains();
  std::vector<std::int64_t> shop(kItems);
  for (int i = 0; i < kItems; ++i) shop[static_cast<std::size_t>(i)] = (std::int64_t{1} << 32) + i;
  std::vector<std::int32_t> dense;
  const Model model(SessionKnn::kModelKind, SessionKnn::Fit({s.view(), s.times, {}}, kItems, {}).value(),
                    ModelIds(data::IdMap::Assign(shop, dense).value(), {}));
  ShopRecommendRequest request;
  request.session_items = {"3", std::to_string((std::int64_t{1} << 32) + 20)};  // dense 3 is not shop id 3
  request.k = 3;
  request.filters.exclude_session_items = true;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ShopRecommendation out, model.Recommend(request));
  EXPECT_EQ(out.unknown_items, std::vector<std::string>{"3"});
  ASSERT_FALSE(out.items.empty());
  EXPECT_EQ(out.items[0], std::to_string((std::int64_t{1} << 32) + 21));
}

}  // namespace
}  // namespace comptoir::recommend
