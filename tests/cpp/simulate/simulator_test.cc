#include "comptoir/simulate/simulator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir::simulate {
namespace {

using data::EventKind;
using ::comptoir::testing::StatusIs;

SimulatorConfig SmallConfig() {
  SimulatorConfig config;
  config.num_customers = 6000;
  config.num_items = 2000;
  config.num_categories = 20;
  config.num_days = 120;
  config.consumable_fraction = 0.2;
  return config;
}

const SimulatedData& Data() {
  static const SimulatedData data = Simulate(SmallConfig(), {}).value();
  return data;
}

TEST(Simulator, BitIdenticalWithOneAndTwoThreadsAndSeedSensitive) {
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  SimulatorConfig config = SmallConfig();
  config.num_customers = 1500;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const SimulatedData a, Simulate(config, one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const SimulatedData b, Simulate(config, two));
  ASSERT_EQ(a.events.size(), b.events.size());
  EXPECT_EQ(a.events.item, b.events.item);
  EXPECT_EQ(a.events.timestamp, b.events.timestamp);
  EXPECT_EQ(a.events.value, b.events.value);
  EXPECT_EQ(a.campaign.arm, b.campaign.arm);
  EXPECT_EQ(a.campaign.true_conversion, b.campaign.true_conversion);
  EXPECT_EQ(a.customers.attributes, b.customers.attributes);
  two.seed = 43;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const SimulatedData c, Simulate(config, two));
  EXPECT_NE(a.events.item, c.events.item);
}

TEST(Simulator, EventsAreSortedBySessionThenTimeWithValidIds) {
  const SimulatedData& d = Data();
  ASSERT_GT(d.events.size(), 100'000u);
  for (std::size_t i = 1; i < d.events.size(); ++i) {
    ASSERT_TRUE(d.events.session[i] > d.events.session[i - 1] ||
                (d.events.session[i] == d.events.session[i - 1] && d.events.timestamp[i] >= d.events.timestamp[i - 1]))
        << "event " << i;
  }
  EXPECT_EQ(d.events.session.back() + 1, d.num_sessions);
  for (std::size_t i = 0; i < d.events.size(); i += 97) {
    ASSERT_GE(d.events.item[i], 0);
    ASSERT_LT(d.events.item[i], 2000);
    ASSERT_LT(d.events.user[i], 6000);
    ASSERT_EQ(d.events.value[i] > 0, d.events.kind[i] == EventKind::kPurchase);
  }
}

TEST(Simulator, PopularityIsSkewed) {
  const SimulatedData& d = Data();
  std::vector<std::int64_t> views(2000, 0);
  for (std::size_t i = 0; i < d.events.size(); ++i) views[d.events.item[i]] += d.events.kind[i] == EventKind::kView;
  std::sort(views.rbegin(), views.rend());
  const double total = static_cast<double>(std::accumulate(views.begin(), views.end(), std::int64_t{0}));
  const double top_one_percent = static_cast<double>(std::accumulate(views.begin(), views.begin() + 20, std::int64_t{0}));
  EXPECT_GT(top_one_percent / total, 0.10);  // 1% of items, over 10% of views
  EXPECT_LT(top_one_percent / total, 0.60);
}

TEST(Simulator, CartsAreAbandonedOrBought) {
  const SimulatedData& d = Data();
  std::map<std::int64_t, std::pair<bool, bool>> sessions;  // cart, purchase
  for (std::size_t i = 0; i < d.events.size(); ++i) {
    auto& s = sessions[d.events.session[i]];
    s.first |= d.events.kind[i] == EventKind::kCart;
    s.second |= d.events.kind[i] == EventKind::kPurchase;
  }
  double carts = 0, bought = 0;
  for (const auto& [id, s] : sessions) carts += s.first, bought += s.first && s.second;
  EXPECT_GT(bought / carts, 0.2);
  EXPECT_LT(bought / carts, 0.9);
}

TEST(Simulator, ConsumablesAreReboughtOnPersonalCycles) {
  const SimulatedData& d = Data();
  std::map<std::int32_t, std::vector<std::int64_t>> purchases;
  for (std::size_t i = 0; i < d.events.size(); ++i) {
    const std::int32_t u = d.events.user[i];
    if (d.events.kind[i] == EventKind::kPurchase && d.events.item[i] == d.consumable_item[u]) purchases[u].push_back(d.events.timestamp[i]);
  }
  int checked = 0;
  double error = 0;
  for (auto& [user, times] : purchases) {
    std::sort(times.begin(), times.end());
    if (times.size() < 4) continue;
    std::vector<double> gaps;
    for (std::size_t k = 1; k < times.size(); ++k) gaps.push_back(static_cast<double>(times[k] - times[k - 1]) / 86'400.0);
    std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
    error += std::abs(gaps[gaps.size() / 2] - d.consumable_cycle_days[user]) / d.consumable_cycle_days[user];
    ++checked;
  }
  ASSERT_GT(checked, 100);
  EXPECT_LT(error / checked, 0.1);  // median gap within 10% of the personal cycle on average
}

TEST(Simulator, TimeOfDayShiftsWhatPeopleLookAt) {
  const SimulatedData& d = Data();
  std::vector<double> morning(20, 0), evening(20, 0);
  double m = 0, e = 0;
  for (std::size_t i = 0; i < d.events.size(); ++i) {
    if (d.events.kind[i] != EventKind::kView) continue;
    const std::int64_t hour = (d.events.timestamp[i] % 86'400) / 3600;
    const std::int32_t category = d.catalogue.category[d.events.item[i]];
    if (hour >= 7 && hour < 12) morning[category] += 1, m += 1;
    if (hour >= 18 && hour < 23) evening[category] += 1, e += 1;
  }
  double total_variation = 0;
  for (int c = 0; c < 20; ++c) total_variation += std::abs(morning[c] / m - evening[c] / e) / 2;
  EXPECT_GT(total_variation, 0.05);
}

TEST(Simulator, IntentDriftsWithinSessions) {
  const SimulatedData& d = Data();
  double same = 0, pairs = 0;
  for (std::size_t i = 1; i < d.events.size(); ++i) {
    if (d.events.session[i] != d.events.session[i - 1] || d.events.kind[i] != EventKind::kView) continue;
    same += d.catalogue.category[d.events.item[i]] == d.catalogue.category[d.events.item[i - 1]];
    pairs += 1;
  }
  EXPECT_GT(same / pairs, 0.6);   // intent persists...
  EXPECT_LT(same / pairs, 0.99);  // ...but drifts
}

TEST(Simulator, RandomisedArmsAreBalancedAndTheAteMatchesTheTruth) {
  const Campaign& campaign = Data().campaign;
  const int arms = campaign.num_arms;
  const auto n = static_cast<double>(campaign.arm.size());
  std::vector<double> count(arms, 0), conversions(arms, 0);
  for (std::size_t c = 0; c < campaign.arm.size(); ++c) {
    count[campaign.arm[c]] += 1;
    conversions[campaign.arm[c]] += campaign.converted[c];
  }
  double chi_square = 0;
  for (int a = 0; a < arms; ++a) chi_square += std::pow(count[a] - n / arms, 2) / (n / arms);
  EXPECT_LT(chi_square, 13.8);  // p > 0.001 with 2 degrees of freedom
  for (int a = 1; a < arms; ++a) {
    double true_effect = 0;
    for (std::size_t c = 0; c < campaign.arm.size(); ++c) {
      true_effect += campaign.true_conversion[c * arms + a] - campaign.true_conversion[c * arms];
    }
    true_effect /= n;
    const double p1 = conversions[a] / count[a], p0 = conversions[0] / count[0];
    const double se = std::sqrt(p1 * (1 - p1) / count[a] + p0 * (1 - p0) / count[0]);
    EXPECT_NEAR(p1 - p0, true_effect, 1.96 * se) << "arm " << a;
    EXPECT_GT(true_effect, 0.0);  // discounts help on average...
  }
  // ...but not everyone: some customers are put off by an offer.
  int sleeping_dogs = 0;
  for (std::size_t c = 0; c < campaign.arm.size(); ++c) {
    sleeping_dogs += campaign.true_conversion[c * arms + 2] < campaign.true_conversion[c * arms];
  }
  EXPECT_GT(sleeping_dogs, 30);
  EXPECT_LT(sleeping_dogs, static_cast<int>(n / 2));
}

TEST(Simulator, RejectsBadConfigs) {
  SimulatorConfig config;
  config.num_customers = 0;
  EXPECT_THAT(Simulate(config, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  config = {};
  config.promo_discounts = {0.1, 0.2};
  EXPECT_THAT(Simulate(config, {}), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("control arm")));
  config = {};
  config.promo_discounts = {0.0, 1.5};
  EXPECT_THAT(Simulate(config, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  config = {};
  config.num_categories = config.num_items + 1;
  EXPECT_THAT(Simulate(config, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::simulate

namespace comptoir::simulate {
namespace {

TEST(Simulator, ASmallCatalogueLeavesCategoriesEmptyAndNobodyBrowsesThem) {
  // 200 items over the default categories leave some without items; browsing one used to sample
  // from an empty table (a crash from Python: simulate(num_items=200)).
  SimulatorConfig config;
  config.num_customers = 800;
  config.num_items = 200;
  config.num_days = 60;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const SimulatedData data, Simulate(config, {}));
  EXPECT_GT(data.events.size(), 0u);
  for (std::int32_t item : data.events.item) {
    ASSERT_GE(item, 0);
    ASSERT_LT(item, config.num_items);
  }
}

}  // namespace
}  // namespace comptoir::simulate
