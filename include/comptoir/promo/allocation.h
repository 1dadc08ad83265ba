// Who gets which offer under a budget: the multiple-choice knapsack (each customer gets at most
// one of several offers) solved in its LP relaxation exactly, for every budget at once, by
// building each customer's upper convex hull of (cost, value) options and sorting all hull
// segments by their value per unit of spend (the method of Sverdrup et al.'s "maq").
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/options.h"

namespace comptoir::promo {

// Customers x offers, row-major. `value`: the expected incremental value of giving the offer
// (e.g. uplift in conversion x margin x basket); `cost`: its expected cost (discount given away
// plus contact cost), >= 0. Not giving any offer is always possible and worth 0 at cost 0.
struct OfferMatrix {
  absl::Span<const double> value;
  absl::Span<const double> cost;
  std::int64_t num_customers = 0;
  std::int32_t num_offers = 0;
};

// The LP's whole budget path: at spend[i] the optimal value is value[i], and between two
// breakpoints it is linear. Segment i moves `customer[i]` from `from_offer[i]` (-1 = none) to
// `to_offer[i]`.
struct BudgetPath {
  std::vector<double> spend{0.0};
  std::vector<double> value{0.0};
  std::vector<std::int64_t> customer;
  std::vector<std::int32_t> from_offer;
  std::vector<std::int32_t> to_offer;

  // Optimal LP value at `budget` (the upper bound any integral allocation can reach).
  double ValueAt(double budget) const;
};

absl::StatusOr<BudgetPath> SolveBudgetPath(const OfferMatrix& offers, const ExecutionOptions& options);

struct Allocation {
  std::vector<std::int32_t> offer;  // per customer, -1 = no offer
  double spend = 0;
  double value = 0;             // expected incremental value of the allocation
  double lp_bound = 0;          // the LP optimum at the same budget
  double profit() const { return value - spend; }
  double roi() const { return spend > 0 ? (value - spend) / spend : 0.0; }
};

// An integral allocation at `budget`: the path's segments in order, skipping any that no longer
// fit (and the later segments of the same customer). Stops once a segment returns less than
// `min_value_per_spend` per unit spent (1.0 = never spend a unit to earn back less than a unit).
absl::StatusOr<Allocation> AllocateAtBudget(const BudgetPath& path, std::int64_t num_customers, double budget,
                                            double min_value_per_spend = 1.0);

// At most `max_customers[j]` customers get offer j (0 = no cap), e.g. a limited stock of vouchers.
// Solved by Lagrangian relaxation: each capped offer gets a price per customer, raised by
// bisection until the offer's count fits, and the plan is the budget path of the priced values
// (when prices cycle between tied offers, the least profitable holders of an offer over its cap
// lose it). The result always respects the caps and the budget; its value is a lower bound on the optimum
// (the LP bound of the uncapped problem is reported as `lp_bound`). `prices` holds the final
// multipliers: what one more unit of each cap would be worth.
struct CappedAllocation {
  Allocation allocation;
  std::vector<double> prices;
};
absl::StatusOr<CappedAllocation> AllocateWithOfferCaps(const OfferMatrix& offers, double budget,
                                                       absl::Span<const std::int64_t> max_customers,
                                                       double min_value_per_spend, const ExecutionOptions& options);

}  // namespace comptoir::promo
