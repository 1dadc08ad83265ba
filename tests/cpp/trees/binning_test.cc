#include "comptoir/trees/binning.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::trees {
namespace {

using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(FeatureBinningTest, FewDistinctValuesGetOneBinEachWithMissingInBinZero) {
  RowMatrix X(6, 1);
  X << 3, 1, kNaN, 2, 3, -std::numeric_limits<double>::infinity();
  const FeatureBinning binning = FeatureBinning::Fit(X, {}, {}).value();
  EXPECT_EQ(binning.num_bins(0), 5);  // missing, -inf, 1, 2, 3
  const BinnedMatrix binned = binning.Transform(X, {}).value();
  const std::vector<std::uint8_t> expected = {4, 2, 0, 3, 4, 1};
  EXPECT_EQ(binned.codes, expected);
  // A value between training values goes with the lower one up to the midpoint.
  EXPECT_EQ(binning.BinOf(0, 1.4), 2);
  EXPECT_EQ(binning.BinOf(0, 1.6), 3);
  EXPECT_EQ(binning.BinOf(0, 1e300), 4);
}

TEST(FeatureBinningTest, ManyValuesGiveEqualFrequencyBinsAndRowsAgreeWithBounds) {
  const std::int64_t n = 20000;
  RowMatrix X(n, 1);
  internal::CounterRng rng(3, 0);
  for (std::int64_t i = 0; i < n; ++i) X(i, 0) = rng.Normal();
  BinningConfig config;
  config.max_bins = 33;
  const FeatureBinning binning = FeatureBinning::Fit(X, config, {}).value();
  EXPECT_EQ(binning.num_bins(0), 33);
  const BinnedMatrix binned = binning.Transform(X, {}).value();
  std::vector<std::int64_t> counts(33, 0);
  const auto& bounds = binning.upper_bounds(0);
  for (std::int64_t i = 0; i < n; ++i) {
    const int b = binned.codes[static_cast<std::size_t>(i)];
    ++counts[static_cast<std::size_t>(b)];
    ASSERT_GE(b, 1);
    EXPECT_LE(X(i, 0), bounds[static_cast<std::size_t>(b - 1)]);
    if (b >= 2) {
      EXPECT_GT(X(i, 0), bounds[static_cast<std::size_t>(b - 2)]);
    }
  }
  for (int b = 1; b < 33; ++b) EXPECT_NEAR(static_cast<double>(counts[static_cast<std::size_t>(b)]), n / 32.0, n / 32.0 * 0.1) << b;
}

TEST(FeatureBinningTest, CategoriesKeepTheMostFrequentAndShareAnOtherBin) {
  RowMatrix X(8, 1);
  X << 7, 7, 7, 2, 2, 9, kNaN, 5;
  BinningConfig config;
  config.max_bins = 4;  // missing + two categories + other
  config.categorical_features = {0};
  const FeatureBinning binning = FeatureBinning::Fit(X, config, {}).value();
  EXPECT_EQ(binning.categories(0), (std::vector<std::int32_t>{2, 7}));
  EXPECT_EQ(binning.BinOf(0, 2), 1);
  EXPECT_EQ(binning.BinOf(0, 7), 2);
  EXPECT_EQ(binning.BinOf(0, 9), 3);
  EXPECT_EQ(binning.BinOf(0, 12345), 3);  // never seen: "other"
  EXPECT_EQ(binning.BinOf(0, kNaN), kMissingBin);
}

TEST(FeatureBinningTest, BadCategoriesAndConfigsAreNamed) {
  RowMatrix X(2, 2);
  X << 1, 0.5, 2, 3;
  BinningConfig config;
  config.categorical_features = {1};
  EXPECT_THAT(FeatureBinning::Fit(X, config, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("categorical feature 1")));
  config.categorical_features = {2};
  EXPECT_THAT(FeatureBinning::Fit(X, config, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  config = {};
  config.max_bins = 300;
  EXPECT_THAT(FeatureBinning::Fit(X, config, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_bins")));
  EXPECT_THAT(FeatureBinning::Fit(RowMatrix(0, 2), {}, {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  const FeatureBinning binning = FeatureBinning::Fit(X, {}, {}).value();
  EXPECT_THAT(binning.Transform(RowMatrix(1, 3), {}).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 features")));
}

TEST(FeatureBinningTest, SampledEdgesDoNotDependOnThreads) {
  RowMatrix X(5000, 3);
  internal::CounterRng rng(5, 0);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = rng.Uniform();
  BinningConfig config;
  config.sample_rows = 1000;
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  const FeatureBinning a = FeatureBinning::Fit(X, config, one).value();
  const FeatureBinning b = FeatureBinning::Fit(X, config, two).value();
  for (int j = 0; j < 3; ++j) EXPECT_EQ(a.upper_bounds(j), b.upper_bounds(j));
}

}  // namespace
}  // namespace comptoir::trees
