// A storefront simulator: the built-in default data of `comptoir demo` and the ground truth of
// many tests. Customers with latent tastes, price sensitivity, activity levels and time-of-day
// habits browse a catalogue with power-law popularity in sessions whose intent drifts; they add
// to carts, abandon some, buy others, and re-buy consumables on personal cycles. After the
// observation window a randomised promo campaign (several discount arms) runs, and the true
// conversion probability and expected spend of every customer under every arm are returned
// beside the outcomes, so uplift estimates can be checked against the truth.
// Deterministic for a seed: bit-identical with any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "comptoir/options.h"

namespace comptoir::simulate {

struct SimulatorConfig {
  std::int32_t num_customers = 20'000;
  std::int32_t num_items = 5'000;
  std::int32_t num_categories = 40;
  std::int32_t num_days = 90;                     // observation window
  std::int64_t start_timestamp = 1'700'006'400;   // 2023-11-15 00:00 UTC
  double popularity_exponent = 1.0;               // Zipf exponent of item popularity
  std::int32_t taste_dim = 8;
  double sessions_per_customer = 8.0;             // mean over the window
  double activity_shape = 1.0;                    // activity is log-normal with variance 1 / shape
  double mean_session_views = 5.0;
  double intent_drift = 0.15;                     // chance per view of moving to another category
  double consumable_fraction = 0.1;               // share of categories whose items are re-bought
  std::vector<double> promo_discounts = {0.0, 0.10, 0.20};  // campaign arms; arm 0 is the control
  std::int32_t campaign_days = 14;

  absl::Status Validate() const;
};

// Customer attribute columns of data::Customers, in this order.
inline constexpr const char* kCustomerAttributeNames[] = {
    "age_band", "tenure_days", "price_sensitivity_proxy", "preferred_hour", "weekend_shopper", "channel"};
inline constexpr std::int32_t kNumCustomerAttributes = 6;

struct Campaign {
  std::int32_t num_arms = 0;
  std::vector<double> discounts;         // per arm
  std::int64_t start_timestamp = 0;      // the day after the observation window
  std::vector<std::int32_t> arm;         // per customer, randomised
  std::vector<std::uint8_t> converted;   // outcome under the assigned arm
  std::vector<float> spend;              // outcome under the assigned arm (after the discount)
  // Ground truth, customers x arms (row-major): P(convert) and E[spend] under every arm.
  std::vector<float> true_conversion;
  std::vector<float> true_spend;
};

struct SimulatedData {
  data::EventColumns events;     // sorted by (session, time); session ids dense in that order
  data::Catalogue catalogue;
  data::Customers customers;
  Campaign campaign;
  std::vector<std::uint8_t> item_consumable;
  std::vector<float> consumable_cycle_days;  // per customer; 0 = buys no consumable on a cycle
  std::vector<std::int32_t> consumable_item;  // per customer; -1 = none
  std::int64_t num_sessions = 0;
};

absl::StatusOr<SimulatedData> Simulate(const SimulatorConfig& config, const ExecutionOptions& options);

}  // namespace comptoir::simulate
