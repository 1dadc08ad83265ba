#include "comptoir/features/behaviour.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/data/event_log.h"
#include "comptoir/status.h"
#include "internal/parallel.h"

namespace comptoir::features {
namespace {

using data::EventKind;

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

absl::Status ValidateEvents(const data::EventColumns& events, std::int32_t num_users) {
  const std::size_t n = events.size();
  if (events.session.size() != n || events.user.size() != n || events.timestamp.size() != n ||
      events.kind.size() != n || events.value.size() != n) {
    return absl::InvalidArgumentError("event columns session, user, item, timestamp, kind and value must have the same length");
  }
  if (num_users < 0) return absl::InvalidArgumentError("num_users must be >= 0");
  for (std::size_t i = 0; i < n; ++i) {
    if (events.user[i] >= num_users || events.user[i] < -1) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has user ", events.user[i], ", outside [-1, ", num_users, ")"));
    }
    if (static_cast<int>(events.kind[i]) >= data::kNumEventKinds) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has an unknown event kind"));
    }
    if (!std::isfinite(events.value[i])) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has a non-finite value"));
    }
  }
  return absl::OkStatus();
}

// What one visit amounted to.
struct SessionSummary {
  std::int64_t start = 0;
  std::int64_t first_purchase = 0;
  bool has_cart = false;
  bool has_purchase = false;
  double purchase_value = 0;
  double purchase_items = 0;
};

// Column positions, computed once from the config so the per-user loop only writes numbers.
struct Layout {
  std::vector<std::string> names;
  std::int32_t recency = 0, since_last_event = 0, tenure = 0, since_last_cart = 0;
  std::int32_t windows = 0;  // first windowed column; 8 per window
  std::int32_t totals = 0;   // orders, revenue, avg order value, avg basket items, distinct items
  std::int32_t category_breadth = -1;
  std::int32_t intervals = 0;  // mean, std
  std::int32_t rates = 0;      // return rate, cart-to-purchase rate
  std::int32_t habits = 0;     // night, morning, afternoon, evening, weekend shares
  std::int32_t attributes = -1;

  static constexpr const char* kWindowed[] = {"orders", "revenue", "items", "sessions",
                                              "views", "carts", "abandoned_carts", "returns"};
  static constexpr std::int32_t kPerWindow = 8;

  std::int32_t Add(std::string name) {
    names.push_back(std::move(name));
    return static_cast<std::int32_t>(names.size()) - 1;
  }
};

Layout MakeLayout(const BehaviourFeatureConfig& config, bool with_categories, std::int32_t num_attributes) {
  Layout l;
  l.recency = l.Add("recency_days");
  l.since_last_event = l.Add("days_since_last_event");
  l.tenure = l.Add("tenure_days");
  l.since_last_cart = l.Add("days_since_last_cart");
  l.windows = static_cast<std::int32_t>(l.names.size());
  for (std::int32_t days : config.window_days) {
    for (const char* name : Layout::kWindowed) l.Add(absl::StrCat(name, "_", days, "d"));
  }
  l.totals = l.Add("orders_total");
  for (const char* name : {"revenue_total", "avg_order_value", "avg_basket_items", "distinct_items_purchased"}) l.Add(name);
  if (with_categories) l.category_breadth = l.Add("category_breadth");
  l.intervals = l.Add("interpurchase_mean_days");
  l.Add("interpurchase_std_days");
  l.rates = l.Add("return_rate");
  l.Add("cart_to_purchase_rate");
  l.habits = l.Add("share_night");
  for (const char* name : {"share_morning", "share_afternoon", "share_evening", "share_weekend"}) l.Add(name);
  if (num_attributes > 0) {
    l.attributes = static_cast<std::int32_t>(l.names.size());
    for (std::int32_t a = 0; a < num_attributes; ++a) l.Add(absl::StrCat("attribute_", a));
  }
  return l;
}

float Days(std::int64_t seconds) { return static_cast<float>(static_cast<double>(seconds) / kSecondsPerDay); }

// Fills one customer's row from their events (indices into `events`, any order).
void FillRow(const data::EventColumns& events, std::vector<std::int64_t>& mine,
             const BehaviourFeatureConfig& config, const Layout& layout,
             const data::Catalogue* catalogue, std::vector<SessionSummary>& sessions,
             std::vector<std::int32_t>& scratch_ids, float* row) {
  const std::int64_t snapshot = config.snapshot_timestamp;
  std::fill(row, row + layout.names.size(), 0.0f);
  row[layout.recency] = row[layout.since_last_event] = row[layout.tenure] = row[layout.since_last_cart] = kMissing;
  row[layout.intervals] = row[layout.intervals + 1] = kMissing;
  row[layout.rates] = row[layout.rates + 1] = kMissing;
  for (int h = 0; h < 5; ++h) row[layout.habits + h] = kMissing;
  if (layout.category_breadth >= 0) row[layout.category_breadth] = 0.0f;
  if (mine.empty()) return;

  // (session, time, index) order makes each visit contiguous and the result independent of input order.
  std::sort(mine.begin(), mine.end(), [&](std::int64_t a, std::int64_t b) {
    if (events.session[a] != events.session[b]) return events.session[a] < events.session[b];
    if (events.timestamp[a] != events.timestamp[b]) return events.timestamp[a] < events.timestamp[b];
    return a < b;
  });
  sessions.clear();
  std::int64_t first_event = std::numeric_limits<std::int64_t>::max(), last_event = std::numeric_limits<std::int64_t>::min();
  std::int64_t last_cart = std::numeric_limits<std::int64_t>::min();
  double purchase_value = 0, return_value = 0;
  double hour_buckets[4] = {0, 0, 0, 0};
  double weekend = 0;
  scratch_ids.clear();
  for (std::size_t k = 0; k < mine.size(); ++k) {
    const std::int64_t e = mine[k];
    const std::int64_t t = events.timestamp[e];
    if (k == 0 || events.session[e] != events.session[mine[k - 1]]) sessions.push_back({t, 0, false, false, 0, 0});
    SessionSummary& s = sessions.back();
    first_event = std::min(first_event, t);
    last_event = std::max(last_event, t);
    const std::int64_t day = t >= 0 ? t / kSecondsPerDay : (t - kSecondsPerDay + 1) / kSecondsPerDay;
    const std::int64_t second_of_day = t - day * kSecondsPerDay;
    hour_buckets[second_of_day / (6 * 3600)] += 1;
    const std::int64_t weekday = ((day % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday; 0 = Sunday
    weekend += weekday == 0 || weekday == 6;
    const float days_ago = Days(snapshot - t);
    const EventKind kind = events.kind[e];
    const float quantity = events.quantity.empty() ? 1.0f : std::abs(events.quantity[e]);
    const double value = std::abs(static_cast<double>(events.value[e]));
    for (std::size_t w = 0; w < config.window_days.size(); ++w) {
      if (days_ago > static_cast<float>(config.window_days[w])) continue;
      float* window = row + layout.windows + w * Layout::kPerWindow;
      window[4] += kind == EventKind::kView;
      window[5] += kind == EventKind::kCart;
      if (kind == EventKind::kReturn) window[7] += static_cast<float>(value);
      if (kind == EventKind::kPurchase) window[2] += quantity;
    }
    switch (kind) {
      case EventKind::kCart:
        s.has_cart = true;
        last_cart = std::max(last_cart, t);
        break;
      case EventKind::kPurchase:
        if (!s.has_purchase) s.first_purchase = t;
        s.has_purchase = true;
        s.purchase_value += value;
        s.purchase_items += quantity;
        purchase_value += value;
        if (!events.item.empty()) scratch_ids.push_back(events.item[e]);
        break;
      case EventKind::kReturn:
        return_value += value;
        break;
      default:
        break;
    }
  }
  std::sort(sessions.begin(), sessions.end(), [](const SessionSummary& a, const SessionSummary& b) { return a.start < b.start; });

  std::int64_t orders = 0, cart_sessions = 0, carts_converted = 0;
  double items_bought = 0;
  std::int64_t previous_order = 0;
  double interval_sum = 0, interval_sq = 0;
  std::int64_t intervals = 0, last_order = std::numeric_limits<std::int64_t>::min();
  for (const SessionSummary& s : sessions) {
    const float days_ago = Days(snapshot - s.start);
    for (std::size_t w = 0; w < config.window_days.size(); ++w) {
      if (days_ago > static_cast<float>(config.window_days[w])) continue;
      float* window = row + layout.windows + w * Layout::kPerWindow;
      window[3] += 1;
      if (s.has_purchase) {
        window[0] += 1;
        window[1] += static_cast<float>(s.purchase_value);
      }
      window[6] += s.has_cart && !s.has_purchase;
    }
    cart_sessions += s.has_cart;
    carts_converted += s.has_cart && s.has_purchase;
    if (!s.has_purchase) continue;
    if (orders > 0) {
      const double gap = static_cast<double>(s.first_purchase - previous_order) / kSecondsPerDay;
      interval_sum += gap;
      interval_sq += gap * gap;
      ++intervals;
    }
    previous_order = s.first_purchase;
    last_order = std::max(last_order, s.first_purchase);
    ++orders;
    items_bought += s.purchase_items;
  }

  if (orders > 0) row[layout.recency] = Days(snapshot - last_order);
  row[layout.since_last_event] = Days(snapshot - last_event);
  row[layout.tenure] = Days(snapshot - first_event);
  if (last_cart != std::numeric_limits<std::int64_t>::min()) row[layout.since_last_cart] = Days(snapshot - last_cart);
  row[layout.totals] = static_cast<float>(orders);
  row[layout.totals + 1] = static_cast<float>(purchase_value);
  row[layout.totals + 2] = orders > 0 ? static_cast<float>(purchase_value / orders) : 0.0f;
  row[layout.totals + 3] = orders > 0 ? static_cast<float>(items_bought / orders) : 0.0f;
  std::sort(scratch_ids.begin(), scratch_ids.end());
  scratch_ids.erase(std::unique(scratch_ids.begin(), scratch_ids.end()), scratch_ids.end());
  row[layout.totals + 4] = static_cast<float>(scratch_ids.size());
  if (layout.category_breadth >= 0) {
    for (std::int32_t& id : scratch_ids) id = catalogue->category[id];
    std::sort(scratch_ids.begin(), scratch_ids.end());
    row[layout.category_breadth] = static_cast<float>(std::unique(scratch_ids.begin(), scratch_ids.end()) - scratch_ids.begin());
  }
  if (intervals > 0) {
    const double mean = interval_sum / intervals;
    row[layout.intervals] = static_cast<float>(mean);
    row[layout.intervals + 1] = static_cast<float>(std::sqrt(std::max(0.0, interval_sq / intervals - mean * mean)));
  }
  if (purchase_value > 0) row[layout.rates] = static_cast<float>(return_value / purchase_value);
  if (cart_sessions > 0) row[layout.rates + 1] = static_cast<float>(carts_converted) / static_cast<float>(cart_sessions);
  const auto total = static_cast<double>(mine.size());
  for (int h = 0; h < 4; ++h) row[layout.habits + h] = static_cast<float>(hour_buckets[h] / total);
  row[layout.habits + 4] = static_cast<float>(weekend / total);
}

}  // namespace

absl::Status BehaviourFeatureConfig::Validate() const {
  if (window_days.empty()) return absl::InvalidArgumentError("window_days needs at least one window");
  for (std::int32_t days : window_days) {
    if (days <= 0) return absl::InvalidArgumentError(absl::StrCat("window_days must be positive, got ", days));
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureMatrix> BuildBehaviourFeatures(const data::EventColumns& events,
                                                     std::int32_t num_users,
                                                     const BehaviourFeatureConfig& config,
                                                     const data::Catalogue* catalogue,
                                                     const data::Customers* customers,
                                                     const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(ValidateEvents(events, num_users));
  if (!events.quantity.empty() && events.quantity.size() != events.size()) {
    return absl::InvalidArgumentError("quantity must be empty or have one entry per event");
  }
  if (catalogue != nullptr) {
    if (catalogue->price.size() == catalogue->category.size()) COMPTOIR_RETURN_IF_ERROR(data::ValidateCatalogue(*catalogue));
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events.item[i] < 0 || static_cast<std::size_t>(events.item[i]) >= catalogue->category.size()) {
        return absl::InvalidArgumentError(absl::StrCat("event ", i, " has item ", events.item[i], ", not in the catalogue"));
      }
    }
  }
  if (customers != nullptr) COMPTOIR_RETURN_IF_ERROR(data::ValidateCustomers(*customers, /*allow_missing=*/true));
  const std::int32_t num_attributes = customers != nullptr ? customers->num_attributes : 0;
  if (customers != nullptr && static_cast<std::int64_t>(customers->num_users()) != num_users) {
    return absl::InvalidArgumentError(absl::StrCat("customers table has ", customers->num_users(), " rows for ", num_users, " users"));
  }
  const Layout layout = MakeLayout(config, catalogue != nullptr, num_attributes);

  // Per-user CSR of the events before the snapshot (counting sort by user id).
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(num_users) + 1, 0);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events.user[i] >= 0 && events.timestamp[i] < config.snapshot_timestamp) ++offsets[events.user[i] + 1];
  }
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  std::vector<std::int64_t> by_user(static_cast<std::size_t>(offsets.back()));
  {
    std::vector<std::int64_t> cursor(offsets.begin(), offsets.end() - 1);
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events.user[i] >= 0 && events.timestamp[i] < config.snapshot_timestamp) by_user[cursor[events.user[i]]++] = static_cast<std::int64_t>(i);
    }
  }

  FeatureMatrix matrix;
  matrix.names = layout.names;
  matrix.rows = num_users;
  const std::size_t cols = layout.names.size();
  matrix.values.assign(static_cast<std::size_t>(num_users) * cols, 0.0f);
  ProgressReporter progress(options.progress, num_users, "behaviour features");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, num_users, 1024,
      [&](std::int64_t, std::int64_t begin, std::int64_t end) {
        std::vector<std::int64_t> mine;
        std::vector<SessionSummary> sessions;
        std::vector<std::int32_t> scratch;
        for (std::int64_t u = begin; u < end; ++u) {
          mine.assign(by_user.begin() + offsets[u], by_user.begin() + offsets[u + 1]);
          float* row = matrix.values.data() + static_cast<std::size_t>(u) * cols;
          FillRow(events, mine, config, layout, catalogue, sessions, scratch, row);
          for (std::int32_t a = 0; a < num_attributes; ++a) {
            row[layout.attributes + a] = customers->attributes[static_cast<std::size_t>(u) * num_attributes + a];
          }
        }
      },
      &progress));
  return matrix;
}

absl::StatusOr<PurchaseLabels> BuildPurchaseLabels(const data::EventColumns& events,
                                                   std::int32_t num_users,
                                                   std::int64_t snapshot_timestamp,
                                                   std::int32_t horizon_days) {
  if (horizon_days <= 0) return absl::InvalidArgumentError(absl::StrCat("horizon_days must be positive, got ", horizon_days));
  COMPTOIR_RETURN_IF_ERROR(ValidateEvents(events, num_users));
  PurchaseLabels labels;
  labels.purchased.assign(static_cast<std::size_t>(num_users), 0);
  labels.spend.assign(static_cast<std::size_t>(num_users), 0.0f);
  const std::int64_t end = snapshot_timestamp + std::int64_t{horizon_days} * kSecondsPerDay;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::int32_t u = events.user[i];
    if (u < 0 || events.timestamp[i] < snapshot_timestamp || events.timestamp[i] >= end) continue;
    if (events.kind[i] == EventKind::kPurchase) {
      labels.purchased[u] = 1;
      labels.spend[u] += std::abs(events.value[i]);
    } else if (events.kind[i] == EventKind::kReturn) {
      labels.spend[u] -= std::abs(events.value[i]);
    }
  }
  return labels;
}

}  // namespace comptoir::features
