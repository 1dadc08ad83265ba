// The event log every capability reads: columnar events with dense ids, the maps back to the
// shop's own ids, and the operations a data scientist runs before training (sort, sessionize,
// filter, split) and the views models consume (per-session and per-user CSR).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/data/events.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"

namespace comptoir::data {

// External ids (64-bit integers or strings) to dense indices 0..n-1, in order of first
// appearance. Cheap to copy (shared, immutable).
class IdMap {
 public:
  IdMap();
  std::int32_t size() const;
  bool is_string() const;
  // NotFound naming the id.
  absl::StatusOr<std::int32_t> Find(std::int64_t id) const;
  absl::StatusOr<std::int32_t> Find(std::string_view id) const;
  std::int64_t IntId(std::int32_t dense) const;            // for integer maps
  const std::string& StringId(std::int32_t dense) const;   // for string maps

  // Dense ids for `ids`, extending a fresh map (InvalidArgument past 2^31 - 1 distinct ids).
  static absl::StatusOr<IdMap> Assign(absl::Span<const std::int64_t> ids, std::vector<std::int32_t>& dense);
  static absl::StatusOr<IdMap> Assign(const std::vector<std::string>& ids, std::vector<std::int32_t>& dense);

  std::string Serialize() const;
  static absl::StatusOr<IdMap> Parse(std::string_view bytes);

 private:
  struct Impl;
  explicit IdMap(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// Raw events with the shop's ids. Empty optional columns: user (anonymous), kind (views),
// value (0), quantity (1).
struct RawEvents {
  absl::Span<const std::int64_t> session;
  absl::Span<const std::int64_t> item;
  absl::Span<const std::int64_t> timestamp;  // seconds since the epoch
  absl::Span<const std::int64_t> user;       // kAnonymousUser = no user
  absl::Span<const std::uint8_t> kind;       // EventKind codes
  absl::Span<const float> value;
  absl::Span<const float> quantity;
};
inline constexpr std::int64_t kAnonymousUser = INT64_MIN;

struct BuildReport {
  std::int64_t rows = 0;
  std::int64_t duplicates_dropped = 0;  // identical (session, item, time, kind, value, quantity) rows kept once
};

// Per-user CSR over event positions, each user's events in time order.
struct UsersView {
  std::vector<std::int64_t> offsets;  // num_users + 1
  std::vector<std::int64_t> events;   // positions into the log's columns
};

// InvalidArgument naming the first bad row: columns of different lengths, a negative or non-finite
// price or margin, a negative category, an in-stock flag other than 0 or 1.
absl::Status ValidateCatalogue(const Catalogue& catalogue);
// InvalidArgument naming the first non-finite attribute (NaN marks a missing attribute only where
// `allow_missing` is set; the behaviour features pass it through as missing).
absl::Status ValidateCustomers(const Customers& customers, bool allow_missing);

class EventLog {
 public:
  // Validates every row (kinds, finite non-negative values and quantities, column lengths),
  // drops exact duplicates (counted in `report`), maps ids and sorts by (session, time).
  static absl::StatusOr<EventLog> Build(const RawEvents& raw, BuildReport* report = nullptr);
  // The same from string ids (sessions, items, users; empty users = anonymous).
  static absl::StatusOr<EventLog> Build(const std::vector<std::string>& session, const std::vector<std::string>& item,
                                        const std::vector<std::string>& user, const RawEvents& rest,
                                        BuildReport* report = nullptr);

  const EventColumns& columns() const { return columns_; }
  std::size_t size() const { return columns_.size(); }
  const IdMap& items() const { return items_; }
  const IdMap& users() const { return users_; }
  const IdMap& sessions_map() const { return sessions_; }
  std::int32_t num_items() const { return items_.size(); }
  std::int32_t num_users() const { return users_.size(); }
  std::int64_t num_sessions() const { return static_cast<std::int64_t>(session_offsets_.size()) - 1; }

  SessionsView sessions() const;
  UsersView ByUser() const;

  // New sessions per user wherever the same user was inactive for more than `gap_seconds`;
  // anonymous events keep their sessions.
  absl::StatusOr<EventLog> Sessionize(std::int64_t gap_seconds) const;
  // One pass: drop events of items seen fewer than `min_item_support` times, then sessions with
  // fewer than `min_session_length` events. Dropping sessions can push items below the support
  // again; FilterToFixedPoint repeats until nothing changes.
  EventLog FilterOnce(std::int32_t min_item_support, std::int32_t min_session_length) const;
  EventLog FilterToFixedPoint(std::int32_t min_item_support, std::int32_t min_session_length) const;
  // (train, test): sessions whose last event falls in the final `days` days go to test. Both
  // keep this log's id maps, so item ids agree between them.
  std::pair<EventLog, EventLog> SplitByLastDays(std::int32_t days) const;

  // The id maps (the columns are data, not model state).
  absl::Status AppendIdMaps(io::ModelFile& file) const;
  static absl::StatusOr<std::vector<IdMap>> ReadIdMaps(const io::ModelFile& file);

 private:
  EventLog() = default;
  // Keeps events where keep[i] is set, preserving order and maps.
  EventLog Subset(const std::vector<std::uint8_t>& keep) const;
  void IndexSessions();

  EventColumns columns_;
  std::vector<std::int64_t> session_offsets_{0};
  IdMap items_, users_, sessions_;
};

}  // namespace comptoir::data
