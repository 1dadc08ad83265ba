#include "comptoir/promo/allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"

namespace comptoir::promo {
namespace {

struct Segment {
  double slope;
  double cost;
  double value;
  std::int64_t customer;
  std::int32_t from;
  std::int32_t to;
};

// Upper concave hull of {(0, 0)} and the customer's offers, as segments of decreasing slope.
void CustomerHull(const OfferMatrix& offers, std::int64_t c, std::vector<std::int32_t>& options,
                  std::vector<std::int32_t>& hull, std::vector<Segment>& out) {
  const std::int32_t m = offers.num_offers;
  const double* value = offers.value.data() + c * m;
  const double* cost = offers.cost.data() + c * m;
  options.clear();
  for (std::int32_t j = 0; j < m; ++j) {
    if (value[j] > 0) options.push_back(j);  // an offer worth nothing is never worth its cost
  }
  std::sort(options.begin(), options.end(), [&](std::int32_t a, std::int32_t b) {
    return cost[a] < cost[b] || (cost[a] == cost[b] && (value[a] > value[b] || (value[a] == value[b] && a < b)));
  });
  hull.clear();  // offer ids on the hull; the origin is implicit
  auto x = [&](std::int32_t j) { return j < 0 ? 0.0 : cost[j]; };
  auto y = [&](std::int32_t j) { return j < 0 ? 0.0 : value[j]; };
  for (std::int32_t j : options) {
    const std::int32_t last = hull.empty() ? -1 : hull.back();
    if (y(j) <= y(last)) continue;  // costs at least as much for no more value: dominated
    if (x(j) == x(last) && last >= 0) hull.pop_back();  // same cost, more value: replaces it
    // Drop points that fall on or below the chord to the new point (keeps slopes decreasing).
    while (!hull.empty()) {
      const std::int32_t b = hull.back();
      const std::int32_t a = hull.size() >= 2 ? hull[hull.size() - 2] : -1;
      const double cross = (x(b) - x(a)) * (y(j) - y(a)) - (y(b) - y(a)) * (x(j) - x(a));
      if (cross >= 0) hull.pop_back();
      else break;
    }
    hull.push_back(j);
  }
  std::int32_t previous = -1;
  for (std::int32_t j : hull) {
    const double dc = x(j) - x(previous), dv = y(j) - y(previous);
    out.push_back({dc > 0 ? dv / dc : std::numeric_limits<double>::infinity(), dc, dv, c, previous, j});
    previous = j;
  }
}

}  // namespace

double BudgetPath::ValueAt(double budget) const {
  if (budget < 0) return 0.0;
  // Free offers put several breakpoints at spend 0: take the last one within the budget.
  const auto it = std::upper_bound(spend.begin(), spend.end(), budget);
  if (it == spend.end()) return value.back();
  const auto i = static_cast<std::size_t>(it - spend.begin());
  const double span = spend[i] - spend[i - 1];
  return value[i - 1] + (span > 0 ? (budget - spend[i - 1]) / span * (value[i] - value[i - 1]) : 0.0);
}

absl::StatusOr<BudgetPath> SolveBudgetPath(const OfferMatrix& offers, const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (offers.num_customers < 0 || offers.num_offers <= 0) return absl::InvalidArgumentError("need at least one offer");
  const auto cells = static_cast<std::size_t>(offers.num_customers) * static_cast<std::size_t>(offers.num_offers);
  if (offers.value.size() != cells || offers.cost.size() != cells) {
    return absl::InvalidArgumentError(absl::StrCat("value and cost must be customers x offers = ", cells, " entries"));
  }
  for (std::size_t i = 0; i < cells; ++i) {
    if (!std::isfinite(offers.value[i]) || !std::isfinite(offers.cost[i]) || offers.cost[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("customer ", i / offers.num_offers, ", offer ", i % offers.num_offers,
                                                     ": value must be finite and cost finite and >= 0"));
    }
  }
  constexpr std::int64_t kChunk = 4096;
  std::vector<std::vector<Segment>> chunks(static_cast<std::size_t>(internal::NumChunks(offers.num_customers, kChunk)));
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, offers.num_customers, kChunk, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
        std::vector<std::int32_t> candidates, hull;
        for (std::int64_t c = begin; c < end; ++c) CustomerHull(offers, c, candidates, hull, chunks[chunk]);
      }));
  std::vector<Segment> segments;
  for (std::vector<Segment>& chunk : chunks) segments.insert(segments.end(), chunk.begin(), chunk.end());
  // Best value per unit of spend first. A customer's own segments already have decreasing slopes;
  // the tie-breaks make the order a total one, so the path is the same on every run.
  std::sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) {
    if (a.slope != b.slope) return a.slope > b.slope;
    if (a.customer != b.customer) return a.customer < b.customer;
    return a.cost < b.cost;
  });
  BudgetPath path;
  path.spend.reserve(segments.size() + 1);
  path.value.reserve(segments.size() + 1);
  for (const Segment& s : segments) {
    path.spend.push_back(path.spend.back() + s.cost);
    path.value.push_back(path.value.back() + s.value);
    path.customer.push_back(s.customer);
    path.from_offer.push_back(s.from);
    path.to_offer.push_back(s.to);
  }
  return path;
}

absl::StatusOr<Allocation> AllocateAtBudget(const BudgetPath& path, std::int64_t num_customers, double budget,
                                            double min_value_per_spend) {
  if (!(budget >= 0)) return absl::InvalidArgumentError(absl::StrCat("budget must be >= 0, got ", budget));
  if (!(min_value_per_spend >= 0)) return absl::InvalidArgumentError("min_value_per_spend must be >= 0");
  Allocation allocation;
  allocation.offer.assign(static_cast<std::size_t>(num_customers), -1);
  std::vector<std::uint8_t> blocked(static_cast<std::size_t>(num_customers), 0);
  for (std::size_t i = 0; i < path.customer.size(); ++i) {
    const double cost = path.spend[i + 1] - path.spend[i];
    const double gain = path.value[i + 1] - path.value[i];
    if (cost > 0 && gain < min_value_per_spend * cost) break;  // slopes only fall from here
    const std::int64_t c = path.customer[i];
    if (c < 0 || c >= num_customers) return absl::InvalidArgumentError("the path belongs to more customers");
    if (blocked[c] || allocation.offer[c] != path.from_offer[i]) continue;
    if (allocation.spend + cost > budget * (1 + 1e-12)) {
      blocked[c] = 1;  // its later segments build on this one
      continue;
    }
    allocation.offer[c] = path.to_offer[i];
    allocation.spend += cost;
    allocation.value += gain;
  }
  allocation.lp_bound = path.ValueAt(budget);
  return allocation;
}

namespace {

absl::Status CheckRules(const OfferMatrix& offers, double budget, const OfferRules& rules) {
  const std::int32_t m = offers.num_offers;
  if (!(budget >= 0) || !std::isfinite(budget)) return absl::InvalidArgumentError(absl::StrCat("budget must be finite and >= 0, got ", budget));
  for (const auto* limits : {&rules.max_customers, &rules.min_customers}) {
    const char* name = limits == &rules.max_customers ? "cap" : "minimum";
    if (!limits->empty() && static_cast<std::int32_t>(limits->size()) != m) {
      return absl::InvalidArgumentError(absl::StrCat("need one ", name, " per offer: ", limits->size(), " for ", m, " offers"));
    }
    for (std::size_t j = 0; j < limits->size(); ++j) {
      if ((*limits)[j] < 0) return absl::InvalidArgumentError(absl::StrCat("offer ", j, " has a negative ", name));
    }
  }
  if (!rules.margin_after_offer.empty()) {
    if (rules.margin_after_offer.size() != offers.value.size()) {
      return absl::InvalidArgumentError("margin_after_offer must be customers x offers, like value and cost");
    }
    for (std::size_t i = 0; i < rules.margin_after_offer.size(); ++i) {
      if (std::isnan(rules.margin_after_offer[i])) {
        return absl::InvalidArgumentError(absl::StrCat("customer ", i / m, ", offer ", i % m, ": margin_after_offer is NaN"));
      }
    }
    if (!std::isfinite(rules.min_margin)) return absl::InvalidArgumentError("min_margin must be finite");
  }
  if (!rules.contacts_so_far.empty() && static_cast<std::int64_t>(rules.contacts_so_far.size()) != offers.num_customers) {
    return absl::InvalidArgumentError(absl::StrCat("contacts_so_far has ", rules.contacts_so_far.size(), " entries for ",
                                                   offers.num_customers, " customers"));
  }
  for (std::int32_t contacts : rules.contacts_so_far) {
    if (contacts < 0) return absl::InvalidArgumentError("contacts_so_far must be >= 0");
  }
  if (rules.max_contacts < 0) return absl::InvalidArgumentError("max_contacts must be >= 0 (0 = no cap)");
  if (!(rules.min_value_per_spend >= 0)) return absl::InvalidArgumentError("min_value_per_spend must be >= 0");
  return absl::OkStatus();
}

std::int64_t LimitOf(absl::Span<const std::int64_t> limits, std::int32_t j) { return limits.empty() ? 0 : limits[j]; }

// Exact necessary conditions for the minimums, each failure naming what binds.
absl::Status CheckMinimumsCanHold(const OfferMatrix& offers, double budget, const OfferRules& rules,
                                  const std::vector<std::uint8_t>& eligible, const RuledAllocation& counts) {
  const std::int32_t m = offers.num_offers;
  const std::int64_t n = offers.num_customers;
  std::string excluded = absl::StrCat(n, " customers");
  if (counts.pairs_below_margin_floor > 0) {
    absl::StrAppend(&excluded, "; ", counts.pairs_below_margin_floor, " customer-offer pairs fall below the margin floor of ", rules.min_margin);
  }
  if (counts.customers_at_contact_cap > 0) {
    absl::StrAppend(&excluded, "; ", counts.customers_at_contact_cap, " customers are at the contact cap of ", rules.max_contacts);
  }
  std::int64_t needed = 0;
  double cheapest_total = 0;
  std::string cheapest_parts;
  std::vector<double> costs;
  for (std::int32_t j = 0; j < m; ++j) {
    const std::int64_t minimum = LimitOf(rules.min_customers, j), cap = LimitOf(rules.max_customers, j);
    if (minimum == 0) continue;
    if (cap > 0 && minimum > cap) {
      return MarkInfeasible(absl::FailedPreconditionError(
          absl::StrCat("offer ", j, ": its minimum of ", minimum, " customers is above its cap of ", cap)));
    }
    costs.clear();
    for (std::int64_t c = 0; c < n; ++c) {
      if (eligible[c * m + j]) costs.push_back(offers.cost[c * m + j]);
    }
    if (static_cast<std::int64_t>(costs.size()) < minimum) {
      return MarkInfeasible(absl::FailedPreconditionError(absl::StrCat(
          "offer ", j, " needs at least ", minimum, " customers but only ", costs.size(), " are eligible (", excluded, ")")));
    }
    std::nth_element(costs.begin(), costs.begin() + (minimum - 1), costs.end());
    double cheapest = 0;
    for (std::int64_t i = 0; i < minimum; ++i) cheapest += costs[i];
    cheapest_total += cheapest;
    absl::StrAppend(&cheapest_parts, cheapest_parts.empty() ? "" : ", ", "offer ", j, ": ", cheapest);
    needed += minimum;
  }
  if (needed == 0) return absl::OkStatus();
  std::int64_t reachable = 0;  // customers who can take at least one offer with a minimum
  for (std::int64_t c = 0; c < n; ++c) {
    for (std::int32_t j = 0; j < m; ++j) {
      if (LimitOf(rules.min_customers, j) > 0 && eligible[c * m + j]) {
        ++reachable;
        break;
      }
    }
  }
  if (needed > reachable) {
    return MarkInfeasible(absl::FailedPreconditionError(absl::StrCat(
        "the offers' minimums need ", needed, " customers together (one offer each) but only ", reachable,
        " can receive one of those offers (", excluded, ")")));
  }
  if (cheapest_total > budget * (1 + 1e-12)) {
    return MarkInfeasible(absl::FailedPreconditionError(absl::StrCat(
        "the offers' minimums cost at least ", cheapest_total, " (", cheapest_parts, ") but the budget is ", budget)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RuledAllocation> AllocateWithRules(const OfferMatrix& offers, double budget, const OfferRules& rules,
                                                  const ExecutionOptions& options) {
  COMPTOIR_ASSIGN_OR_RETURN(const BudgetPath unruled, SolveBudgetPath(offers, options));
  COMPTOIR_RETURN_IF_ERROR(CheckRules(offers, budget, rules));
  const std::int32_t m = offers.num_offers;
  const std::int64_t n = offers.num_customers;
  RuledAllocation result;
  std::vector<std::uint8_t> eligible(offers.value.size(), 1);
  for (std::int64_t c = 0; c < n; ++c) {
    const bool capped = rules.max_contacts > 0 && !rules.contacts_so_far.empty() && rules.contacts_so_far[c] >= rules.max_contacts;
    result.customers_at_contact_cap += capped;
    for (std::int32_t j = 0; j < m; ++j) {
      const bool below_floor = !rules.margin_after_offer.empty() && rules.margin_after_offer[c * m + j] < rules.min_margin;
      result.pairs_below_margin_floor += below_floor;
      if (capped || below_floor) eligible[c * m + j] = 0;
    }
  }
  COMPTOIR_RETURN_IF_ERROR(CheckMinimumsCanHold(offers, budget, rules, eligible, result));

  std::vector<double> prices(static_cast<std::size_t>(m), 0.0);
  std::vector<double> priced(offers.value.size());
  double highest = 0, dearest = 0;
  for (std::size_t i = 0; i < offers.value.size(); ++i) highest = std::max(highest, std::abs(offers.value[i]));
  for (double cost : offers.cost) dearest = std::max(dearest, cost);
  // A price of `ceiling` takes an offer from everyone; a subsidy of it puts the offer ahead of
  // any other on every customer's hull.
  const double ceiling = 2 * (highest + dearest * std::max(1.0, rules.min_value_per_spend)) + 1;
  std::vector<std::int64_t>& counts = result.customers_per_offer;
  // Plans with the current prices; a value of 0 is never chosen, which keeps ineligible pairs out.
  const auto plan = [&]() -> absl::StatusOr<Allocation> {
    for (std::size_t i = 0; i < priced.size(); ++i) priced[i] = eligible[i] ? offers.value[i] - prices[i % m] : 0.0;
    COMPTOIR_ASSIGN_OR_RETURN(const BudgetPath path, SolveBudgetPath({priced, offers.cost, n, m}, options));
    COMPTOIR_ASSIGN_OR_RETURN(Allocation a, AllocateAtBudget(path, n, budget, rules.min_value_per_spend));
    counts.assign(static_cast<std::size_t>(m), 0);
    for (std::int32_t offer : a.offer) {
      if (offer >= 0) ++counts[offer];
    }
    return a;
  };
  const auto over = [&](std::int32_t j) { return LimitOf(rules.max_customers, j) > 0 && counts[j] > rules.max_customers[j]; };
  const auto under = [&](std::int32_t j) { return counts[j] < LimitOf(rules.min_customers, j); };
  COMPTOIR_ASSIGN_OR_RETURN(Allocation allocation, plan());
  // Pricing one offer moves customers onto or off others: a few passes settle it. Each bisection
  // keeps `satisfied` at a price that meets offer j's rule and `violated` at one that does not.
  for (int pass = 0; pass < 8; ++pass) {
    bool changed = false;
    for (std::int32_t j = 0; j < m; ++j) {
      const bool raise = over(j);
      if (!raise && !under(j)) continue;
      changed = true;
      double violated = prices[j], satisfied = raise ? ceiling : -ceiling;
      for (int step = 0; step < 50; ++step) {
        prices[j] = 0.5 * (violated + satisfied);
        COMPTOIR_ASSIGN_OR_RETURN(allocation, plan());
        if (raise ? over(j) : under(j)) {
          violated = prices[j];
        } else {
          satisfied = prices[j];
          if (counts[j] == (raise ? rules.max_customers[j] : rules.min_customers[j])) break;
        }
      }
      if (prices[j] != satisfied) {
        prices[j] = satisfied;
        COMPTOIR_ASSIGN_OR_RETURN(allocation, plan());
      }
    }
    if (!changed) break;
  }
  // Whatever still breaks a rule after the prices settle is repaired directly: an offer over its
  // cap keeps its most profitable holders...
  const auto profit = [&](std::int64_t c, std::int32_t j) { return offers.value[c * m + j] - offers.cost[c * m + j]; };
  for (std::int32_t j = 0; j < m; ++j) {
    if (!over(j)) continue;
    std::vector<std::int64_t> holders;
    for (std::int64_t c = 0; c < n; ++c) {
      if (allocation.offer[c] == j) holders.push_back(c);
    }
    std::stable_sort(holders.begin(), holders.end(), [&](std::int64_t a, std::int64_t b) { return profit(a, j) < profit(b, j); });
    for (std::int64_t i = 0; counts[j] > rules.max_customers[j]; ++i) allocation.offer[holders[i]] = -1, --counts[j];
  }
  double spend = 0;
  for (std::int64_t c = 0; c < n; ++c) {
    if (allocation.offer[c] >= 0) spend += offers.cost[c * m + allocation.offer[c]];
  }
  // ...and an offer under its minimum goes to the most profitable eligible customers without one.
  for (std::int32_t j = 0; j < m; ++j) {
    if (!under(j)) continue;
    std::vector<std::int64_t> candidates;
    for (std::int64_t c = 0; c < n; ++c) {
      if (allocation.offer[c] < 0 && eligible[c * m + j]) candidates.push_back(c);
    }
    std::stable_sort(candidates.begin(), candidates.end(), [&](std::int64_t a, std::int64_t b) { return profit(a, j) > profit(b, j); });
    for (std::size_t i = 0; i < candidates.size() && under(j); ++i) {
      const double cost = offers.cost[candidates[i] * m + j];
      if (spend + cost > budget * (1 + 1e-12)) continue;
      allocation.offer[candidates[i]] = j, spend += cost, ++counts[j];
    }
    if (under(j)) {
      return MarkInfeasible(absl::FailedPreconditionError(absl::StrCat(
          "offer ", j, " reaches only ", counts[j], " of its minimum of ", rules.min_customers[j], " customers within the budget of ",
          budget, ": the budget binds together with the other offers' minimums and caps")));
    }
  }
  // Report the true value and cost of the chosen offers, not the priced ones.
  allocation.value = 0;
  allocation.spend = 0;
  for (std::int64_t c = 0; c < n; ++c) {
    const std::int32_t j = allocation.offer[c];
    if (j >= 0) allocation.value += offers.value[c * m + j], allocation.spend += offers.cost[c * m + j];
  }
  allocation.lp_bound = unruled.ValueAt(budget);
  result.allocation = std::move(allocation);
  result.prices = std::move(prices);
  return result;
}

}  // namespace comptoir::promo
