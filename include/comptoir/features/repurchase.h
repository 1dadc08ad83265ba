// Re-purchase timing for items or categories bought on cycles (consumables): per customer, when
// the next purchase is due and the probability that it happens within the next N days, so a
// reminder can go out a few days before it is due.
//
// Model: gaps between a customer's consecutive purchases of a key are log-normal around the
// customer's own log-cycle, and customers' log-cycles are normal around the key's population mean
// (a normal-normal hierarchy fitted by empirical Bayes: the within- and between-customer variances
// set how far each customer's own gaps are shrunk toward the population). Whether a customer comes back at all is a Beta-Bernoulli
// "continuation" rate with the key's population rate as prior. Given t days since the last
// purchase, P(buy in (t, t + N]) = p (F(t + N) - F(t)) / (1 - p F(t)), with F the gap CDF and p
// the continuation rate.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/data/events.h"

namespace comptoir::features {

struct RepurchaseConfig {
  std::int64_t snapshot_timestamp = 0;  // only purchases before it are used
  std::int32_t horizon_days = 14;       // the N of "within N days"
  bool by_category = false;             // cycles per category (needs a catalogue) or per item
  // Pseudo-occasions of the key's population continuation rate in each customer's estimate.
  double continuation_prior_strength = 2.0;
  std::int32_t min_key_gaps = 5;        // keys with fewer observed gaps use the global prior
  // Purchases of the same key within this many days count as one (a basket split in two orders).
  double merge_within_days = 1.0;

  absl::Status Validate() const;
};

struct RepurchaseEstimate {
  std::int32_t user = 0;
  std::int32_t key = 0;              // item id, or category id when by_category
  std::int32_t purchases = 0;        // distinct purchase occasions before the snapshot
  std::int64_t last_purchase = 0;    // timestamp
  double cycle_days = 0;             // the customer's median gap (exp of the posterior log mean)
  double cycle_log_sd = 0;           // predictive spread of the next log-gap
  std::int64_t due_timestamp = 0;    // last purchase + cycle
  double continuation = 0;           // probability the customer buys this key again at all
  double probability_within_horizon = 0;
};

// One estimate per (user, key) with at least one purchase before the snapshot, ordered by
// (user, key). Anonymous events and non-purchase events are ignored.
absl::StatusOr<std::vector<RepurchaseEstimate>> EstimateRepurchase(const data::EventColumns& events,
                                                                   const data::Catalogue* catalogue,
                                                                   const RepurchaseConfig& config);

}  // namespace comptoir::features
