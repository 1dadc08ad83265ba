#include "comptoir/uplift/forest.h"

#include <cmath>
#include <limits>
#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::uplift {
namespace {

using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;

struct Campaign {
  RowMatrix X;
  std::vector<std::int32_t> treatment;
  std::vector<double> y;
  RowMatrix effect;  // true effect of each offer
};

// Offer 1 helps only when x0 > 0; offer 2 helps more the larger x1; x2 and x3 are noise; 5% of x0
// is missing (and then behaves as if x0 > 0).
Campaign MakeCampaign(Eigen::Index n, std::uint64_t seed, bool spend) {
  internal::CounterRng rng(seed, 0);
  Campaign c{RowMatrix(n, 4), std::vector<std::int32_t>(static_cast<std::size_t>(n)), std::vector<double>(static_cast<std::size_t>(n)),
             RowMatrix(n, 2)};
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int j = 0; j < 4; ++j) c.X(i, j) = rng.Uniform(-1, 1);
    const bool responsive = c.X(i, 0) > 0 || rng.Uniform() < 0.05;
    if (c.X(i, 0) <= 0 && responsive) c.X(i, 0) = std::numeric_limits<double>::quiet_NaN();
    c.effect(i, 0) = responsive ? 0.15 : -0.02;
    c.effect(i, 1) = 0.1 * (c.X(i, 1) + 1);
    const auto t = static_cast<std::int32_t>(rng.UniformInt(3));
    c.treatment[static_cast<std::size_t>(i)] = t;
    const double base = 0.2 + 0.05 * c.X(i, 2);
    const double p = base + (t == 1 ? c.effect(i, 0) : t == 2 ? c.effect(i, 1) : 0.0);
    c.y[static_cast<std::size_t>(i)] = spend ? 50 * p + rng.Normal() : static_cast<double>(rng.Uniform() < p);
    if (spend) c.effect.row(i) *= 50;
  }
  return c;
}

double Correlation(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  const Eigen::ArrayXd x = a.array() - a.mean(), y = b.array() - b.mean();
  return (x * y).sum() / std::sqrt((x * x).sum() * (y * y).sum());
}

class CriterionTest : public ::testing::TestWithParam<SplitCriterion> {};

std::string CriterionName(const ::testing::TestParamInfo<SplitCriterion>& info) {
  static const char* const kNames[] = {"KL", "Euclidean", "Chi", "DDP"};
  return kNames[static_cast<int>(info.param)];
}

TEST_P(CriterionTest, RecoversWhoRespondsToWhichOffer) {
  const Campaign train = MakeCampaign(40000, 1, false), test = MakeCampaign(5000, 2, false);
  UpliftForestConfig config;
  config.criterion = GetParam();
  config.n_estimators = 30;
  config.max_features = 1.0;  // every column at every node: the criterion alone picks
  const UpliftForest forest = UpliftForest::Fit(train.X, train.treatment, train.y, config, {}).value();
  const RowMatrix effect = forest.Predict(test.X).value();
  ASSERT_EQ(effect.cols(), 2);
  EXPECT_GT(Correlation(effect.col(0), test.effect.col(0)), 0.8);
  EXPECT_GT(Correlation(effect.col(1), test.effect.col(1)), 0.6);
  // Trees open with a split on a column that drives an effect, not on the noise.
  int informative_roots = 0;
  for (const UpliftTree& tree : forest.trees()) informative_roots += tree.feature[0] == 0 || tree.feature[0] == 1;
  EXPECT_GE(informative_roots, 29);
}

INSTANTIATE_TEST_SUITE_P(Criteria, CriterionTest,
                         ::testing::Values(SplitCriterion::kKL, SplitCriterion::kEuclidean, SplitCriterion::kChi, SplitCriterion::kDDP),
                         CriterionName);

TEST(UpliftForestTest, ContinuousOutcomesWithEuclideanAndHonestEstimation) {
  const Campaign train = MakeCampaign(40000, 3, true), test = MakeCampaign(5000, 4, true);
  UpliftForestConfig config;
  config.criterion = SplitCriterion::kEuclidean;
  config.n_estimators = 30;
  config.honest = true;
  config.max_features = 0.5;
  const UpliftForest forest = UpliftForest::Fit(train.X, train.treatment, train.y, config, {}).value();
  const RowMatrix effect = forest.Predict(test.X).value();
  EXPECT_GT(Correlation(effect.col(0), test.effect.col(0)), 0.8);
  EXPECT_GT(Correlation(effect.col(1), test.effect.col(1)), 0.6);
  config.criterion = SplitCriterion::kKL;
  EXPECT_THAT(UpliftForest::Fit(train.X, train.treatment, train.y, config, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0/1 outcome")));
}

TEST(UpliftForestTest, BitIdenticalForAnyThreadCountAndExactAfterSaveLoad) {
  const Campaign c = MakeCampaign(8000, 5, false);
  UpliftForestConfig config;
  config.n_estimators = 12;
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  UpliftForest a = UpliftForest::Fit(c.X, c.treatment, c.y, config, one).value();
  const UpliftForest b = UpliftForest::Fit(c.X, c.treatment, c.y, config, two).value();
  EXPECT_EQ(a.Predict(c.X).value(), b.Predict(c.X).value());
  ASSERT_TRUE(a.set_feature_names({"a", "b", "c", "d"}).ok());
  const UpliftForest loaded = UpliftForest::FromModelFile(a.ToModelFile().value()).value();
  EXPECT_EQ(loaded.Predict(c.X).value(), a.Predict(c.X).value());
  EXPECT_EQ(loaded.feature_names(), a.feature_names());
  io::ModelFile garbage(UpliftForest::kModelKind);
  garbage.set_config(a.ToModelFile().value().config());
  ASSERT_TRUE(garbage.AddBlob("model", "\x1a\x04\x08\x05\x18\x00").ok());
  EXPECT_THAT(UpliftForest::FromModelFile(garbage).status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(UpliftForestTest, ContributionsAddUpToTheEffect) {
  const Campaign c = MakeCampaign(8000, 6, false);
  UpliftForestConfig config;
  config.n_estimators = 10;
  const UpliftForest forest = UpliftForest::Fit(c.X, c.treatment, c.y, config, {}).value();
  const RowMatrix effect = forest.Predict(c.X.topRows(100)).value();
  for (std::int32_t offer : {1, 2}) {
    const RowMatrix phi = forest.Contributions(c.X.topRows(100), offer).value();
    for (Eigen::Index i = 0; i < 100; ++i) EXPECT_NEAR(phi.row(i).sum(), effect(i, offer - 1), 1e-12);
  }
  EXPECT_THAT(forest.Contributions(c.X, 3).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offer must be in 1..2")));
}

TEST(UpliftForestTest, BadInputIsNamed) {
  Campaign c = MakeCampaign(1000, 7, false);
  const UpliftForestConfig config;
  std::vector<std::int32_t> treatment = c.treatment;
  for (auto& t : treatment) t = t == 1 ? 0 : t;
  EXPECT_THAT(UpliftForest::Fit(c.X, treatment, c.y, config, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("arm 1 has no rows")));
  treatment[4] = -1;
  EXPECT_THAT(UpliftForest::Fit(c.X, treatment, c.y, config, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("treatment 4 is -1")));
  std::vector<double> y = c.y;
  y[9] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(UpliftForest::Fit(c.X, c.treatment, y, config, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outcome 9")));
  EXPECT_THAT(UpliftForest::Fit(c.X, std::vector<std::int32_t>(1000, 0), c.y, config, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no offer")));
  UpliftForestConfig bad;
  bad.max_depth = 0;
  EXPECT_THAT(UpliftForest::Fit(c.X, c.treatment, c.y, bad, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_depth")));
  const UpliftForest forest = UpliftForest::Fit(c.X, c.treatment, c.y, config, {}).value();
  EXPECT_THAT(forest.Predict(RowMatrix(2, 3)).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 features")));
}

}  // namespace
}  // namespace comptoir::uplift
