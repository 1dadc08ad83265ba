// The one loader: every kind through the registry, the shop's ids, pseudonymised users, schemas.
#include "comptoir/model.h"

#include <cmath>

#include "comptoir/propensity/logistic.h"
#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/popularity.h"
#include "gtest/gtest.h"
#include "internal/siphash.h"
#include "testing/status_matchers.h"

namespace comptoir {
namespace {

using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<recommend::Popularity> FitPopularity() {
  // Item 2 is the most popular, then 0, then 1.
  const std::vector<std::int32_t> items = {2, 2, 2, 0, 0, 1};
  recommend::EventsView events{items, {}, {}};
  return recommend::Popularity::Fit(events, 3, {}, {}).value();
}

data::IdMap StringIds(const std::vector<std::string>& ids) {
  std::vector<std::int32_t> dense;
  return data::IdMap::Assign(ids, dense).value();
}

TEST(SipHash, MatchesTheReferenceVector) {
  // The SipHash paper's test vector: key 00..0f, message 00..0e.
  internal::SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::string message;
  for (int i = 0; i < 15; ++i) message.push_back(static_cast<char>(i));
  EXPECT_EQ(internal::SipHash24(key, message), 0xa129ca6149be45e5ULL);
}

TEST(LoadModel, LoadsARecommenderAndAnswersInShopIds) {
  const auto popularity = FitPopularity();
  COMPTOIR_ASSERT_OK_AND_ASSIGN(io::ModelFile file, popularity->ToModelFile());
  const ModelIds ids(StringIds({"sku-a", "sku-b", "sku-c"}), StringIds({"alice", "bob"}));
  COMPTOIR_ASSERT_OK(ids.AppendTo(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Model> model, LoadModelFromBytes(bytes));
  EXPECT_EQ(model->kind(), "popularity");
  ASSERT_NE(model->AsRecommender(), nullptr);
  EXPECT_EQ(model->AsScorer(), nullptr);
  EXPECT_EQ(model->AsUpliftModel(), nullptr);

  ShopRecommendRequest request;
  request.session_items = {"sku-a", "not-a-sku"};
  request.excluded_items = {"sku-b", "unknown-too"};
  request.user = "carol";
  request.k = 3;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ShopRecommendation answer, model->Recommend(request));
  EXPECT_EQ(answer.items, (std::vector<std::string>{"sku-c", "sku-a"}));
  EXPECT_EQ(answer.unknown_items, std::vector<std::string>{"not-a-sku"});
  EXPECT_TRUE(answer.unknown_user);
  ASSERT_EQ(answer.reasons.size(), 2u);
  EXPECT_EQ(answer.reasons[0].text, "popular right now");
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::int32_t bob, model->ids().FindUser("bob"));
  EXPECT_EQ(bob, 1);
}

TEST(LoadModel, WithoutItemIdsTakesDenseIdsInRangeOnly) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, FitPopularity()->ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Model> model, LoadModelFromFile(file));
  ShopRecommendRequest request;
  request.session_items = {"1", "3", "-1", "x"};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ShopRecommendation answer, model->Recommend(request));
  EXPECT_EQ(answer.unknown_items, (std::vector<std::string>{"3", "-1", "x"}));
  EXPECT_EQ(answer.items.front(), "2");
}

TEST(LoadModel, PseudonymisedUsersNeedTheirKey) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(io::ModelFile file, FitPopularity()->ToModelFile());
  const std::string key = "a secret of 16+ bytes";
  const ModelIds ids(StringIds({"a", "b", "c"}), StringIds({"alice@example.com", "bob@example.com"}));
  EXPECT_THAT(ids.AppendTo(file, "short"), StatusIs(absl::StatusCode::kInvalidArgument));
  COMPTOIR_ASSERT_OK(ids.AppendTo(file, key));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  EXPECT_EQ(bytes.find("alice@example.com"), std::string::npos) << "a raw customer id is in the file";
  EXPECT_FALSE(file.Blob("user_ids").ok());

  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto keyless, LoadModelFromBytes(bytes));
  EXPECT_THAT(keyless->ids().FindUser("bob@example.com"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(LoadModelFromBytes(bytes, LoadOptions{"another secret, 16+ bytes"}),
              StatusIs(absl::StatusCode::kPermissionDenied));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto keyed, LoadModelFromBytes(bytes, LoadOptions{key}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::int32_t bob, keyed->ids().FindUser("bob@example.com"));
  EXPECT_EQ(bob, 1);
  EXPECT_THAT(keyed->ids().FindUser("eve@example.com"), StatusIs(absl::StatusCode::kNotFound));
  // Saved again, the hashes travel as they are.
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile again, keyed->ToModelFile(key));
  EXPECT_TRUE(again.Blob("user_id_hashes").ok());
  EXPECT_THAT(keyed->ToModelFile("yet another secret key"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LoadModel, UnknownKindsAndWrongFamiliesAreModelFormatErrors) {
  const absl::StatusOr<std::unique_ptr<Model>> unknown = LoadModelFromFile(io::ModelFile("no_such_model"));
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("unknown model kind 'no_such_model'")));
  EXPECT_TRUE(IsModelFormatError(unknown.status()));
  // A blob the kind needs is missing: a damaged file, not a missing one.
  const absl::StatusOr<std::unique_ptr<Model>> empty = LoadModelFromFile(io::ModelFile("popularity"));
  EXPECT_THAT(empty, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(IsModelFormatError(empty.status()));
  EXPECT_THAT(LoadModel("/nonexistent/model.cmf"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(LoadModel, NestingIsBounded) {
  // A hybrid whose component is a hybrid, and so on: refused past the nesting limit, no recursion
  // without end.
  COMPTOIR_ASSERT_OK_AND_ASSIGN(io::ModelFile inner, FitPopularity()->ToModelFile());
  for (int level = 0; level < 12; ++level) {
    io::ModelFile outer("hybrid");
    COMPTOIR_ASSERT_OK_AND_ASSIGN(std::string bytes, io::SerializeModelFile(inner));
    COMPTOIR_ASSERT_OK(outer.AddBlob("component_0", std::move(bytes)));
    const std::vector<float> weights = {1.0f};
    COMPTOIR_ASSERT_OK(outer.AddArray<float>("weights", weights));
    inner = std::move(outer);
  }
  const absl::StatusOr<std::unique_ptr<Model>> loaded = LoadModelFromFile(inner);
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("nest more than")));
}

TEST(LoadModel, AHybridOfAScorerNamesTheComponent) {
  const std::vector<double> x = {0, 1, 2, 3, 4, 5};
  const std::vector<std::uint8_t> y = {0, 0, 1, 0, 1, 1};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto logistic,
                                propensity::LogisticRegression::Fit(Eigen::Map<const RowMatrix>(x.data(), 6, 1), y, {}, {}, {}));
  io::ModelFile hybrid("hybrid");
  COMPTOIR_ASSERT_OK_AND_ASSIGN(std::string bytes, io::SerializeModelFile(logistic.ToModelFile().value()));
  COMPTOIR_ASSERT_OK(hybrid.AddBlob("component_0", std::move(bytes)));
  const std::vector<float> weights = {1.0f};
  COMPTOIR_ASSERT_OK(hybrid.AddArray<float>("weights", weights));
  EXPECT_THAT(LoadModelFromFile(hybrid),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("hybrid component 0 is a 'logistic_regression'")));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto scorer, LoadModelFromFile(logistic.ToModelFile().value()));
  ASSERT_NE(scorer->AsScorer(), nullptr);
  EXPECT_EQ(scorer->AsScorer()->output(), Scorer::Output::kProbability);
}

TEST(EncodeRows, MapsColumnsByNameAndLevelsByText) {
  FeatureSchema schema;
  schema.feature_names = {"age", "country", "visits"};
  schema.categorical.push_back({1, {TypedValues::Type::kString, {"FR", "UK"}}});
  COMPTOIR_ASSERT_OK(schema.Validate(3));
  const std::vector<std::string> columns = {"visits", "country", "unused", "age"};
  const std::vector<std::vector<FeatureValue>> rows = {
      {3.0, std::string("UK"), std::string("x"), 41.0},
      {std::monostate{}, std::string("DE"), 0.0, std::string("30")},
  };
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EncodedRows encoded, EncodeRows(schema, columns, rows));
  EXPECT_EQ(encoded.matrix(0, 0), 41.0);
  EXPECT_EQ(encoded.matrix(0, 1), 1.0);
  EXPECT_EQ(encoded.matrix(0, 2), 3.0);
  EXPECT_EQ(encoded.matrix(1, 0), 30.0);
  EXPECT_TRUE(std::isnan(encoded.matrix(1, 1)));
  EXPECT_TRUE(std::isnan(encoded.matrix(1, 2)));
  EXPECT_EQ(encoded.unseen, std::vector<std::string>{"country=DE"});
  const std::vector<std::string> short_columns = {"age"};
  const std::vector<std::vector<FeatureValue>> short_rows = {{1.0}};
  EXPECT_THAT(EncodeRows(schema, short_columns, short_rows),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("country, visits")));
  const std::vector<std::vector<FeatureValue>> text_in_numeric = {{3.0, std::string("UK"), 0.0, std::string("old")}};
  EXPECT_THAT(EncodeRows(schema, columns, text_in_numeric), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'age' is numeric")));
}

TEST(FeatureSchema, RoundTripsAndRejectsMalformedLabels) {
  FeatureSchema schema;
  schema.feature_names = {"a", "b"};
  schema.categorical.push_back({0, {TypedValues::Type::kInt64, {"1", "7"}}});
  schema.class_labels = {TypedValues::Type::kBool, {"false", "true"}};
  COMPTOIR_ASSERT_OK(schema.Validate(2));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureSchema parsed, FeatureSchema::Parse(schema.Serialize()));
  EXPECT_EQ(parsed.feature_names, schema.feature_names);
  EXPECT_EQ(parsed.categorical[0].levels.values, schema.categorical[0].levels.values);
  EXPECT_EQ(parsed.class_labels.type, TypedValues::Type::kBool);
  EXPECT_EQ(parsed.categorical[0].levels.IndexOf("7.0"), 1);
  FeatureSchema bad = schema;
  bad.categorical[0].levels.values = {"1", "x"};
  EXPECT_THAT(bad.Validate(2), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'x'")));
  bad = schema;
  bad.feature_names = {"a", "a"};
  EXPECT_THAT(bad.Validate(2), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(schema.Validate(3), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir
