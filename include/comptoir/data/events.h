// The raw shapes every capability exchanges: event columns, the catalogue, customers, and a
// read-only CSR view of sessions. Richer operations (id maps, sessionizing, filters, splits) live
// in comptoir/data/event_log.h; these plain types keep producers (loaders, the simulator) and
// consumers (recommenders, features) independent of each other.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace comptoir::data {

enum class EventKind : std::uint8_t {
  kView = 0,
  kCart = 1,          // added to cart
  kPurchase = 2,
  kRemoveFromCart = 3,
  kReturn = 4,        // a cancellation / return of a purchase (negative quantity in invoices)
};
inline constexpr int kNumEventKinds = 5;

// One row per event, all columns the same length, ids already dense (0..n-1); user = -1 when the
// visitor is anonymous. `value` is price x quantity in the shop's currency.
struct EventColumns {
  std::vector<std::int64_t> session;
  std::vector<std::int32_t> user;
  std::vector<std::int32_t> item;
  std::vector<std::int64_t> timestamp;  // seconds since the Unix epoch
  std::vector<EventKind> kind;
  std::vector<float> value;
  std::vector<float> quantity;

  std::size_t size() const { return item.size(); }
  void Reserve(std::size_t n) {
    session.reserve(n), user.reserve(n), item.reserve(n), timestamp.reserve(n);
    kind.reserve(n), value.reserve(n), quantity.reserve(n);
  }
};

// Item attributes, indexed by dense item id.
struct Catalogue {
  std::vector<std::int32_t> category;  // dense category id
  std::vector<float> price;
  std::vector<std::uint8_t> in_stock;  // 0 or 1
  std::vector<float> margin;           // gross margin as a fraction of price (0..1); may be empty

  std::size_t num_items() const { return price.size(); }
};

// Customer attributes, indexed by dense user id; numeric attributes row-major (users x features).
struct Customers {
  std::vector<float> attributes;
  std::int32_t num_attributes = 0;

  std::size_t num_users() const {
    return num_attributes == 0 ? 0 : attributes.size() / static_cast<std::size_t>(num_attributes);
  }
};

// Sessions as CSR over events sorted by (session, time): session s holds positions
// [offsets[s], offsets[s+1]). Views into storage owned elsewhere (an EventLog).
struct SessionsView {
  absl::Span<const std::int64_t> offsets;  // num_sessions + 1 entries
  absl::Span<const std::int32_t> items;
  absl::Span<const std::int64_t> timestamps;
  absl::Span<const EventKind> kinds;
  absl::Span<const std::int32_t> users;    // per event, -1 when anonymous

  std::int64_t num_sessions() const {
    return offsets.empty() ? 0 : static_cast<std::int64_t>(offsets.size()) - 1;
  }
  absl::Span<const std::int32_t> SessionItems(std::int64_t s) const {
    return items.subspan(static_cast<std::size_t>(offsets[s]),
                         static_cast<std::size_t>(offsets[s + 1] - offsets[s]));
  }
};

}  // namespace comptoir::data
