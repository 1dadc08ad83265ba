#include "comptoir/features/repurchase.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "comptoir/features/behaviour.h"
#include "comptoir/status.h"

namespace comptoir::features {
namespace {

struct Purchase {
  std::int32_t user;
  std::int32_t key;
  std::int64_t time;
};

// Sufficient statistics of one key's (or all keys') log-gaps for the normal-normal hierarchy.
struct KeyStats {
  double user_mean_sum = 0;      // over customers with at least one gap
  double user_mean_sq = 0;
  double inverse_count_sum = 0;  // sum of 1 / gaps per customer
  std::int64_t users = 0;
  double within_ss = 0;          // squared deviations of gaps from their customer's mean
  std::int64_t within_df = 0;
  std::int64_t gaps = 0;
  std::int64_t occasions = 0;    // purchase occasions that could have been followed by another

  void AddCustomer(const std::vector<double>& log_gaps) {
    if (log_gaps.empty()) return;
    double mean = 0;
    for (double g : log_gaps) mean += g;
    mean /= static_cast<double>(log_gaps.size());
    for (double g : log_gaps) within_ss += (g - mean) * (g - mean);
    within_df += static_cast<std::int64_t>(log_gaps.size()) - 1;
    user_mean_sum += mean;
    user_mean_sq += mean * mean;
    inverse_count_sum += 1.0 / static_cast<double>(log_gaps.size());
    ++users;
    gaps += static_cast<std::int64_t>(log_gaps.size());
  }
  double PopulationMean() const { return user_mean_sum / static_cast<double>(users); }
  // Spread of a customer's gaps around their own cycle.
  double WithinVariance() const { return within_df > 0 ? std::max(1e-4, within_ss / static_cast<double>(within_df)) : 0.25; }
  // Spread of customers' cycles around the population's, net of the noise in each customer's mean.
  double BetweenVariance() const {
    if (users < 2) return 1.0;
    const double mean = PopulationMean();
    const double observed = (user_mean_sq - users * mean * mean) / static_cast<double>(users - 1);
    return std::max(1e-3, observed - WithinVariance() * inverse_count_sum / static_cast<double>(users));
  }
};

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double LogNormalCdf(double days, double mu, double sigma) {
  return days <= 0 ? 0.0 : NormalCdf((std::log(days) - mu) / sigma);
}

}  // namespace

absl::Status RepurchaseConfig::Validate() const {
  if (horizon_days <= 0) return absl::InvalidArgumentError("horizon_days must be positive");
  if (!(continuation_prior_strength > 0)) return absl::InvalidArgumentError("continuation_prior_strength must be positive");
  if (min_key_gaps < 2) return absl::InvalidArgumentError("min_key_gaps must be at least 2");
  if (!(merge_within_days >= 0)) return absl::InvalidArgumentError("merge_within_days must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RepurchaseEstimate>> EstimateRepurchase(const data::EventColumns& events,
                                                                   const data::Catalogue* catalogue,
                                                                   const RepurchaseConfig& config) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  if (config.by_category && catalogue == nullptr) {
    return absl::InvalidArgumentError("by_category needs a catalogue");
  }
  const std::size_t n = events.size();
  if (events.user.size() != n || events.timestamp.size() != n || events.kind.size() != n) {
    return absl::InvalidArgumentError("event columns user, item, timestamp and kind must have the same length");
  }
  std::vector<Purchase> purchases;
  for (std::size_t i = 0; i < n; ++i) {
    if (events.kind[i] != data::EventKind::kPurchase || events.user[i] < 0 ||
        events.timestamp[i] >= config.snapshot_timestamp) {
      continue;
    }
    std::int32_t key = events.item[i];
    if (config.by_category) {
      if (key < 0 || static_cast<std::size_t>(key) >= catalogue->category.size()) {
        return absl::InvalidArgumentError(absl::StrCat("event ", i, " has item ", key, ", not in the catalogue"));
      }
      key = catalogue->category[key];
    }
    purchases.push_back({events.user[i], key, events.timestamp[i]});
  }
  std::sort(purchases.begin(), purchases.end(), [](const Purchase& a, const Purchase& b) {
    return std::tie(a.user, a.key, a.time) < std::tie(b.user, b.key, b.time);
  });

  // Occasions per (user, key): runs of purchases closer than merge_within_days collapse.
  struct Series {
    std::int32_t user, key;
    std::size_t begin, end;  // into occasion_times
  };
  std::vector<Series> series;
  std::vector<std::int64_t> occasion_times;
  const double merge_seconds = config.merge_within_days * kSecondsPerDay;
  for (std::size_t i = 0; i < purchases.size();) {
    std::size_t j = i;
    const std::size_t begin = occasion_times.size();
    while (j < purchases.size() && purchases[j].user == purchases[i].user && purchases[j].key == purchases[i].key) {
      if (occasion_times.size() == begin ||
          static_cast<double>(purchases[j].time - occasion_times.back()) >= merge_seconds) {
        occasion_times.push_back(purchases[j].time);
      }
      ++j;
    }
    series.push_back({purchases[i].user, purchases[i].key, begin, occasion_times.size()});
    i = j;
  }

  auto log_gaps_of = [&](const Series& s, std::vector<double>& out) {
    out.clear();
    for (std::size_t k = s.begin + 1; k < s.end; ++k) {
      // Gaps under an hour are floored there: log(0) has no place in a log-normal.
      out.push_back(std::log(std::max(1.0 / 24, static_cast<double>(occasion_times[k] - occasion_times[k - 1]) / kSecondsPerDay)));
    }
  };
  absl::flat_hash_map<std::int32_t, KeyStats> per_key;
  KeyStats global;
  std::vector<double> log_gaps;
  for (const Series& s : series) {
    log_gaps_of(s, log_gaps);
    KeyStats& stats = per_key[s.key];
    stats.AddCustomer(log_gaps);
    global.AddCustomer(log_gaps);
    stats.occasions += static_cast<std::int64_t>(s.end - s.begin);
    global.occasions += static_cast<std::int64_t>(s.end - s.begin);
  }

  std::vector<RepurchaseEstimate> estimates;
  estimates.reserve(series.size());
  for (const Series& s : series) {
    const KeyStats& key_stats = per_key[s.key];
    const KeyStats& prior = key_stats.gaps >= config.min_key_gaps ? key_stats : global;
    const double prior_mean = prior.users > 0 ? prior.PopulationMean() : std::log(30.0);
    const double within = prior.WithinVariance();
    const double between = prior.BetweenVariance();
    log_gaps_of(s, log_gaps);
    const auto own_gaps = static_cast<double>(log_gaps.size());
    double own_sum = 0;
    for (double g : log_gaps) own_sum += g;
    // Posterior of the customer's log-cycle: precision-weighted own mean and population mean.
    const double posterior_precision = own_gaps / within + 1.0 / between;
    const double mu = (own_sum / within + prior_mean / between) / posterior_precision;
    const double sigma = std::sqrt(within + 1.0 / posterior_precision);
    // Continuation: the key's rate of "followed by another purchase" as a Beta prior. A key
    // bought often but never twice by anyone is strong evidence, even with no gaps to time.
    const KeyStats& rate_prior = key_stats.occasions >= config.min_key_gaps ? key_stats : global;
    const double population_rate =
        rate_prior.occasions > 0 ? static_cast<double>(rate_prior.gaps) / static_cast<double>(rate_prior.occasions) : 0.5;
    const double continuation = (config.continuation_prior_strength * population_rate + own_gaps) /
                                (config.continuation_prior_strength + own_gaps);

    RepurchaseEstimate e;
    e.user = s.user;
    e.key = s.key;
    e.purchases = static_cast<std::int32_t>(s.end - s.begin);
    e.last_purchase = occasion_times[s.end - 1];
    e.cycle_days = std::exp(mu);
    e.cycle_log_sd = sigma;
    e.due_timestamp = e.last_purchase + static_cast<std::int64_t>(e.cycle_days * kSecondsPerDay);
    e.continuation = continuation;
    const double elapsed = static_cast<double>(config.snapshot_timestamp - e.last_purchase) / kSecondsPerDay;
    const double f_now = LogNormalCdf(elapsed, mu, sigma);
    const double f_then = LogNormalCdf(elapsed + config.horizon_days, mu, sigma);
    e.probability_within_horizon = continuation * (f_then - f_now) / std::max(1e-12, 1.0 - continuation * f_now);
    estimates.push_back(e);
  }
  return estimates;
}

}  // namespace comptoir::features
