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

// Business rules on top of the budget; every one is optional (an empty span = no rule).
struct OfferRules {
  // Per offer: at most max_customers[j] customers (0 = no cap), e.g. a limited stock of vouchers,
  // and at least min_customers[j] (0 = none), e.g. a partner-funded run that must go out.
  absl::Span<const std::int64_t> max_customers;
  absl::Span<const std::int64_t> min_customers;
  // Margin floor, customers x offers: the margin rate the customer's expected basket keeps after
  // the offer's discount. Pairs below `min_margin` are never chosen.
  absl::Span<const double> margin_after_offer;
  double min_margin = 0.0;
  // Contact cap, per customer: contacts already made in the cap's window. Customers with
  // `max_contacts` or more (0 = no cap) are not contacted again.
  absl::Span<const std::int32_t> contacts_so_far;
  std::int32_t max_contacts = 0;
  // Leave out segments returning less than this per unit spent (minimums are met regardless).
  double min_value_per_spend = 1.0;
};

// The rules are met by Lagrangian relaxation: each offer whose cap or minimum binds gets a price
// per customer (positive to hold it under its cap, negative, a subsidy, to lift it to its minimum)
// found by bisection, and the plan is the budget path of the priced values. When prices cycle
// between tied offers, the least profitable holders of an offer over its cap lose it and the most
// profitable eligible customers without an offer fill a minimum. The result always meets every
// rule and the budget; its value is a lower bound on the optimum (`lp_bound` is the LP bound
// without caps and minimums).
struct RuledAllocation {
  Allocation allocation;
  std::vector<double> prices;                       // per offer: what one more unit of its cap is worth
  std::vector<std::int64_t> customers_per_offer;
  std::int64_t pairs_below_margin_floor = 0;        // customer-offer pairs the margin floor excluded
  std::int64_t customers_at_contact_cap = 0;
};

// Rules that cannot all hold fail with an error whose message names what binds (an offer's
// minimum against its cap, its eligible customers after the margin floor and contact cap, the
// customers the minimums need together, or the budget the cheapest minimums need); such errors
// are marked with MarkInfeasible (comptoir/status.h).
absl::StatusOr<RuledAllocation> AllocateWithRules(const OfferMatrix& offers, double budget, const OfferRules& rules,
                                                  const ExecutionOptions& options);

}  // namespace comptoir::promo
