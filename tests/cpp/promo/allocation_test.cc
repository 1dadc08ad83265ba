#include "comptoir/promo/allocation.h"

#include <cmath>

#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::promo {
namespace {

using ::comptoir::testing::StatusIs;

struct Instance {
  std::vector<double> value, cost;
  std::int64_t customers;
  std::int32_t offers;
  OfferMatrix matrix() const { return {value, cost, customers, offers}; }
};

Instance Random(std::int64_t customers, std::int32_t offers, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  Instance in{{}, {}, customers, offers};
  for (std::int64_t i = 0; i < customers * offers; ++i) {
    in.cost.push_back(std::floor(rng.Uniform(0, 10)));
    in.value.push_back(std::floor(rng.Uniform(-3, 15)));
  }
  return in;
}

// Best integral value with spend <= budget, by enumerating every assignment.
double BruteForce(const Instance& in, double budget) {
  double best = 0;
  std::vector<std::int32_t> choice(static_cast<std::size_t>(in.customers), -1);
  while (true) {
    double spend = 0, value = 0;
    for (std::int64_t c = 0; c < in.customers; ++c) {
      if (choice[c] >= 0) spend += in.cost[c * in.offers + choice[c]], value += in.value[c * in.offers + choice[c]];
    }
    if (spend <= budget) best = std::max(best, value);
    std::int64_t c = 0;
    while (c < in.customers && ++choice[c] == in.offers) choice[c++] = -1;
    if (c == in.customers) break;
  }
  return best;
}

// At the path's breakpoints the LP optimum is integral, so it must equal the brute-force optimum;
// between them it bounds every integral allocation, and ours never exceeds the budget.
TEST(Allocation, PathMatchesBruteForceAtEveryBreakpoint) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    const Instance in = Random(5, 3, seed);
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const BudgetPath path, SolveBudgetPath(in.matrix(), {}));
    for (std::size_t i = 0; i < path.spend.size(); ++i) {
      if (i + 1 < path.spend.size() && path.spend[i + 1] == path.spend[i]) continue;  // free offers come first
      ASSERT_NEAR(path.ValueAt(path.spend[i]), path.value[i], 1e-9);
      ASSERT_NEAR(path.value[i], BruteForce(in, path.spend[i]), 1e-9) << "seed " << seed << " breakpoint " << i;
    }
    for (double budget : {0.0, 3.5, 7.0, 12.25, 30.0}) {
      COMPTOIR_ASSERT_OK_AND_ASSIGN(const Allocation a, AllocateAtBudget(path, in.customers, budget, 0.0));
      const double best = BruteForce(in, budget);
      EXPECT_LE(a.spend, budget + 1e-9);
      EXPECT_LE(a.value, best + 1e-9);
      EXPECT_GE(path.ValueAt(budget), best - 1e-9);
      double recomputed = 0;
      for (std::int64_t c = 0; c < in.customers; ++c) {
        if (a.offer[c] >= 0) recomputed += in.value[c * in.offers + a.offer[c]];
      }
      EXPECT_NEAR(recomputed, a.value, 1e-9);
    }
  }
}

TEST(Allocation, StopsWhereAnotherUnitOfSpendReturnsLessThanAUnit) {
  // One customer: offer 0 costs 1 for 5, offer 1 costs 10 for 8 (the step costs 9 for 3).
  const Instance in{{5, 8}, {1, 10}, 1, 2};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const BudgetPath path, SolveBudgetPath(in.matrix(), {}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Allocation profit_seeking, AllocateAtBudget(path, 1, 100.0));
  EXPECT_EQ(profit_seeking.offer[0], 0);
  EXPECT_DOUBLE_EQ(profit_seeking.profit(), 4.0);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Allocation value_seeking, AllocateAtBudget(path, 1, 100.0, 0.0));
  EXPECT_EQ(value_seeking.offer[0], 1);
}

TEST(Allocation, BadInputIsNamed) {
  Instance in = Random(3, 2, 1);
  in.cost[3] = -1;
  EXPECT_THAT(SolveBudgetPath(in.matrix(), {}), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("customer 1, offer 1")));
  in.cost[3] = 1;
  in.value[0] = std::nan("");
  EXPECT_THAT(SolveBudgetPath(in.matrix(), {}), StatusIs(absl::StatusCode::kInvalidArgument));
  in.value[0] = 1;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const BudgetPath path, SolveBudgetPath(in.matrix(), {}));
  EXPECT_THAT(AllocateAtBudget(path, 3, -5.0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SolveBudgetPath({in.value, in.cost, 4, 2}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::promo

namespace comptoir::promo {
namespace {

TEST(AllocationWithCaps, RespectsCapsAndBudgetAndLeavesLooseCapsAlone) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const Instance in = Random(40, 3, seed);
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const BudgetPath path, SolveBudgetPath(in.matrix(), {}));
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const Allocation free, AllocateAtBudget(path, in.customers, 60.0));
    const std::vector<std::int64_t> loose = {0, 1000, 0};
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const CappedAllocation same, AllocateWithOfferCaps(in.matrix(), 60.0, loose, 1.0, {}));
    EXPECT_EQ(same.allocation.offer, free.offer);
    const std::vector<std::int64_t> tight = {2, 3, 1};
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const CappedAllocation capped, AllocateWithOfferCaps(in.matrix(), 60.0, tight, 1.0, {}));
    std::vector<std::int64_t> counts(3, 0);
    double value = 0;
    for (std::int64_t c = 0; c < in.customers; ++c) {
      const std::int32_t j = capped.allocation.offer[c];
      if (j >= 0) ++counts[j], value += in.value[c * 3 + j];
    }
    for (int j = 0; j < 3; ++j) EXPECT_LE(counts[j], tight[j]) << "seed " << seed;
    EXPECT_LE(capped.allocation.spend, 60.0 + 1e-9);
    EXPECT_NEAR(capped.allocation.value, value, 1e-9);
    EXPECT_LE(capped.allocation.value, free.value + 1e-9);
    EXPECT_GT(capped.allocation.value, 0.0);
  }
  const Instance in = Random(5, 2, 1);
  EXPECT_THAT(AllocateWithOfferCaps(in.matrix(), 10.0, std::vector<std::int64_t>{1}, 1.0, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("one cap per offer")));
  EXPECT_THAT(AllocateWithOfferCaps(in.matrix(), 10.0, std::vector<std::int64_t>{1, -1}, 1.0, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("offer 1")));
}

}  // namespace
}  // namespace comptoir::promo
