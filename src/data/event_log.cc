#include "comptoir/data/event_log.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/strings.h"

namespace comptoir::data {

struct IdMap::Impl {
  bool is_string = false;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  absl::flat_hash_map<std::int64_t, std::int32_t> int_index;
  absl::flat_hash_map<std::string, std::int32_t> string_index;
};

namespace {

constexpr std::int64_t kMaxIds = std::numeric_limits<std::int32_t>::max();

absl::Status TooMany() {
  return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxIds, " distinct ids do not fit dense 32-bit indices"));
}

absl::Status ValidateRaw(const RawEvents& raw, std::size_t n) {
  if (n == 0) return absl::InvalidArgumentError("an event log needs at least one event");
  const auto check = [&](std::size_t size, const char* name) -> absl::Status {
    if (size != 0 && size != n) {
      return absl::InvalidArgumentError(absl::StrCat("column '", name, "' has ", size, " rows, expected ", n));
    }
    return absl::OkStatus();
  };
  if (raw.timestamp.size() != n) return absl::InvalidArgumentError("column 'timestamp' is required, one per event");
  COMPTOIR_RETURN_IF_ERROR(check(raw.user.size(), "user"));
  COMPTOIR_RETURN_IF_ERROR(check(raw.kind.size(), "kind"));
  COMPTOIR_RETURN_IF_ERROR(check(raw.value.size(), "value"));
  COMPTOIR_RETURN_IF_ERROR(check(raw.quantity.size(), "quantity"));
  for (std::size_t i = 0; i < n; ++i) {
    if (!raw.kind.empty() && raw.kind[i] >= kNumEventKinds) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, ": unknown event kind ", static_cast<int>(raw.kind[i])));
    }
    if (!raw.value.empty() && !(std::isfinite(raw.value[i]) && raw.value[i] >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, ": value must be finite and >= 0, got ", raw.value[i]));
    }
    if (!raw.quantity.empty() && !std::isfinite(raw.quantity[i])) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, ": quantity is not finite"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

IdMap::IdMap() : impl_(std::make_shared<const Impl>()) {}
IdMap::IdMap(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

std::int32_t IdMap::size() const {
  return static_cast<std::int32_t>(impl_->is_string ? impl_->strings.size() : impl_->ints.size());
}
bool IdMap::is_string() const { return impl_->is_string; }
std::int64_t IdMap::IntId(std::int32_t dense) const { return impl_->ints[dense]; }
const std::string& IdMap::StringId(std::int32_t dense) const { return impl_->strings[dense]; }

absl::StatusOr<std::int32_t> IdMap::Find(std::int64_t id) const {
  const auto it = impl_->int_index.find(id);
  if (it == impl_->int_index.end()) return absl::NotFoundError(absl::StrCat("unknown id ", id));
  return it->second;
}

absl::StatusOr<std::int32_t> IdMap::Find(std::string_view id) const {
  const auto it = impl_->string_index.find(std::string(id));
  if (it == impl_->string_index.end()) return absl::NotFoundError(absl::StrCat("unknown id '", internal::Sv(id), "'"));
  return it->second;
}

absl::StatusOr<IdMap> IdMap::Assign(absl::Span<const std::int64_t> ids, std::vector<std::int32_t>& dense) {
  auto impl = std::make_shared<Impl>();
  dense.resize(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto [it, inserted] = impl->int_index.try_emplace(ids[i], static_cast<std::int32_t>(impl->ints.size()));
    if (inserted) {
      if (static_cast<std::int64_t>(impl->ints.size()) >= kMaxIds) return TooMany();
      impl->ints.push_back(ids[i]);
    }
    dense[i] = it->second;
  }
  return IdMap(std::move(impl));
}

absl::StatusOr<IdMap> IdMap::Assign(const std::vector<std::string>& ids, std::vector<std::int32_t>& dense) {
  auto impl = std::make_shared<Impl>();
  impl->is_string = true;
  dense.resize(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto [it, inserted] = impl->string_index.try_emplace(ids[i], static_cast<std::int32_t>(impl->strings.size()));
    if (inserted) {
      if (static_cast<std::int64_t>(impl->strings.size()) >= kMaxIds) return TooMany();
      impl->strings.push_back(ids[i]);
    }
    dense[i] = it->second;
  }
  return IdMap(std::move(impl));
}

// Layout: 1 byte kind (0 integers, 1 strings), an 8-byte count, then each id (8 bytes, or an
// 8-byte length and the bytes).
std::string IdMap::Serialize() const {
  std::string out(1, impl_->is_string ? '\1' : '\0');
  const auto put = [&](std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); };
  put(static_cast<std::uint64_t>(size()));
  if (impl_->is_string) {
    for (const std::string& s : impl_->strings) put(s.size()), out += s;
  } else {
    for (std::int64_t v : impl_->ints) put(static_cast<std::uint64_t>(v));
  }
  return out;
}

absl::StatusOr<IdMap> IdMap::Parse(std::string_view bytes) {
  const auto corrupt = [] { return MarkModelFormatError(absl::DataLossError("id map is corrupted")); };
  std::size_t pos = 1;
  const auto get = [&](std::uint64_t& v) {
    if (bytes.size() - pos < 8) return false;
    std::memcpy(&v, bytes.data() + pos, 8);
    pos += 8;
    return true;
  };
  if (bytes.empty() || static_cast<unsigned char>(bytes[0]) > 1) return corrupt();
  const bool is_string = bytes[0] == '\1';
  std::uint64_t count;
  if (!get(count) || count > bytes.size()) return corrupt();
  std::vector<std::int32_t> dense;
  absl::StatusOr<IdMap> map;
  if (is_string) {
    std::vector<std::string> ids;
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t length;
      if (!get(length) || length > bytes.size() - pos) return corrupt();
      ids.emplace_back(bytes.substr(pos, length));
      pos += length;
    }
    map = Assign(ids, dense);
  } else {
    std::vector<std::int64_t> ids(count);
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t v;
      if (!get(v)) return corrupt();
      ids[i] = static_cast<std::int64_t>(v);
    }
    map = Assign(ids, dense);
  }
  // Trailing bytes or repeated ids mean the map was not written by Serialize.
  if (pos != bytes.size() || !map.ok() || map->size() != static_cast<std::int32_t>(count)) return corrupt();
  return map;
}

absl::Status ValidateCatalogue(const Catalogue& catalogue) {
  const std::size_t n = catalogue.price.size();
  if (catalogue.category.size() != n || (!catalogue.in_stock.empty() && catalogue.in_stock.size() != n) ||
      (!catalogue.margin.empty() && catalogue.margin.size() != n)) {
    return absl::InvalidArgumentError(absl::StrCat("catalogue columns differ in length (", n, " prices, ",
                                                   catalogue.category.size(), " categories)"));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::isfinite(catalogue.price[i]) && catalogue.price[i] >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat("item ", i, ": price must be finite and >= 0, got ", catalogue.price[i]));
    }
    if (catalogue.category[i] < 0) return absl::InvalidArgumentError(absl::StrCat("item ", i, ": negative category"));
    if (!catalogue.in_stock.empty() && catalogue.in_stock[i] > 1) {
      return absl::InvalidArgumentError(absl::StrCat("item ", i, ": in_stock must be 0 or 1"));
    }
    if (!catalogue.margin.empty() && !(std::isfinite(catalogue.margin[i]) && catalogue.margin[i] >= 0 && catalogue.margin[i] <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("item ", i, ": margin must be a fraction in [0, 1]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCustomers(const Customers& customers, bool allow_missing) {
  if (customers.num_attributes < 0 ||
      (customers.num_attributes > 0 && customers.attributes.size() % static_cast<std::size_t>(customers.num_attributes) != 0)) {
    return absl::InvalidArgumentError("customer attributes are not a whole number of rows");
  }
  for (std::size_t i = 0; i < customers.attributes.size(); ++i) {
    const float v = customers.attributes[i];
    if (std::isinf(v) || (std::isnan(v) && !allow_missing)) {
      return absl::InvalidArgumentError(absl::StrCat("customer ", i / customers.num_attributes, ", attribute ",
                                                     i % customers.num_attributes, ": not a finite number"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EventLog> EventLog::Build(const RawEvents& raw, BuildReport* report) {
  const std::size_t n = raw.item.size();
  if (raw.session.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("column 'session' has ", raw.session.size(), " rows, expected ", n));
  }
  COMPTOIR_RETURN_IF_ERROR(ValidateRaw(raw, n));
  std::vector<std::int32_t> session_dense, item_dense, user_dense;
  COMPTOIR_ASSIGN_OR_RETURN(IdMap sessions, IdMap::Assign(raw.session, session_dense));
  COMPTOIR_ASSIGN_OR_RETURN(IdMap items, IdMap::Assign(raw.item, item_dense));
  IdMap users;
  if (!raw.user.empty()) {
    std::vector<std::int64_t> known;
    std::vector<std::int32_t> dense_known;
    for (std::int64_t u : raw.user) {
      if (u != kAnonymousUser) known.push_back(u);
    }
    COMPTOIR_ASSIGN_OR_RETURN(users, IdMap::Assign(known, dense_known));
    user_dense.resize(n);
    for (std::size_t i = 0, k = 0; i < n; ++i) user_dense[i] = raw.user[i] == kAnonymousUser ? -1 : dense_known[k++];
  }
  EventLog log;
  log.items_ = std::move(items);
  log.users_ = std::move(users);
  log.sessions_ = std::move(sessions);
  const auto value_of = [&](std::int64_t i) { return raw.value.empty() ? 0.0f : raw.value[i]; };
  const auto quantity_of = [&](std::int64_t i) { return raw.quantity.empty() ? 1.0f : raw.quantity[i]; };
  const auto kind_of = [&](std::int64_t i) { return raw.kind.empty() ? 0 : raw.kind[i]; };
  // Order by (session, time) and then by every other field, so exact duplicates become neighbours.
  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    if (session_dense[a] != session_dense[b]) return session_dense[a] < session_dense[b];
    if (raw.timestamp[a] != raw.timestamp[b]) return raw.timestamp[a] < raw.timestamp[b];
    if (item_dense[a] != item_dense[b]) return item_dense[a] < item_dense[b];
    if (kind_of(a) != kind_of(b)) return kind_of(a) < kind_of(b);
    if (value_of(a) != value_of(b)) return value_of(a) < value_of(b);
    if (quantity_of(a) != quantity_of(b)) return quantity_of(a) < quantity_of(b);
    return a < b;
  });
  EventColumns& c = log.columns_;
  c.Reserve(n);
  BuildReport local;
  local.rows = static_cast<std::int64_t>(n);
  std::int64_t previous = -1;
  for (std::int64_t i : order) {
    const auto kind = raw.kind.empty() ? EventKind::kView : static_cast<EventKind>(raw.kind[i]);
    if (previous >= 0 && session_dense[previous] == session_dense[i] && item_dense[previous] == item_dense[i] &&
        raw.timestamp[previous] == raw.timestamp[i] && c.kind.back() == kind && value_of(previous) == value_of(i) &&
        quantity_of(previous) == quantity_of(i)) {
      ++local.duplicates_dropped;
      continue;
    }
    previous = i;
    c.session.push_back(session_dense[i]);
    c.user.push_back(user_dense.empty() ? -1 : user_dense[i]);
    c.item.push_back(item_dense[i]);
    c.timestamp.push_back(raw.timestamp[i]);
    c.kind.push_back(kind);
    c.value.push_back(value_of(i));
    c.quantity.push_back(quantity_of(i));
  }
  log.IndexSessions();
  if (report != nullptr) *report = local;
  return log;
}

absl::StatusOr<EventLog> EventLog::Build(const std::vector<std::string>& session, const std::vector<std::string>& item,
                                         const std::vector<std::string>& user, const RawEvents& rest,
                                         BuildReport* report) {
  if (session.size() != item.size()) return absl::InvalidArgumentError("session and item columns differ in length");
  if (!user.empty() && user.size() != item.size()) return absl::InvalidArgumentError("user and item columns differ in length");
  // Strings become their first-appearance indices; Build then keeps that order, so the string
  // maps describe the result's dense ids exactly.
  std::vector<std::int32_t> session_dense, item_dense;
  COMPTOIR_ASSIGN_OR_RETURN(IdMap sessions, IdMap::Assign(session, session_dense));
  COMPTOIR_ASSIGN_OR_RETURN(IdMap items, IdMap::Assign(item, item_dense));
  std::vector<std::int64_t> s(session_dense.begin(), session_dense.end()), it(item_dense.begin(), item_dense.end()), u;
  IdMap users;
  if (!user.empty()) {
    std::vector<std::string> known;
    for (const std::string& id : user) {
      if (!id.empty()) known.push_back(id);
    }
    std::vector<std::int32_t> dense_known;
    COMPTOIR_ASSIGN_OR_RETURN(users, IdMap::Assign(known, dense_known));
    u.resize(user.size());
    for (std::size_t i = 0, k = 0; i < user.size(); ++i) u[i] = user[i].empty() ? kAnonymousUser : dense_known[k++];
  }
  RawEvents raw = rest;
  raw.session = s, raw.item = it, raw.user = u;
  COMPTOIR_ASSIGN_OR_RETURN(EventLog log, Build(raw, report));
  log.sessions_ = std::move(sessions);
  log.items_ = std::move(items);
  if (!user.empty()) log.users_ = std::move(users);
  return log;
}

void EventLog::IndexSessions() {
  session_offsets_.assign(1, 0);
  const std::vector<std::int64_t>& s = columns_.session;
  for (std::size_t i = 1; i <= s.size(); ++i) {
    if (i == s.size() || s[i] != s[i - 1]) session_offsets_.push_back(static_cast<std::int64_t>(i));
  }
  if (s.empty()) session_offsets_.assign(1, 0);
}

SessionsView EventLog::sessions() const {
  return {session_offsets_, columns_.item, columns_.timestamp, columns_.kind, columns_.user};
}

UsersView EventLog::ByUser() const {
  UsersView view;
  view.offsets.assign(static_cast<std::size_t>(num_users()) + 1, 0);
  for (std::int32_t u : columns_.user) {
    if (u >= 0) ++view.offsets[u + 1];
  }
  std::partial_sum(view.offsets.begin(), view.offsets.end(), view.offsets.begin());
  view.events.resize(static_cast<std::size_t>(view.offsets.back()));
  std::vector<std::int64_t> cursor(view.offsets.begin(), view.offsets.end() - 1);
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_.user[i] >= 0) view.events[cursor[columns_.user[i]]++] = static_cast<std::int64_t>(i);
  }
  for (std::int32_t u = 0; u < num_users(); ++u) {
    std::stable_sort(view.events.begin() + view.offsets[u], view.events.begin() + view.offsets[u + 1],
                     [&](std::int64_t a, std::int64_t b) { return columns_.timestamp[a] < columns_.timestamp[b]; });
  }
  return view;
}

EventLog EventLog::Subset(const std::vector<std::uint8_t>& keep) const {
  EventLog out;
  out.items_ = items_, out.users_ = users_, out.sessions_ = sessions_;
  const EventColumns& c = columns_;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!keep[i]) continue;
    out.columns_.session.push_back(c.session[i]), out.columns_.user.push_back(c.user[i]);
    out.columns_.item.push_back(c.item[i]), out.columns_.timestamp.push_back(c.timestamp[i]);
    out.columns_.kind.push_back(c.kind[i]), out.columns_.value.push_back(c.value[i]);
    out.columns_.quantity.push_back(c.quantity[i]);
  }
  out.IndexSessions();
  return out;
}

absl::StatusOr<EventLog> EventLog::Sessionize(std::int64_t gap_seconds) const {
  if (gap_seconds <= 0) return absl::InvalidArgumentError("the inactivity gap must be positive");
  // Known users: a new session after each gap in their time-ordered events. Anonymous events keep
  // their session, numbered after the users'.
  const UsersView by_user = ByUser();
  std::vector<std::int64_t> new_session(columns_.size(), -1);
  std::int64_t next = 0;
  for (std::int32_t u = 0; u < num_users(); ++u) {
    std::int64_t last_time = 0;
    for (std::int64_t p = by_user.offsets[u]; p < by_user.offsets[u + 1]; ++p) {
      const std::int64_t e = by_user.events[p];
      if (p == by_user.offsets[u] || columns_.timestamp[e] - last_time > gap_seconds) ++next;
      new_session[e] = next - 1;
      last_time = columns_.timestamp[e];
    }
  }
  absl::flat_hash_map<std::int64_t, std::int64_t> anonymous;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (new_session[i] >= 0) continue;
    const auto [it, inserted] = anonymous.try_emplace(columns_.session[i], next);
    if (inserted) ++next;
    new_session[i] = it->second;
  }
  // Re-sort by the new sessions; items and users keep this log's dense ids and maps.
  std::vector<std::int64_t> order(columns_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    if (new_session[a] != new_session[b]) return new_session[a] < new_session[b];
    if (columns_.timestamp[a] != columns_.timestamp[b]) return columns_.timestamp[a] < columns_.timestamp[b];
    return a < b;
  });
  EventLog out;
  out.items_ = items_, out.users_ = users_;
  std::vector<std::int64_t> session_ids;
  for (std::int64_t i : order) {
    out.columns_.session.push_back(new_session[i]), out.columns_.user.push_back(columns_.user[i]);
    out.columns_.item.push_back(columns_.item[i]), out.columns_.timestamp.push_back(columns_.timestamp[i]);
    out.columns_.kind.push_back(columns_.kind[i]), out.columns_.value.push_back(columns_.value[i]);
    out.columns_.quantity.push_back(columns_.quantity[i]);
  }
  for (std::int64_t s = 0; s < next; ++s) session_ids.push_back(s);
  std::vector<std::int32_t> unused;
  COMPTOIR_ASSIGN_OR_RETURN(out.sessions_, IdMap::Assign(session_ids, unused));
  out.IndexSessions();
  return out;
}

EventLog EventLog::FilterOnce(std::int32_t min_item_support, std::int32_t min_session_length) const {
  std::vector<std::int64_t> support(static_cast<std::size_t>(num_items()), 0);
  for (std::int32_t item : columns_.item) ++support[item];
  std::vector<std::uint8_t> keep(columns_.size());
  for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = support[columns_.item[i]] >= min_item_support;
  for (std::int64_t s = 0; s < num_sessions(); ++s) {
    std::int64_t length = 0;
    for (std::int64_t p = session_offsets_[s]; p < session_offsets_[s + 1]; ++p) length += keep[p];
    if (length < min_session_length) {
      for (std::int64_t p = session_offsets_[s]; p < session_offsets_[s + 1]; ++p) keep[p] = 0;
    }
  }
  return Subset(keep);
}

EventLog EventLog::FilterToFixedPoint(std::int32_t min_item_support, std::int32_t min_session_length) const {
  EventLog current = FilterOnce(min_item_support, min_session_length);
  while (true) {
    EventLog next = current.FilterOnce(min_item_support, min_session_length);
    if (next.size() == current.size()) return next;
    current = std::move(next);
  }
}

std::pair<EventLog, EventLog> EventLog::SplitByLastDays(std::int32_t days) const {
  std::int64_t newest = std::numeric_limits<std::int64_t>::min();
  for (std::int64_t t : columns_.timestamp) newest = std::max(newest, t);
  const std::int64_t cutoff = newest - std::int64_t{days} * 86'400;
  std::vector<std::uint8_t> train(columns_.size()), test(columns_.size());
  for (std::int64_t s = 0; s < num_sessions(); ++s) {
    std::int64_t last = std::numeric_limits<std::int64_t>::min();
    for (std::int64_t p = session_offsets_[s]; p < session_offsets_[s + 1]; ++p) last = std::max(last, columns_.timestamp[p]);
    const bool in_test = last > cutoff;
    for (std::int64_t p = session_offsets_[s]; p < session_offsets_[s + 1]; ++p) (in_test ? test : train)[p] = 1;
  }
  return {Subset(train), Subset(test)};
}

absl::Status EventLog::AppendIdMaps(io::ModelFile& file) const {
  COMPTOIR_RETURN_IF_ERROR(file.AddBlob("item_ids", items_.Serialize()));
  COMPTOIR_RETURN_IF_ERROR(file.AddBlob("user_ids", users_.Serialize()));
  return file.AddBlob("session_ids", sessions_.Serialize());
}

absl::StatusOr<std::vector<IdMap>> EventLog::ReadIdMaps(const io::ModelFile& file) {
  std::vector<IdMap> maps;
  for (const char* name : {"item_ids", "user_ids", "session_ids"}) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::string_view bytes, file.Blob(name));
    COMPTOIR_ASSIGN_OR_RETURN(IdMap map, IdMap::Parse(bytes));
    maps.push_back(std::move(map));
  }
  return maps;
}

}  // namespace comptoir::data
