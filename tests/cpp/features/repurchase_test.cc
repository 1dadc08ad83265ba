#include "comptoir/features/repurchase.h"

#include "comptoir/features/behaviour.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::features {
namespace {

using ::comptoir::testing::StatusIs;

constexpr std::int64_t kDay = kSecondsPerDay;
constexpr std::int64_t kStart = 1'600'000'000;

struct World {
  data::EventColumns events;
  std::vector<double> true_cycle;       // per user, days (0 = one-time buyer)
  std::vector<std::int64_t> next_purchase;  // first purchase at or after the snapshot
  std::int64_t snapshot = 0;
};

// Users 0..299 re-buy item 0 every 7, 14 or 28 days (+-1 day); users 300..599 buy item 1 once.
World MakeWorld() {
  World w;
  w.snapshot = kStart + 200 * kDay;
  internal::CounterRng rng(4, 0);
  std::int64_t session = 0;
  auto buy = [&](std::int32_t user, std::int32_t item, std::int64_t t) {
    w.events.session.push_back(session++), w.events.user.push_back(user), w.events.item.push_back(item);
    w.events.timestamp.push_back(t), w.events.kind.push_back(data::EventKind::kPurchase);
    w.events.value.push_back(5.0f), w.events.quantity.push_back(1.0f);
  };
  for (std::int32_t u = 0; u < 600; ++u) {
    const double cycle = u < 300 ? 7.0 * (1 << (u % 3)) : 0.0;
    w.true_cycle.push_back(cycle);
    std::int64_t t = kStart + static_cast<std::int64_t>(rng.Uniform(0, 150) * kDay);
    if (cycle == 0) {
      buy(u, 1, t);
      w.next_purchase.push_back(std::numeric_limits<std::int64_t>::max());
      continue;
    }
    while (t < w.snapshot) {
      buy(u, 0, t);
      t += static_cast<std::int64_t>((cycle + rng.Uniform(-1, 1)) * kDay);
    }
    w.next_purchase.push_back(t);
    buy(u, 0, t);  // after the snapshot: must be ignored by the estimator
  }
  return w;
}

TEST(Repurchase, RecoversPersonalCyclesAndRanksWhoIsDue) {
  const World w = MakeWorld();
  RepurchaseConfig config;
  config.snapshot_timestamp = w.snapshot;
  config.horizon_days = 5;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto estimates, EstimateRepurchase(w.events, nullptr, config));
  ASSERT_EQ(estimates.size(), 600u);
  double due_probability = 0, not_due_probability = 0;
  int due = 0, not_due = 0;
  for (const RepurchaseEstimate& e : estimates) {
    if (e.user >= 300) {
      EXPECT_LT(e.continuation, 0.3) << "one-time buyer " << e.user;
      continue;
    }
    if (e.purchases >= 4) {
      EXPECT_NEAR(e.cycle_days, w.true_cycle[e.user], 0.1 * w.true_cycle[e.user]) << e.user;
    }
    EXPECT_LT(e.last_purchase, w.snapshot);
    EXPECT_GT(e.continuation, 0.7);
    if (w.next_purchase[e.user] < w.snapshot + config.horizon_days * kDay) {
      due_probability += e.probability_within_horizon, ++due;
    } else {
      not_due_probability += e.probability_within_horizon, ++not_due;
    }
  }
  ASSERT_GT(due, 20);
  ASSERT_GT(not_due, 20);
  EXPECT_GT(due_probability / due, 2.0 * not_due_probability / not_due);
}

TEST(Repurchase, ByCategoryAndBadInput) {
  const World w = MakeWorld();
  RepurchaseConfig config;
  config.snapshot_timestamp = w.snapshot;
  config.by_category = true;
  EXPECT_THAT(EstimateRepurchase(w.events, nullptr, config), StatusIs(absl::StatusCode::kInvalidArgument));
  data::Catalogue catalogue;
  catalogue.category = {3, 3};  // both items in one category
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto estimates, EstimateRepurchase(w.events, &catalogue, config));
  for (const auto& e : estimates) EXPECT_EQ(e.key, 3);
  catalogue.category = {3};
  EXPECT_THAT(EstimateRepurchase(w.events, &catalogue, config),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("not in the catalogue")));
  config.horizon_days = 0;
  EXPECT_THAT(EstimateRepurchase(w.events, nullptr, config), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::features
