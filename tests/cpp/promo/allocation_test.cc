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

std::vector<std::int64_t> CountsOf(const Allocation& a, std::int32_t offers) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(offers), 0);
  for (std::int32_t j : a.offer) {
    if (j >= 0) ++counts[j];
  }
  return counts;
}

TEST(AllocationWithRules, RespectsCapsAndBudgetAndLeavesLooseCapsAlone) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const Instance in = Random(40, 3, seed);
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const BudgetPath path, SolveBudgetPath(in.matrix(), {}));
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const Allocation free, AllocateAtBudget(path, in.customers, 60.0));
    const std::vector<std::int64_t> loose = {0, 1000, 0};
    OfferRules rules;
    rules.max_customers = loose;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RuledAllocation same, AllocateWithRules(in.matrix(), 60.0, rules, {}));
    EXPECT_EQ(same.allocation.offer, free.offer);
    const std::vector<std::int64_t> tight = {2, 3, 1};
    rules.max_customers = tight;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RuledAllocation capped, AllocateWithRules(in.matrix(), 60.0, rules, {}));
    double value = 0;
    for (std::int64_t c = 0; c < in.customers; ++c) {
      const std::int32_t j = capped.allocation.offer[c];
      if (j >= 0) value += in.value[c * 3 + j];
    }
    EXPECT_EQ(capped.customers_per_offer, CountsOf(capped.allocation, 3));
    for (int j = 0; j < 3; ++j) EXPECT_LE(capped.customers_per_offer[j], tight[j]) << "seed " << seed;
    EXPECT_LE(capped.allocation.spend, 60.0 + 1e-9);
    EXPECT_NEAR(capped.allocation.value, value, 1e-9);
    EXPECT_LE(capped.allocation.value, free.value + 1e-9);
    EXPECT_GT(capped.allocation.value, 0.0);
  }
  const Instance in = Random(5, 2, 1);
  OfferRules rules;
  const std::vector<std::int64_t> one = {1}, negative = {1, -1};
  rules.max_customers = one;
  EXPECT_THAT(AllocateWithRules(in.matrix(), 10.0, rules, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("one cap per offer")));
  rules.max_customers = negative;
  EXPECT_THAT(AllocateWithRules(in.matrix(), 10.0, rules, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("offer 1 has a negative cap")));
  rules.max_customers = {};
  rules.min_customers = negative;
  EXPECT_THAT(AllocateWithRules(in.matrix(), 10.0, rules, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("offer 1 has a negative minimum")));
}

TEST(AllocationWithRules, MarginFloorAndContactCapExcludeExactlyTheirPairs) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const Instance in = Random(60, 3, seed);
    internal::CounterRng rng(seed, 1);
    std::vector<double> margin(in.value.size());
    for (double& x : margin) x = rng.Uniform(-0.1, 0.4);
    std::vector<std::int32_t> contacts(static_cast<std::size_t>(in.customers));
    for (std::int32_t& x : contacts) x = static_cast<std::int32_t>(rng.Uniform(0, 4));
    OfferRules rules;
    rules.margin_after_offer = margin;
    rules.min_margin = 0.1;
    rules.contacts_so_far = contacts;
    rules.max_contacts = 2;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RuledAllocation ruled, AllocateWithRules(in.matrix(), 1e9, rules, {}));
    // The same plan as the unruled one on a copy where the excluded pairs are worth nothing.
    Instance masked = in;
    std::int64_t below = 0, capped = 0;
    for (std::int64_t c = 0; c < in.customers; ++c) {
      capped += contacts[c] >= 2;
      for (int j = 0; j < 3; ++j) {
        below += margin[c * 3 + j] < 0.1;
        if (margin[c * 3 + j] < 0.1 || contacts[c] >= 2) masked.value[c * 3 + j] = 0;
      }
    }
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const BudgetPath path, SolveBudgetPath(masked.matrix(), {}));
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const Allocation expected, AllocateAtBudget(path, in.customers, 1e9));
    EXPECT_EQ(ruled.allocation.offer, expected.offer) << "seed " << seed;
    EXPECT_EQ(ruled.pairs_below_margin_floor, below);
    EXPECT_EQ(ruled.customers_at_contact_cap, capped);
    for (std::int64_t c = 0; c < in.customers; ++c) {
      const std::int32_t j = ruled.allocation.offer[c];
      if (j >= 0) {
        EXPECT_TRUE(margin[c * 3 + j] >= 0.1 && contacts[c] < 2);
      }
    }
  }
}

TEST(AllocationWithRules, MinimumsAreMetEvenAtALossAndCostProfit) {
  int binding = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    const Instance in = Random(50, 3, seed);
    OfferRules none;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RuledAllocation free, AllocateWithRules(in.matrix(), 80.0, none, {}));
    const std::vector<std::int64_t> minimum = {0, 0, 20};
    OfferRules rules;
    rules.min_customers = minimum;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RuledAllocation ruled, AllocateWithRules(in.matrix(), 80.0, rules, {}));
    EXPECT_EQ(ruled.customers_per_offer, CountsOf(ruled.allocation, 3));
    EXPECT_GE(ruled.customers_per_offer[2], 20) << "seed " << seed;
    EXPECT_LE(ruled.allocation.spend, 80.0 + 1e-9);
    EXPECT_LE(ruled.allocation.profit(), free.allocation.profit() + 1e-9);
    if (free.customers_per_offer[2] < 20) {
      ++binding;
      EXPECT_LT(ruled.prices[2], 0.0) << "a binding minimum is subsidised";
    }
  }
  EXPECT_GE(binding, 8);
}

TEST(AllocationWithRules, InfeasibleRulesNameWhatBinds) {
  const Instance in = Random(20, 2, 3);
  const std::vector<std::int64_t> cap = {0, 5}, above_cap = {0, 6}, everyone = {0, 21}, split = {12, 12}, some = {0, 15};
  OfferRules rules;
  rules.max_customers = cap;
  rules.min_customers = above_cap;
  absl::Status status = AllocateWithRules(in.matrix(), 1e9, rules, {}).status();
  EXPECT_TRUE(IsInfeasible(status));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("offer 1: its minimum of 6 customers is above its cap of 5")));
  rules.max_customers = {};
  rules.min_customers = everyone;
  EXPECT_THAT(AllocateWithRules(in.matrix(), 1e9, rules, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("offer 1 needs at least 21 customers but only 20 are eligible")));
  std::vector<std::int32_t> contacts(20, 0);
  for (int c = 0; c < 8; ++c) contacts[c] = 3;
  rules.contacts_so_far = contacts;
  rules.max_contacts = 3;
  rules.min_customers = some;
  EXPECT_THAT(AllocateWithRules(in.matrix(), 1e9, rules, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("8 customers are at the contact cap of 3")));
  rules.contacts_so_far = {};
  rules.min_customers = split;
  EXPECT_THAT(AllocateWithRules(in.matrix(), 1e9, rules, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("need 24 customers together")));
  rules.min_customers = some;
  status = AllocateWithRules(in.matrix(), 1.0, rules, {}).status();
  EXPECT_TRUE(IsInfeasible(status));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("but the budget is 1")));
}

}  // namespace
}  // namespace comptoir::promo
