// Point-in-time behaviour features per customer (recency, frequency, monetary over several
// windows, sessions, carts, baskets, habits) and purchase labels over a horizon. Only events
// strictly before the snapshot reach the features; only events in [snapshot, snapshot + horizon)
// reach the labels, so a model trained on them never sees its own future.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "comptoir/options.h"

namespace comptoir::features {

inline constexpr std::int64_t kSecondsPerDay = 86'400;

struct BehaviourFeatureConfig {
  // Features use events with timestamp < snapshot_timestamp (seconds since the epoch).
  std::int64_t snapshot_timestamp = 0;
  // Windows (days before the snapshot) for the counting and monetary features.
  std::vector<std::int32_t> window_days = {7, 30, 90, 365};

  absl::Status Validate() const;
};

// Row-major customers x features, the layout NumPy's C order and the propensity models use.
// Features that do not exist for a customer (no purchase yet: recency, intervals) are NaN,
// which the boosted trees treat as missing.
struct FeatureMatrix {
  std::vector<float> values;
  std::vector<std::string> names;
  std::int64_t rows = 0;

  std::int32_t cols() const { return static_cast<std::int32_t>(names.size()); }
  float at(std::int64_t row, std::int32_t col) const { return values[static_cast<std::size_t>(row) * names.size() + col]; }
};

// One row per user id in [0, num_users). `catalogue` (optional: pass nullptr) adds category
// breadth; `customers` (optional) appends its attributes as attribute_0, attribute_1, ...
// Events with user -1 (anonymous) are ignored; a user id >= num_users is InvalidArgument.
absl::StatusOr<FeatureMatrix> BuildBehaviourFeatures(const data::EventColumns& events,
                                                     std::int32_t num_users,
                                                     const BehaviourFeatureConfig& config,
                                                     const data::Catalogue* catalogue,
                                                     const data::Customers* customers,
                                                     const ExecutionOptions& options);

struct PurchaseLabels {
  std::vector<std::uint8_t> purchased;  // any purchase in [snapshot, snapshot + horizon)
  std::vector<float> spend;             // purchase value minus returns in that window
};

absl::StatusOr<PurchaseLabels> BuildPurchaseLabels(const data::EventColumns& events,
                                                   std::int32_t num_users,
                                                   std::int64_t snapshot_timestamp,
                                                   std::int32_t horizon_days);

}  // namespace comptoir::features
