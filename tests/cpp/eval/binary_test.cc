#include "comptoir/eval/binary.h"

#include <cmath>

#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir::eval {
namespace {

using ::comptoir::testing::StatusIs;

TEST(BinaryMetrics, MatchHandComputedValues) {
  const std::vector<double> s = {0.9, 0.8, 0.8, 0.3};
  const std::vector<std::uint8_t> y = {1, 0, 1, 0};
  // Pairs (pos, neg): (0.9, 0.8) win, (0.9, 0.3) win, (0.8, 0.8) tie, (0.8, 0.3) win: 3.5 / 4.
  EXPECT_DOUBLE_EQ(RocAuc(s, y).value(), 0.875);
  // Groups: {0.9: 1 pos} precision 1, recall .5; {0.8: 1 pos 1 neg} precision 2/3, recall 1.
  EXPECT_DOUBLE_EQ(AveragePrecision(s, y).value(), 0.5 * 1.0 + 0.5 * 2.0 / 3.0);
  EXPECT_NEAR(LogLoss(s, y).value(), -(std::log(0.9) + std::log(0.2) + std::log(0.8) + std::log(0.7)) / 4, 1e-12);
  EXPECT_NEAR(BrierScore(s, y).value(), (0.01 + 0.64 + 0.04 + 0.09) / 4, 1e-12);
  const ReliabilityCurve curve = Reliability(s, y, 2).value();
  ASSERT_EQ(curve.count.size(), 2u);
  EXPECT_NEAR(curve.expected_calibration_error, (1 * std::abs(0.0 - 0.3) + 3 * std::abs(2.0 / 3 - 2.5 / 3)) / 4, 1e-12);
  const GainTable gain = LiftAndGain(s, y, 2).value();
  EXPECT_DOUBLE_EQ(gain.lift[0], 1.0);  // top half: 1 of 2 positive, base rate 1/2
  EXPECT_DOUBLE_EQ(gain.cumulative_gain[1], 1.0);
}

TEST(BinaryMetrics, BadInputIsNamed) {
  const std::vector<double> s = {0.5, 1.5};
  const std::vector<std::uint8_t> y = {0, 1};
  EXPECT_THAT(LogLoss(s, y), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("row 1")));
  const std::vector<std::uint8_t> one_class = {1, 1};
  EXPECT_THAT(RocAuc({0.1, 0.2}, one_class), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("single class")));
  EXPECT_THAT(RocAuc({0.1}, y), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::eval
