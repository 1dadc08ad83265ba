#include "comptoir/features/drift.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::features {
namespace {

using ::comptoir::testing::StatusIs;

// Two features: a standard normal shifted by `shift`, and a 0/1 flag set with chance `rate`
// (missing in `missing` of the rows).
std::vector<double> Draw(std::int64_t rows, double shift, double rate, double missing, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  std::vector<double> values;
  for (std::int64_t r = 0; r < rows; ++r) {
    const double u1 = rng.Uniform(1e-12, 1), u2 = rng.Uniform();
    values.push_back(shift + std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    values.push_back(rng.Uniform() < missing ? std::nan("") : static_cast<double>(rng.Uniform() < rate));
  }
  return values;
}

TEST(FeatureProfile, SamePopulationIsStableAndShiftsAreFlaggedPerFeature) {
  const std::vector<double> train = Draw(50'000, 0, 0.3, 0.05, 1);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureProfile profile, FeatureProfile::Fit({train, 50'000, 2}, {}));
  const std::vector<double> same = Draw(20'000, 0, 0.3, 0.05, 2);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> stable, profile.PopulationStability({same, 20'000, 2}, {}));
  EXPECT_LT(stable[0], 0.01);
  EXPECT_LT(stable[1], 0.01);
  const std::vector<double> moved = Draw(20'000, 1.0, 0.3, 0.05, 3);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> shifted, profile.PopulationStability({moved, 20'000, 2}, {}));
  EXPECT_GT(shifted[0], kSignificantDrift);  // a one-sd shift of the mean
  EXPECT_LT(shifted[1], 0.01);
  const std::vector<double> broken = Draw(20'000, 0, 0.3, 0.6, 4);  // a pipeline losing the flag
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> lost, profile.PopulationStability({broken, 20'000, 2}, {}));
  EXPECT_LT(lost[0], 0.01);
  EXPECT_GT(lost[1], kSignificantDrift);
}

TEST(FeatureProfile, SurvivesTheModelFileAndRejectsMismatches) {
  const std::vector<double> train = Draw(1'000, 0, 0.5, 0.0, 5);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureProfile profile, FeatureProfile::Fit({train, 1'000, 2}, {}));
  io::ModelFile file("test");
  ASSERT_TRUE(profile.AddTo(file).ok());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureProfile back, FeatureProfile::FromModelFile(file, 2));
  EXPECT_EQ(back.Serialize(), profile.Serialize());
  EXPECT_THAT(FeatureProfile::FromModelFile(file, 3), StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("2 features, the model 3")));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureProfile absent, FeatureProfile::FromModelFile(io::ModelFile("test"), 2));
  EXPECT_TRUE(absent.empty());
  EXPECT_THAT(absent.PopulationStability({train, 1'000, 2}, {}), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(profile.PopulationStability({train, 500, 4}, {}), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("4 features")));
  EXPECT_THAT(FeatureProfile::Fit({train, 7, 2}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsModelFormatError(FeatureProfile::Parse("\xff\xff garbage").status()));
}

}  // namespace
}  // namespace comptoir::features
