#include "comptoir/features/behaviour.h"

#include <cmath>
#include <cstring>

#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::features {
namespace {

using data::EventKind;
using ::comptoir::testing::StatusIs;

constexpr std::int64_t kSnapshot = 1'700'006'400;  // a Wednesday 00:00 UTC... plus whole days
constexpr std::int64_t kDay = kSecondsPerDay;

void Add(data::EventColumns& log, std::int64_t session, std::int32_t user, std::int32_t item,
         std::int64_t time, EventKind kind, float value = 0, float quantity = 1) {
  log.session.push_back(session), log.user.push_back(user), log.item.push_back(item);
  log.timestamp.push_back(time), log.kind.push_back(kind), log.value.push_back(value);
  log.quantity.push_back(quantity);
}

// User 0's story: a purchase 40 days ago, an abandoned cart 10 days ago, a purchase 5 days ago,
// a return 3 days ago. User 1 only browsed. User 2 never came.
data::EventColumns Story() {
  data::EventColumns log;
  Add(log, 0, 0, 1, kSnapshot - 40 * kDay, EventKind::kView);
  Add(log, 0, 0, 1, kSnapshot - 40 * kDay + 60, EventKind::kCart);
  Add(log, 0, 0, 1, kSnapshot - 40 * kDay + 120, EventKind::kPurchase, 10.0f, 2);
  Add(log, 1, 0, 2, kSnapshot - 10 * kDay, EventKind::kView);
  Add(log, 1, 0, 2, kSnapshot - 10 * kDay + 30, EventKind::kCart);
  Add(log, 2, 0, 3, kSnapshot - 5 * kDay, EventKind::kPurchase, 20.0f, 1);
  Add(log, 3, 0, 3, kSnapshot - 3 * kDay, EventKind::kReturn, -5.0f, -1);
  Add(log, 4, 1, 4, kSnapshot - 2 * kDay, EventKind::kView);
  return log;
}

float Get(const FeatureMatrix& m, std::int64_t row, const std::string& name) {
  for (std::int32_t c = 0; c < m.cols(); ++c) {
    if (m.names[c] == name) return m.at(row, c);
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

TEST(BehaviourFeatures, ComputesTheStory) {
  BehaviourFeatureConfig config;
  config.snapshot_timestamp = kSnapshot;
  data::Catalogue catalogue;
  catalogue.category = {0, 0, 1, 2, 2};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureMatrix m, BuildBehaviourFeatures(Story(), 3, config, &catalogue, nullptr, {}));
  EXPECT_EQ(m.rows, 3);
  EXPECT_NEAR(Get(m, 0, "recency_days"), 5.0, 1e-4);
  EXPECT_NEAR(Get(m, 0, "tenure_days"), 40.0, 1e-4);
  EXPECT_NEAR(Get(m, 0, "days_since_last_cart"), 10.0 - 30.0 / kDay, 1e-4);
  EXPECT_EQ(Get(m, 0, "orders_total"), 2);
  EXPECT_EQ(Get(m, 0, "revenue_total"), 30);
  EXPECT_EQ(Get(m, 0, "avg_order_value"), 15);
  EXPECT_EQ(Get(m, 0, "avg_basket_items"), 1.5);
  EXPECT_EQ(Get(m, 0, "orders_30d"), 1);
  EXPECT_EQ(Get(m, 0, "revenue_30d"), 20);
  EXPECT_EQ(Get(m, 0, "orders_90d"), 2);
  EXPECT_EQ(Get(m, 0, "sessions_30d"), 3);
  EXPECT_EQ(Get(m, 0, "abandoned_carts_30d"), 1);
  EXPECT_EQ(Get(m, 0, "abandoned_carts_7d"), 0);
  EXPECT_EQ(Get(m, 0, "returns_7d"), 5);
  EXPECT_EQ(Get(m, 0, "carts_90d"), 2);
  EXPECT_EQ(Get(m, 0, "distinct_items_purchased"), 2);
  EXPECT_EQ(Get(m, 0, "category_breadth"), 2);
  EXPECT_NEAR(Get(m, 0, "interpurchase_mean_days"), 35.0 - 120.0 / kDay, 1e-4);
  EXPECT_NEAR(Get(m, 0, "return_rate"), 5.0 / 30.0, 1e-6);
  EXPECT_NEAR(Get(m, 0, "cart_to_purchase_rate"), 0.5, 1e-6);
  EXPECT_TRUE(std::isnan(Get(m, 1, "recency_days")));  // never bought
  EXPECT_EQ(Get(m, 1, "views_7d"), 1);
  EXPECT_TRUE(std::isnan(Get(m, 2, "tenure_days")));   // never came
  EXPECT_EQ(Get(m, 2, "orders_total"), 0);
}

data::EventColumns RandomLog(std::int32_t users, std::int64_t events, std::uint64_t seed) {
  data::EventColumns log;
  internal::CounterRng rng(seed, 0);
  for (std::int64_t i = 0; i < events; ++i) {
    const auto kind = static_cast<EventKind>(rng.UniformInt(4) == 0 ? 2 : rng.UniformInt(2));
    Add(log, static_cast<std::int64_t>(rng.UniformInt(events / 4)), static_cast<std::int32_t>(rng.UniformInt(users)),
        static_cast<std::int32_t>(rng.UniformInt(100)),
        kSnapshot - static_cast<std::int64_t>(rng.UniformInt(400 * kDay)) + 200 * kDay, kind,
        kind == EventKind::kPurchase ? static_cast<float>(rng.Uniform(1, 50)) : 0.0f);
  }
  return log;
}

// The leakage proof: whatever happens after the snapshot, the features are bit-identical.
TEST(BehaviourFeatures, NoEventAfterTheSnapshotLeaks) {
  BehaviourFeatureConfig config;
  config.snapshot_timestamp = kSnapshot;
  data::EventColumns log = RandomLog(500, 20'000, 1);
  data::EventColumns past;
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (log.timestamp[i] < kSnapshot) {
      Add(past, log.session[i], log.user[i], log.item[i], log.timestamp[i], log.kind[i], log.value[i], log.quantity[i]);
    }
  }
  ASSERT_LT(past.size(), log.size());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureMatrix with_future, BuildBehaviourFeatures(log, 500, config, nullptr, nullptr, {}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureMatrix only_past, BuildBehaviourFeatures(past, 500, config, nullptr, nullptr, {}));
  ASSERT_EQ(with_future.values.size(), only_past.values.size());
  EXPECT_EQ(std::memcmp(with_future.values.data(), only_past.values.data(), only_past.values.size() * sizeof(float)), 0);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const PurchaseLabels labels, BuildPurchaseLabels(log, 500, kSnapshot, 30));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const PurchaseLabels none, BuildPurchaseLabels(past, 500, kSnapshot, 30));
  EXPECT_GT(std::count(labels.purchased.begin(), labels.purchased.end(), 1), 0);
  EXPECT_EQ(std::count(none.purchased.begin(), none.purchased.end(), 1), 0);
}

TEST(BehaviourFeatures, IdenticalWithOneAndTwoThreadsAndAnyEventOrder) {
  BehaviourFeatureConfig config;
  config.snapshot_timestamp = kSnapshot;
  const data::EventColumns log = RandomLog(3000, 50'000, 2);
  data::EventColumns reversed;
  for (std::size_t i = log.size(); i-- > 0;) {
    Add(reversed, log.session[i], log.user[i], log.item[i], log.timestamp[i], log.kind[i], log.value[i], log.quantity[i]);
  }
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureMatrix a, BuildBehaviourFeatures(log, 3000, config, nullptr, nullptr, one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureMatrix b, BuildBehaviourFeatures(reversed, 3000, config, nullptr, nullptr, two));
  EXPECT_EQ(std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)), 0);
}

TEST(PurchaseLabels, WindowIsHalfOpenAndReturnsReduceSpend) {
  data::EventColumns log;
  Add(log, 0, 0, 1, kSnapshot, EventKind::kPurchase, 10.0f);               // in: at the snapshot
  Add(log, 1, 0, 1, kSnapshot + 7 * kDay - 1, EventKind::kReturn, -4.0f);  // in: just before the end
  Add(log, 2, 1, 1, kSnapshot + 7 * kDay, EventKind::kPurchase, 99.0f);    // out: at the end
  Add(log, 3, 1, 1, kSnapshot - 1, EventKind::kPurchase, 99.0f);           // out: before
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const PurchaseLabels labels, BuildPurchaseLabels(log, 2, kSnapshot, 7));
  EXPECT_EQ(labels.purchased[0], 1);
  EXPECT_EQ(labels.spend[0], 6.0f);
  EXPECT_EQ(labels.purchased[1], 0);
  EXPECT_EQ(labels.spend[1], 0.0f);
}

TEST(BehaviourFeatures, BadInputIsNamed) {
  BehaviourFeatureConfig config;
  config.snapshot_timestamp = kSnapshot;
  data::EventColumns log = Story();
  EXPECT_THAT(BuildBehaviourFeatures(log, 1, config, nullptr, nullptr, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("event 7 has user 1")));
  log.value[2] = std::nanf("");
  EXPECT_THAT(BuildBehaviourFeatures(log, 3, config, nullptr, nullptr, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("event 2")));
  config.window_days = {30, 0};
  EXPECT_THAT(BuildBehaviourFeatures(Story(), 3, config, nullptr, nullptr, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  config.window_days = {30};
  data::Customers customers;
  customers.num_attributes = 2;
  customers.attributes = {1, 2};
  EXPECT_THAT(BuildBehaviourFeatures(Story(), 3, config, nullptr, &customers, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("customers table")));
  customers.attributes = {1, 2, 3, 4, 5, 6};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const FeatureMatrix m, BuildBehaviourFeatures(Story(), 3, config, nullptr, &customers, {}));
  EXPECT_EQ(Get(m, 2, "attribute_1"), 6);
  EXPECT_THAT(BuildPurchaseLabels(Story(), 3, kSnapshot, 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::features
