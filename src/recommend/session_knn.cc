#include "comptoir/recommend/session_knn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <shared_mutex>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "comptoir/retrieval/top_k.h"
#include "comptoir/status.h"
#include "comptoir/v1/recommend.pb.h"
#include "internal/scratch.h"

namespace comptoir::recommend {
namespace {

constexpr std::int32_t kNoSession = -1;

// Per-thread buffers for one request: dense accumulators plus the lists of what was touched, so
// resetting costs only what the request used.
struct Scratch {
  std::vector<float> session_similarity;
  std::vector<std::int32_t> session_match;     // the most recent query item the session shares
  std::vector<std::int32_t> touched_sessions;
  std::vector<float> item_score;
  std::vector<std::int32_t> item_votes;
  std::vector<float> item_best_similarity;
  std::vector<std::int32_t> item_anchor;
  std::vector<std::int32_t> item_stamp;        // last neighbour that voted for the item
  std::vector<std::int32_t> touched_items;
  std::vector<std::int32_t> query_stamp;       // dedups query items
  std::vector<std::int32_t> excluded;
  std::vector<std::int32_t> unknown;
  std::vector<std::int32_t> chosen;
  retrieval::TopKSelector selector;
  std::vector<retrieval::ScoredId> top;
  std::int32_t generation = 0;  // marks this request's query items in query_stamp
  internal::ScratchBound bound;

  // Sizes the buffers for a model; between requests every dense buffer is back at its default,
  // so starting afresh (when the bound says the buffers outgrew the models served) is safe.
  void Fit(std::size_t sessions, std::size_t items) {
    if (bound.Release(internal::HeldElements(session_similarity, item_score, touched_sessions, touched_items, excluded, chosen),
                      sessions + items)) {
      internal::ScratchBound kept = bound;
      *this = Scratch();
      bound = kept;
    }
    if (session_similarity.size() < sessions) {
      session_similarity.resize(sessions, 0.0f);
      session_match.resize(sessions, kNoSession);
    }
    if (item_score.size() < items) {
      item_score.resize(items, 0.0f);
      item_votes.resize(items, 0);
      item_best_similarity.resize(items, 0.0f);
      item_anchor.resize(items, -1);
      item_stamp.resize(items, -1);
      query_stamp.resize(items, -1);
    }
  }
};

const float kLowestFiller = std::nextafter(-1.0f, 0.0f);
const float kHighestFiller = std::nextafter(0.0f, -1.0f);

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

struct SessionKnn::State {
  SessionKnnConfig config;
  std::int32_t num_items = 0;
  // Session slots (stable ids while alive); evicted or forgotten slots are compacted away.
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  std::vector<std::int64_t> time;
  std::vector<std::int32_t> user;
  std::vector<std::uint8_t> alive;
  std::int64_t alive_count = 0;
  // Per item, the sample_size most recent alive sessions containing it, oldest first.
  std::vector<std::vector<std::int32_t>> item_sessions;
  std::vector<std::int64_t> item_session_count;  // alive sessions containing the item (idf)
  std::vector<std::int64_t> item_clicks;         // popularity fallback
  std::int64_t latest_time = 0;
  // Clicked items by (-clicks, item): the popularity fallback's order, kept in step with
  // item_clicks by every online add, eviction and erasure, so fillers follow the live counts and
  // a saved model (which replays its sessions) ranks them the same way. Built once after a fit.
  absl::btree_set<std::pair<std::int64_t, std::int32_t>> popular;
  bool popular_live = false;
  // A pthread rwlock (std::shared_mutex), which ThreadSanitizer sees even in an uninstrumented
  // Abseil build.
  mutable std::shared_mutex mutex;

  void RankPopularity() {
    std::vector<std::pair<std::int64_t, std::int32_t>> ranked;
    for (std::int32_t item = 0; item < num_items; ++item) {
      if (item_clicks[item] > 0) ranked.emplace_back(-item_clicks[item], item);
    }
    std::sort(ranked.begin(), ranked.end());
    popular = absl::btree_set<std::pair<std::int64_t, std::int32_t>>(ranked.begin(), ranked.end());
    popular_live = true;
  }

  void AddClicks(std::int32_t item, std::int64_t delta) {
    std::int64_t& clicks = item_clicks[item];
    if (popular_live && clicks > 0) popular.erase({-clicks, item});
    clicks += delta;
    if (popular_live && clicks > 0) popular.insert({-clicks, item});
  }

  float Idf(std::int32_t item) const {
    const std::int64_t containing = std::max<std::int64_t>(item_session_count[item], 1);
    return static_cast<float>(std::log(static_cast<double>(std::max<std::int64_t>(alive_count, 1) + 1) / containing));
  }

  // Distinct items of a session, in first-occurrence order, with `visit` called once each.
  template <typename Visit>
  void ForEachDistinctItem(std::int32_t slot, std::vector<std::int32_t>& stamp, std::int32_t mark, Visit&& visit) const {
    for (std::int64_t p = offsets[slot]; p < offsets[slot + 1]; ++p) {
      const std::int32_t item = items[p];
      if (stamp[item] == mark) continue;
      stamp[item] = mark;
      visit(item, p - offsets[slot]);
    }
  }

  void Append(absl::Span<const std::int32_t> session, std::int64_t timestamp, std::int32_t session_user,
              std::vector<std::int32_t>& stamp) {
    const auto slot = static_cast<std::int32_t>(time.size());
    items.insert(items.end(), session.begin(), session.end());
    offsets.push_back(static_cast<std::int64_t>(items.size()));
    time.push_back(timestamp);
    user.push_back(session_user);
    alive.push_back(1);
    ++alive_count;
    latest_time = std::max(latest_time, timestamp);
    for (std::int32_t item : session) AddClicks(item, 1);
    ForEachDistinctItem(slot, stamp, slot, [&](std::int32_t item, std::int64_t) {
      ++item_session_count[item];
      std::vector<std::int32_t>& list = item_sessions[item];
      // Keep the list ordered by time; online sessions almost always arrive last.
      auto position = list.end();
      while (position != list.begin() && time[*(position - 1)] > timestamp) --position;
      list.insert(position, slot);
      if (static_cast<std::int32_t>(list.size()) > config.sample_size) list.erase(list.begin());
    });
  }

  void Kill(std::int32_t slot, std::vector<std::int32_t>& stamp) {
    if (!alive[slot]) return;
    alive[slot] = 0;
    --alive_count;
    for (std::int64_t p = offsets[slot]; p < offsets[slot + 1]; ++p) AddClicks(items[p], -1);
    ForEachDistinctItem(slot, stamp, -2 - slot, [&](std::int32_t item, std::int64_t) {
      --item_session_count[item];
      std::vector<std::int32_t>& list = item_sessions[item];
      list.erase(std::remove(list.begin(), list.end(), slot), list.end());
    });
  }

  // Drops dead slots and renumbers the live ones, so forgotten data leaves memory and memory
  // stays proportional to the live sessions.
  void Compact() {
    std::vector<std::int32_t> new_slot(time.size(), kNoSession);
    std::vector<std::int64_t> new_offsets{0};
    std::vector<std::int32_t> new_items;
    std::vector<std::int64_t> new_time;
    std::vector<std::int32_t> new_user;
    for (std::size_t s = 0; s < time.size(); ++s) {
      if (!alive[s]) continue;
      new_slot[s] = static_cast<std::int32_t>(new_time.size());
      new_items.insert(new_items.end(), items.begin() + offsets[s], items.begin() + offsets[s + 1]);
      new_offsets.push_back(static_cast<std::int64_t>(new_items.size()));
      new_time.push_back(time[s]);
      new_user.push_back(user[s]);
    }
    for (std::vector<std::int32_t>& list : item_sessions) {
      for (std::int32_t& slot : list) slot = new_slot[slot];
    }
    offsets.swap(new_offsets);
    items.swap(new_items);
    time.swap(new_time);
    user.swap(new_user);
    alive.assign(time.size(), 1);
  }

  void EvictOldestBeyondLimit(std::vector<std::int32_t>& stamp) {
    if (config.max_sessions <= 0 || alive_count <= config.max_sessions) return;
    std::vector<std::int32_t> order;
    for (std::size_t s = 0; s < time.size(); ++s) {
      if (alive[s]) order.push_back(static_cast<std::int32_t>(s));
    }
    const std::int64_t excess = alive_count - config.max_sessions;
    std::nth_element(order.begin(), order.begin() + excess, order.end(),
                     [&](std::int32_t a, std::int32_t b) { return std::make_pair(time[a], a) < std::make_pair(time[b], b); });
    for (std::int64_t i = 0; i < excess; ++i) Kill(order[i], stamp);
    Compact();
  }

  // Fills scratch.touched_items with scored items; returns unknown query items in scratch.unknown.
  void Score(absl::Span<const std::int32_t> session, std::int64_t now, Scratch& scratch) const {
    scratch.Fit(time.size(), static_cast<std::size_t>(num_items));
    scratch.touched_sessions.clear();
    scratch.touched_items.clear();
    scratch.unknown.clear();
    const auto length = static_cast<std::int64_t>(session.size());
    const std::int64_t first = std::max<std::int64_t>(0, length - config.max_session_length);
    const auto n = static_cast<float>(length - first);
    const std::int32_t query_mark = ++scratch.generation;
    // Stamps are compared for equality only: before the counter wraps, every stamp is cleared.
    if (query_mark == std::numeric_limits<std::int32_t>::max()) {
      std::fill(scratch.query_stamp.begin(), scratch.query_stamp.end(), -1);
      scratch.generation = 0;
    }
    // Most recent first: a repeated item keeps its most recent (largest) position weight.
    for (std::int64_t j = length - 1; j >= first; --j) {
      const std::int32_t item = session[j];
      if (item < 0 || item >= num_items) {
        scratch.unknown.push_back(item);
        continue;
      }
      if (scratch.query_stamp[item] == query_mark) continue;
      scratch.query_stamp[item] = query_mark;
      const float position = static_cast<float>(j - first + 1);
      float weight = 1.0f;
      if (config.position_decay == PositionDecay::kLinear) weight = position / n;
      if (config.position_decay == PositionDecay::kExponential) weight = std::exp((position - n) / config.lambda_spw);
      const std::vector<std::int32_t>& list = item_sessions[item];
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        const std::int32_t slot = *it;
        if (scratch.session_similarity[slot] == 0.0f) {
          scratch.touched_sessions.push_back(slot);
          scratch.session_match[slot] = item;
        }
        scratch.session_similarity[slot] += weight;
      }
    }
    std::vector<std::int32_t>& neighbours = scratch.touched_sessions;
    if (config.lambda_snh > 0) {
      const double scale = 1.0 / (static_cast<double>(config.lambda_snh) * 86'400.0);
      for (std::int32_t slot : neighbours) {
        const double age = static_cast<double>(std::max<std::int64_t>(0, now - time[slot]));
        scratch.session_similarity[slot] *= static_cast<float>(std::exp(-age * scale));
      }
    }
    // The k most similar neighbours; ties go to the more recent session, then the lower slot.
    auto more_similar = [&](std::int32_t a, std::int32_t b) {
      const float sa = scratch.session_similarity[a], sb = scratch.session_similarity[b];
      if (sa != sb) return sa > sb;
      if (time[a] != time[b]) return time[a] > time[b];
      return a < b;
    };
    const std::size_t k = std::min<std::size_t>(neighbours.size(), static_cast<std::size_t>(config.k));
    if (k < neighbours.size()) {
      std::nth_element(neighbours.begin(), neighbours.begin() + static_cast<std::ptrdiff_t>(k), neighbours.end(), more_similar);
    }
    // Neighbours in a fixed order so float sums do not depend on the hash of the touch order.
    std::sort(neighbours.begin(), neighbours.begin() + static_cast<std::ptrdiff_t>(k), more_similar);
    for (std::size_t r = 0; r < k; ++r) {
      const std::int32_t slot = neighbours[r];
      const float similarity = scratch.session_similarity[slot];
      if (!(similarity > 0)) continue;
      std::int64_t match_position = -1;
      if (config.lambda_inh > 0) {
        for (std::int64_t p = offsets[slot + 1] - 1; p >= offsets[slot] && match_position < 0; --p) {
          if (items[p] == scratch.session_match[slot]) match_position = p - offsets[slot];
        }
      }
      ForEachDistinctItem(slot, scratch.item_stamp, static_cast<std::int32_t>(r), [&](std::int32_t item, std::int64_t position) {
        float vote = similarity;
        if (config.lambda_inh > 0) vote *= std::exp(-std::abs(static_cast<float>(position - match_position)) / config.lambda_inh);
        if (config.idf_weighting) vote *= Idf(item);
        if (scratch.item_votes[item] == 0) scratch.touched_items.push_back(item);
        scratch.item_score[item] += vote;
        ++scratch.item_votes[item];
        if (similarity > scratch.item_best_similarity[item]) {
          scratch.item_best_similarity[item] = similarity;
          scratch.item_anchor[item] = scratch.session_match[slot];
        }
      });
    }
    for (std::int32_t slot : neighbours) scratch.session_similarity[slot] = 0.0f;
  }

  void ResetItems(Scratch& scratch) const {
    for (std::int32_t item : scratch.touched_items) {
      scratch.item_score[item] = 0.0f;
      scratch.item_votes[item] = 0;
      scratch.item_best_similarity[item] = 0.0f;
      scratch.item_stamp[item] = -1;
    }
  }
};

absl::Status SessionKnnConfig::Validate() const {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k (neighbours) must be positive, got ", k));
  if (sample_size <= 0) return absl::InvalidArgumentError(absl::StrCat("sample_size must be positive, got ", sample_size));
  if (position_decay == PositionDecay::kExponential && !(lambda_spw > 0)) {
    return absl::InvalidArgumentError("lambda_spw must be positive with exponential position decay");
  }
  if (static_cast<int>(position_decay) < 0 || static_cast<int>(position_decay) > 2) {
    return absl::InvalidArgumentError("unknown position_decay");
  }
  if (!(lambda_snh >= 0) || !(lambda_inh >= 0)) return absl::InvalidArgumentError("lambda_snh and lambda_inh must be >= 0");
  if (max_session_length <= 0) return absl::InvalidArgumentError("max_session_length must be positive");
  if (max_sessions < 0) return absl::InvalidArgumentError("max_sessions must be >= 0");
  return absl::OkStatus();
}

SessionKnn::SessionKnn(std::unique_ptr<State> state) : state_(std::move(state)) {}
SessionKnn::~SessionKnn() = default;

std::int32_t SessionKnn::num_items() const { return state_->num_items; }
const SessionKnnConfig& SessionKnn::config() const { return state_->config; }
std::int64_t SessionKnn::num_sessions() const {
  const std::shared_lock lock(state_->mutex);
  return state_->alive_count;
}

absl::StatusOr<std::unique_ptr<SessionKnn>> SessionKnn::Fit(const TrainingSessions& training,
                                                            std::int32_t num_items,
                                                            const SessionKnnConfig& config) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  if (num_items <= 0) return absl::InvalidArgumentError("num_items must be positive");
  const data::SessionsView& sessions = training.sessions;
  const std::int64_t count = sessions.num_sessions();
  if (sessions.offsets.empty() || sessions.offsets.front() != 0 ||
      sessions.offsets.back() != static_cast<std::int64_t>(sessions.items.size())) {
    return absl::InvalidArgumentError("session offsets must start at 0 and end at the number of items");
  }
  if (!training.session_timestamps.empty() && static_cast<std::int64_t>(training.session_timestamps.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat("got ", training.session_timestamps.size(), " session timestamps for ", count, " sessions"));
  }
  if (!training.session_users.empty() && static_cast<std::int64_t>(training.session_users.size()) != count) {
    return absl::InvalidArgumentError(absl::StrCat("got ", training.session_users.size(), " session users for ", count, " sessions"));
  }
  for (std::int64_t s = 0; s < count; ++s) {
    if (sessions.offsets[s + 1] < sessions.offsets[s]) return absl::InvalidArgumentError(absl::StrCat("session ", s, " has negative length"));
    for (std::int32_t item : sessions.SessionItems(s)) {
      if (item < 0 || item >= num_items) {
        return absl::InvalidArgumentError(absl::StrCat("session ", s, " has item ", item, ", outside [0, ", num_items, ")"));
      }
    }
  }
  auto state = std::make_unique<State>();
  state->config = config;
  state->num_items = num_items;
  state->item_sessions.resize(static_cast<std::size_t>(num_items));
  state->item_session_count.assign(static_cast<std::size_t>(num_items), 0);
  state->item_clicks.assign(static_cast<std::size_t>(num_items), 0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  auto timestamp = [&](std::int64_t s) { return training.session_timestamps.empty() ? s : training.session_timestamps[s]; };
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return timestamp(a) < timestamp(b); });
  std::vector<std::int32_t> stamp(static_cast<std::size_t>(num_items), kNoSession);
  for (std::int64_t s : order) {
    if (sessions.offsets[s + 1] == sessions.offsets[s]) continue;
    state->Append(sessions.SessionItems(s), timestamp(s), training.session_users.empty() ? -1 : training.session_users[s], stamp);
  }
  state->EvictOldestBeyondLimit(stamp);
  state->RankPopularity();
  return std::unique_ptr<SessionKnn>(new SessionKnn(std::move(state)));
}

void SessionKnn::ScoreCandidates(absl::Span<const std::int32_t> session_items,
                                 std::vector<std::pair<std::int32_t, float>>& out) const {
  const std::shared_lock lock(state_->mutex);
  Scratch& scratch = ThreadScratch();
  state_->Score(session_items, state_->latest_time, scratch);
  out.clear();
  for (std::int32_t item : scratch.touched_items) out.emplace_back(item, scratch.item_score[item]);
  state_->ResetItems(scratch);
}

absl::StatusOr<RecommendResponse> SessionKnn::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, state_->num_items));
  const std::shared_lock lock(state_->mutex);
  const State& s = *state_;
  Scratch& scratch = ThreadScratch();
  const std::int64_t now = request.context_timestamp != 0   ? request.context_timestamp
                           : !request.session_timestamps.empty() ? request.session_timestamps.back()
                                                                 : s.latest_time;
  s.Score(request.session_items, now, scratch);
  const CandidateFilter filter(request, scratch.excluded);
  RecommendResponse response;
  response.unknown_items = scratch.unknown;
  scratch.selector.Reset(static_cast<std::size_t>(request.k));
  for (std::int32_t item : scratch.touched_items) {
    if (filter.Allows(item)) scratch.selector.Push(item, scratch.item_score[item]);
  }
  scratch.selector.TakeSorted(scratch.top);
  for (const retrieval::ScoredId& hit : scratch.top) {
    response.items.push_back(hit.id);
    response.scores.push_back(hit.score);
    response.reasons.push_back({ReasonKind::kCoVisited, scratch.item_anchor[hit.id], scratch.item_votes[hit.id], -1});
  }
  s.ResetItems(scratch);
  // Too few neighbours (an empty or unknown session, strict filters): popular items fill the
  // rest, scored in (-1, 0) so they rank below every neighbour vote.
  if (static_cast<std::int32_t>(response.items.size()) < request.k) {
    scratch.chosen.assign(response.items.begin(), response.items.end());
    std::sort(scratch.chosen.begin(), scratch.chosen.end());
    const auto most_clicks = static_cast<float>(s.popular.empty() ? 1 : -s.popular.begin()->first);
    for (const auto& [negative_clicks, item] : s.popular) {
      if (static_cast<std::int32_t>(response.items.size()) >= request.k) break;
      if (!filter.Allows(item) || std::binary_search(scratch.chosen.begin(), scratch.chosen.end(), item)) continue;
      const std::int64_t clicks = -negative_clicks;
      response.items.push_back(item);
      // Kept strictly inside (-1, 0) where float rounding would reach an end (huge counts).
      const float score = -1.0f + static_cast<float>(clicks) / (most_clicks + 1.0f);
      response.scores.push_back(std::clamp(score, kLowestFiller, kHighestFiller));
      response.reasons.push_back({ReasonKind::kTrending, -1, static_cast<std::int32_t>(std::min<std::int64_t>(clicks, std::numeric_limits<std::int32_t>::max())), -1});
    }
  }
  StampReasons(response);
  return response;
}

absl::Status SessionKnn::AddSession(absl::Span<const std::int32_t> items, std::int64_t timestamp, std::int32_t user) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i] < 0 || items[i] >= state_->num_items) {
      return absl::InvalidArgumentError(absl::StrCat("session item ", i, " is ", items[i], ", outside [0, ", state_->num_items, ")"));
    }
  }
  if (items.empty()) return absl::InvalidArgumentError("cannot add an empty session");
  const std::unique_lock lock(state_->mutex);
  State& s = *state_;
  std::vector<std::int32_t> stamp(static_cast<std::size_t>(s.num_items), kNoSession);
  s.Append(items, timestamp, user, stamp);
  s.EvictOldestBeyondLimit(stamp);
  return absl::OkStatus();
}

std::int64_t SessionKnn::Forget(std::int32_t user) {
  const std::unique_lock lock(state_->mutex);
  State& s = *state_;
  std::vector<std::int32_t> stamp(static_cast<std::size_t>(s.num_items), kNoSession);
  std::int64_t removed = 0;
  for (std::size_t slot = 0; slot < s.time.size(); ++slot) {
    if (s.alive[slot] && s.user[slot] == user) {
      s.Kill(static_cast<std::int32_t>(slot), stamp);
      ++removed;
    }
  }
  if (removed > 0) s.Compact();
  return removed;
}

absl::StatusOr<io::ModelFile> SessionKnn::ToModelFile() const {
  const std::shared_lock lock(state_->mutex);
  const State& s = *state_;
  io::ModelFile file(kModelKind);
  v1::SessionKnnConfig proto;
  proto.set_k(s.config.k);
  proto.set_sample_size(s.config.sample_size);
  proto.set_position_decay(static_cast<v1::PositionDecay>(s.config.position_decay));
  proto.set_lambda_spw(s.config.lambda_spw);
  proto.set_lambda_snh(s.config.lambda_snh);
  proto.set_lambda_inh(s.config.lambda_inh);
  proto.set_idf_weighting(s.config.idf_weighting);
  proto.set_max_session_length(s.config.max_session_length);
  proto.set_max_sessions(s.config.max_sessions);
  proto.set_num_items(s.num_items);
  file.set_config(proto.SerializeAsString());
  // Alive sessions only, in time order: loading replays them, which rebuilds the item lists,
  // counts and popularity exactly.
  std::vector<std::int32_t> order;
  for (std::size_t slot = 0; slot < s.time.size(); ++slot) {
    if (s.alive[slot]) order.push_back(static_cast<std::int32_t>(slot));
  }
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return s.time[a] < s.time[b]; });
  std::vector<std::int64_t> offsets{0}, times;
  std::vector<std::int32_t> items, users;
  for (std::int32_t slot : order) {
    items.insert(items.end(), s.items.begin() + s.offsets[slot], s.items.begin() + s.offsets[slot + 1]);
    offsets.push_back(static_cast<std::int64_t>(items.size()));
    times.push_back(s.time[slot]);
    users.push_back(s.user[slot]);
  }
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("session_offsets", offsets));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("session_items", items));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("session_timestamps", times));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("session_users", users));
  COMPTOIR_RETURN_IF_ERROR(AddTrainingEvents(training_events(), file));
  return file;
}

absl::StatusOr<std::unique_ptr<SessionKnn>> SessionKnn::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  v1::SessionKnnConfig proto;
  if (!proto.ParseFromString(file.config())) {
    return MarkModelFormatError(absl::DataLossError("session_knn config does not parse"));
  }
  SessionKnnConfig config;
  config.k = proto.k();
  config.sample_size = proto.sample_size();
  config.position_decay = static_cast<PositionDecay>(proto.position_decay());
  config.lambda_spw = proto.lambda_spw();
  config.lambda_snh = proto.lambda_snh();
  config.lambda_inh = proto.lambda_inh();
  config.idf_weighting = proto.idf_weighting();
  config.max_session_length = proto.max_session_length();
  config.max_sessions = proto.max_sessions();
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int64_t> offsets, file.Array<std::int64_t>("session_offsets"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int32_t> items, file.Array<std::int32_t>("session_items"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int64_t> times, file.Array<std::int64_t>("session_timestamps"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int32_t> users, file.Array<std::int32_t>("session_users"));
  if (offsets.empty() || times.size() + 1 != offsets.size() || users.size() != times.size() ||
      !std::is_sorted(offsets.begin(), offsets.end())) {
    return MarkModelFormatError(absl::DataLossError("session_knn session arrays are inconsistent"));
  }
  COMPTOIR_ASSIGN_OR_RETURN(const TrainingEvents events, ReadTrainingEvents(file));
  TrainingSessions training{{offsets, items, {}, {}, {}}, times, users};
  absl::StatusOr<std::unique_ptr<SessionKnn>> model = Fit(training, proto.num_items(), config);
  if (!model.ok()) {
    return MarkModelFormatError(absl::DataLossError(absl::StrCat("session_knn model is invalid: ", model.status().message())));
  }
  (*model)->set_training_events(events);
  return model;
}

}  // namespace comptoir::recommend
