#include "comptoir/promo/allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

absl::StatusOr<CappedAllocation> AllocateWithOfferCaps(const OfferMatrix& offers, double budget,
                                                       absl::Span<const std::int64_t> max_customers,
                                                       double min_value_per_spend, const ExecutionOptions& options) {
  if (static_cast<std::int32_t>(max_customers.size()) != offers.num_offers) {
    return absl::InvalidArgumentError(absl::StrCat("need one cap per offer: ", max_customers.size(), " caps for ",
                                                   offers.num_offers, " offers"));
  }
  for (std::size_t j = 0; j < max_customers.size(); ++j) {
    if (max_customers[j] < 0) return absl::InvalidArgumentError(absl::StrCat("offer ", j, " has a negative cap"));
  }
  COMPTOIR_ASSIGN_OR_RETURN(const BudgetPath uncapped, SolveBudgetPath(offers, options));
  const std::int32_t m = offers.num_offers;
  std::vector<double> prices(static_cast<std::size_t>(m), 0.0);
  std::vector<double> priced(offers.value.begin(), offers.value.end());
  double highest = 0;
  for (double v : offers.value) highest = std::max(highest, v);
  // Plans with the current prices; counts[j] = customers given offer j.
  const auto plan = [&](std::vector<std::int64_t>& counts) -> absl::StatusOr<Allocation> {
    for (std::int64_t c = 0; c < offers.num_customers; ++c) {
      for (std::int32_t j = 0; j < m; ++j) priced[c * m + j] = offers.value[c * m + j] - prices[j];
    }
    COMPTOIR_ASSIGN_OR_RETURN(const BudgetPath path, SolveBudgetPath({priced, offers.cost, offers.num_customers, m}, options));
    COMPTOIR_ASSIGN_OR_RETURN(Allocation a, AllocateAtBudget(path, offers.num_customers, budget, min_value_per_spend));
    counts.assign(static_cast<std::size_t>(m), 0);
    for (std::int32_t offer : a.offer) {
      if (offer >= 0) ++counts[offer];
    }
    return a;
  };
  std::vector<std::int64_t> counts;
  COMPTOIR_ASSIGN_OR_RETURN(Allocation allocation, plan(counts));
  const auto over = [&](std::int32_t j) { return max_customers[j] > 0 && counts[j] > max_customers[j]; };
  // Raising one offer's price can push customers onto another: a few passes settle it.
  for (int pass = 0; pass < 8; ++pass) {
    bool changed = false;
    for (std::int32_t j = 0; j < m; ++j) {
      if (!over(j)) continue;
      changed = true;
      double low = prices[j], high = highest + 1.0;
      for (int step = 0; step < 50; ++step) {
        prices[j] = 0.5 * (low + high);
        COMPTOIR_ASSIGN_OR_RETURN(allocation, plan(counts));
        (over(j) ? low : high) = prices[j];
      }
      prices[j] = high;
      COMPTOIR_ASSIGN_OR_RETURN(allocation, plan(counts));
    }
    if (!changed) break;
  }
  // Prices can cycle between offers when many customers tie; whatever still exceeds a cap keeps
  // its most profitable customers.
  for (std::int32_t j = 0; j < m; ++j) {
    if (!over(j)) continue;
    std::vector<std::int64_t> holders;
    for (std::int64_t c = 0; c < offers.num_customers; ++c) {
      if (allocation.offer[c] == j) holders.push_back(c);
    }
    std::stable_sort(holders.begin(), holders.end(), [&](std::int64_t a, std::int64_t b) {
      return offers.value[a * m + j] - offers.cost[a * m + j] < offers.value[b * m + j] - offers.cost[b * m + j];
    });
    for (std::int64_t i = 0; counts[j] > max_customers[j]; ++i) allocation.offer[holders[i]] = -1, --counts[j];
  }
  // Report the true value and cost of the chosen offers, not the priced ones.
  allocation.value = 0;
  allocation.spend = 0;
  for (std::int64_t c = 0; c < offers.num_customers; ++c) {
    const std::int32_t j = allocation.offer[c];
    if (j >= 0) allocation.value += offers.value[c * m + j], allocation.spend += offers.cost[c * m + j];
  }
  allocation.lp_bound = uncapped.ValueAt(budget);
  return CappedAllocation{std::move(allocation), std::move(prices)};
}

}  // namespace comptoir::promo
