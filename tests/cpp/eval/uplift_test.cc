#include "comptoir/eval/uplift.h"

#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::eval {
namespace {

using ::comptoir::testing::StatusIs;

// Four customers: two treated (outcomes 1, 0) and two control (0, 1).
const std::vector<double> kScores = {0.9, 0.8, 0.7, 0.1};
const std::vector<std::int32_t> kTreatment = {1, 0, 1, 0};
const std::vector<double> kOutcome = {1, 0, 0, 1};

TEST(UpliftCurves, MatchHandComputedPoints) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const UpliftCurves c, ComputeUpliftCurves(kScores, kTreatment, kOutcome));
  EXPECT_EQ(c.targeted, (std::vector<double>{0, 1, 2, 3, 4}));
  // Qini: Y_t - Y_c * N_t / N_c.
  EXPECT_EQ(c.qini, (std::vector<double>{0, 1, 1, 1, 0}));
  // Uplift: (Y_t/N_t - Y_c/N_c) * N.
  EXPECT_EQ(c.uplift[1], 1.0);      // only a treated responder
  EXPECT_EQ(c.uplift[2], 2.0);      // (1 - 0) * 2
  EXPECT_EQ(c.uplift[3], 1.5);      // (1/2 - 0) * 3
  EXPECT_EQ(c.uplift[4], 0.0);      // (1/2 - 1/2) * 4
  // Qini area over random: trapezoids 0.125 + 0.25 + 0.25 + 0.125 = 0.75, minus 0 / 2.
  EXPECT_DOUBLE_EQ(QiniAreaRaw(c), 0.75);
  EXPECT_DOUBLE_EQ(AuucRaw(c), 0.25 * (0.5 + 1.5 + 1.75 + 0.75));
}

TEST(UpliftCurves, TiesAreTargetedTogether) {
  const std::vector<double> tied = {0.5, 0.5, 0.5, 0.5};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const UpliftCurves c, ComputeUpliftCurves(tied, kTreatment, kOutcome));
  EXPECT_EQ(c.targeted, (std::vector<double>{0, 4}));
  EXPECT_DOUBLE_EQ(QiniAreaRaw(c), 0.0);  // a constant score is a random model
}

TEST(UpliftMetrics, PerfectModelScoresOneAndRandomScoresNearZero) {
  internal::CounterRng rng(3, 0);
  std::vector<double> truth, score_random, outcome;
  std::vector<std::int32_t> treatment;
  for (int i = 0; i < 20000; ++i) {
    const double effect = rng.Uniform(-0.1, 0.4);
    const std::int32_t t = rng.Bernoulli(0.5);
    treatment.push_back(t);
    outcome.push_back(rng.Bernoulli(0.2 + t * effect));
    truth.push_back(effect);
    score_random.push_back(rng.Uniform());
  }
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const double good, QiniCoefficientVsPerfect(truth, treatment, outcome));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const double random, QiniCoefficientVsPerfect(score_random, treatment, outcome));
  EXPECT_GT(good, 0.1);
  EXPECT_LT(std::abs(random), 0.05);
  const std::vector<double> oracle = [&] {
    std::vector<double> s(outcome.size());
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = treatment[i] == 1 ? outcome[i] : -outcome[i];
    return s;
  }();
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const double perfect, QiniCoefficientVsPerfect(oracle, treatment, outcome));
  EXPECT_DOUBLE_EQ(perfect, 1.0);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const double top, UpliftAtK(truth, treatment, outcome, 0.2));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const double all, UpliftAtK(truth, treatment, outcome, 1.0));
  EXPECT_GT(top, all);
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Interval a, BootstrapUpliftMetric(UpliftMetric::kQiniCoefficientVsPerfect, truth, treatment, outcome, 50, one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Interval b, BootstrapUpliftMetric(UpliftMetric::kQiniCoefficientVsPerfect, truth, treatment, outcome, 50, two));
  EXPECT_EQ(a.lower, b.lower);
  EXPECT_EQ(a.upper, b.upper);
  EXPECT_LE(a.lower, a.estimate);
  EXPECT_GE(a.upper, a.estimate);
  EXPECT_DOUBLE_EQ(a.estimate, good);
}

TEST(ProfitCurve, NetsOfferCostsOutOfIncrementalValue) {
  const std::vector<double> value = {10, 10, 10, 10};
  const std::vector<double> cost = {1, 1, 1, 1};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ProfitCurve curve, ComputeProfitCurve(kScores, kTreatment, kOutcome, value, cost));
  EXPECT_EQ(curve.spend, (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_DOUBLE_EQ(curve.incremental_profit[2], 10 * 2 - 2);  // (10 - 0) * 2 - 2
  EXPECT_DOUBLE_EQ(curve.incremental_profit[4], 0 - 4);
}

TEST(UpliftMetrics, BadInputIsNamed) {
  const std::vector<std::int32_t> bad_arm = {1, 0, 2, 0};
  EXPECT_THAT(ComputeUpliftCurves(kScores, bad_arm, kOutcome), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("row 2")));
  const std::vector<std::int32_t> all_treated = {1, 1, 1, 1};
  EXPECT_THAT(ComputeUpliftCurves(kScores, all_treated, kOutcome), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<double> nan_outcome = {1, std::nan(""), 0, 1};
  EXPECT_THAT(ComputeUpliftCurves(kScores, kTreatment, nan_outcome), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(UpliftAtK(kScores, kTreatment, kOutcome, 0.0), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<double> negative_cost = {1, -1, 1, 1};
  EXPECT_THAT(ComputeProfitCurve(kScores, kTreatment, kOutcome, kOutcome, negative_cost), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::eval
