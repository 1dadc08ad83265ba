// The neural session recommender's serving side and model file; training is in
// neural_session_train.cc, the network in neural_session_network.cc.
#include "comptoir/recommend/neural_session.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/retrieval/top_k.h"
#include "comptoir/status.h"
#include "comptoir/v1/recommend.pb.h"
#include "internal/scratch.h"
#include "internal/strings.h"
#include "internal/vector_kernels.h"
#include "recommend/neural_session_network.h"

namespace comptoir::recommend {
namespace {

namespace kernels = internal::kernels;

struct Scratch {
  neural::Activations act;
  std::vector<std::int32_t> known;
  std::vector<float> query;
  std::vector<float> scores;
  std::vector<float> attribution;
  std::vector<std::int32_t> excluded;
  std::vector<retrieval::ScoredId> hits;
  std::vector<std::int32_t> history;  // the request's user's earlier items, ascending
  retrieval::TopKSelector selector;
  internal::ScratchBound bound;
};

// Candidates the half-precision scan passes to the exact rescoring beyond the k asked for: a
// half's rounding moves a cosine by about 1e-3, far less than the gap this many places make.
constexpr std::int32_t kRescoreMargin = 64;

// The best candidates for scratch.query that pass the filters, best first, inner products in
// float (at least k of them when that many pass, more where the IVF path over-fetches).
absl::Status Retrieve(const NeuralSession::State& state, const RecommendRequest& request, const CandidateFilter& filter,
                      Scratch& scratch) {
  const neural::Network& net = state.net;
  const std::vector<std::uint8_t>& seen = state.seen;
  const std::int32_t d = net.dim;
  if (state.ivf != nullptr) {
    // The index applies stock flags and exclusions; category and price rules check an over-fetched list.
    const int fetch = request.filters.catalogue != nullptr ? std::min(net.num_items, request.k * 4) : request.k;
    retrieval::SearchFilter search{seen, scratch.excluded};
    if (!request.filters.allowed_items.empty()) search.allowed = request.filters.allowed_items;
    return state.ivf->Search(scratch.query, fetch, search, scratch.hits);
  }
  scratch.scores.resize(static_cast<std::size_t>(net.num_items));
  kernels::DotHalfRows(scratch.query.data(), state.half_items.data(), net.num_items, d, d, scratch.scores.data());
  retrieval::TopKSelector& selector = scratch.selector;
  selector.Reset(static_cast<std::size_t>(request.k + kRescoreMargin));
  for (std::int32_t item = 0; item < net.num_items; ++item) {
    const float score = scratch.scores[item];
    if (selector.Full() && score < selector.Threshold()) continue;
    if (seen[item] && filter.Allows(item)) selector.Push(item, score);
  }
  selector.TakeSorted(scratch.hits);
  for (retrieval::ScoredId& hit : scratch.hits) {
    hit.score = kernels::Dot(scratch.query.data(), state.unit_items.data() + std::int64_t{hit.id} * d, d);
  }
  std::sort(scratch.hits.begin(), scratch.hits.end(), retrieval::RanksBefore);
  return absl::OkStatus();
}

Scratch& ThreadScratch(std::int32_t items, std::int32_t dim) {
  thread_local Scratch scratch;
  if (scratch.bound.Release(internal::HeldElements(scratch.known, scratch.query, scratch.scores, scratch.excluded,
                                                   scratch.hits),
                            static_cast<std::size_t>(items) + static_cast<std::size_t>(dim))) {
    const internal::ScratchBound kept = scratch.bound;
    scratch = Scratch();
    scratch.bound = kept;
  }
  return scratch;
}

absl::Status Corrupt(std::string_view what) {
  return MarkModelFormatError(absl::DataLossError(absl::StrCat("neural session model: ", internal::Sv(what))));
}

// History rows as the "history" array: epoch, loss, HR, MRR, seconds, learning rate, flags
// (1: restarted, 2: refit; files from before refit hold 0 or 1).
constexpr std::size_t kHistoryFields = 7;

}  // namespace

absl::Status NeuralSessionConfig::Validate() const {
  const auto positive = [](std::string_view name, double value) -> absl::Status {
    if (!(value > 0) || !std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat(internal::Sv(name), " must be a positive number, got ", value));
    }
    return absl::OkStatus();
  };
  if (dim < 1 || dim > 1024) return absl::InvalidArgumentError(absl::StrCat("dim must be in [1, 1024], got ", dim));
  if (max_session_length < 1 || max_session_length > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("max_session_length must be in [1, 1000], got ", max_session_length));
  }
  COMPTOIR_RETURN_IF_ERROR(positive("scale", scale));
  if (scale > 100) return absl::InvalidArgumentError(absl::StrCat("scale must be at most 100, got ", scale));
  if (num_negatives < 0) return absl::InvalidArgumentError(absl::StrCat("num_negatives must be >= 0, got ", num_negatives));
  if (!(negative_exponent >= 0 && negative_exponent <= 2)) {
    return absl::InvalidArgumentError(absl::StrCat("negative_exponent must be in [0, 2], got ", negative_exponent));
  }
  if (batch_size < 1 || batch_size > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size must be in [1, 65536], got ", batch_size));
  }
  COMPTOIR_RETURN_IF_ERROR(positive("learning_rate", learning_rate));
  if (!(learning_rate_decay > 0 && learning_rate_decay <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("learning_rate_decay must be in (0, 1], got ", learning_rate_decay));
  }
  if (epochs < 1) return absl::InvalidArgumentError(absl::StrCat("epochs must be positive, got ", epochs));
  if (patience < 0) return absl::InvalidArgumentError(absl::StrCat("patience must be >= 0, got ", patience));
  if (!(dropout >= 0 && dropout < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("dropout must be in [0, 1), got ", dropout));
  }
  if (!(profile_weight >= 0 && profile_weight <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("profile_weight must be in [0, 1], got ", profile_weight));
  }
  if (!(repeat_boost >= 0) || !std::isfinite(repeat_boost)) {
    return absl::InvalidArgumentError(absl::StrCat("repeat_boost must be a finite number >= 0, got ", repeat_boost));
  }
  if (ivf_min_items < 1) return absl::InvalidArgumentError(absl::StrCat("ivf_min_items must be positive, got ", ivf_min_items));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NeuralSession::State>> MakeServingState(NeuralSessionConfig config, neural::Network net,
                                                                       std::vector<std::int64_t> counts,
                                                                       std::vector<NeuralSessionEpoch> history) {
  auto state = std::make_unique<NeuralSession::State>();
  const std::int32_t d = net.dim;
  state->unit_items.assign(net.items.size(), 0.0f);
  state->seen.resize(counts.size());
  for (std::int32_t item = 0; item < net.num_items; ++item) {
    state->seen[item] = counts[item] > 0;
    if (state->seen[item]) neural::Normalise(net.item(item), d, state->unit_items.data() + std::int64_t{item} * d);
  }
  state->popular.resize(counts.size());
  std::iota(state->popular.begin(), state->popular.end(), 0);
  std::stable_sort(state->popular.begin(), state->popular.end(),
                   [&](std::int32_t a, std::int32_t b) { return counts[a] > counts[b]; });
  while (!state->popular.empty() && counts[state->popular.back()] == 0) state->popular.pop_back();
  if (net.num_items >= config.ivf_min_items) {
    const retrieval::VectorsView view{state->unit_items, net.num_items, d};
    COMPTOIR_ASSIGN_OR_RETURN(state->ivf, retrieval::BuildIvfIndex(view, retrieval::Metric::kInnerProduct, {}, {}));
  } else {
    state->half_items.resize(state->unit_items.size());
    kernels::FloatsToHalves(state->unit_items.data(), static_cast<std::int64_t>(state->unit_items.size()),
                            state->half_items.data());
  }
  state->counts = std::move(counts);
  state->config = config;
  state->net = std::move(net);
  state->history = std::move(history);
  return state;
}

NeuralSession::NeuralSession(std::unique_ptr<State> state)
    : state_(std::move(state)),
      profile_weight_(state_->config.profile_weight),
      repeat_boost_(state_->config.repeat_boost) {}

absl::Status NeuralSession::set_repeat_boost(float boost) {
  if (!(boost >= 0) || !std::isfinite(boost)) {
    return absl::InvalidArgumentError(absl::StrCat("repeat_boost must be a finite number >= 0, got ", boost));
  }
  repeat_boost_.store(boost, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status NeuralSession::set_profile_weight(float weight) {
  if (!(weight >= 0 && weight <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("profile_weight must be in [0, 1], got ", weight));
  }
  profile_weight_.store(weight, std::memory_order_relaxed);
  return absl::OkStatus();
}
NeuralSession::~NeuralSession() = default;

std::int32_t NeuralSession::num_items() const { return state_->net.num_items; }
const NeuralSessionConfig& NeuralSession::config() const { return state_->config; }
const std::vector<NeuralSessionEpoch>& NeuralSession::history() const { return state_->history; }
absl::Span<const std::uint8_t> NeuralSession::seen() const { return state_->seen; }
absl::Span<const float> NeuralSession::item_vectors() const { return state_->unit_items; }

void NeuralSession::State::KnownItems(absl::Span<const std::int32_t> items, std::vector<std::int32_t>& known,
                                      std::vector<std::int32_t>* unknown) const {
  known.clear();
  for (std::int32_t item : items) {
    if (item >= 0 && item < net.num_items && seen[item]) {
      known.push_back(item);
    } else if (unknown != nullptr) {
      unknown->push_back(item);
    }
  }
  if (known.size() > static_cast<std::size_t>(net.max_len)) known.erase(known.begin(), known.end() - net.max_len);
}

absl::Status NeuralSession::EncodeSession(absl::Span<const std::int32_t> items, absl::Span<float> out) const {
  const std::int32_t d = state_->net.dim;
  if (out.size() != static_cast<std::size_t>(d)) {
    return absl::InvalidArgumentError(absl::StrCat("the session vector has ", d, " floats, got room for ", out.size()));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i] < 0 || items[i] >= num_items()) {
      return absl::InvalidArgumentError(absl::StrCat("session item ", i, " is ", items[i], ", outside [0, ", num_items(), ")"));
    }
  }
  Scratch& scratch = ThreadScratch(num_items(), d);
  state_->KnownItems(items, scratch.known, nullptr);
  std::fill(out.begin(), out.end(), 0.0f);
  if (scratch.known.empty()) return absl::OkStatus();
  neural::Forward(state_->net, scratch.known, scratch.act);
  std::copy(scratch.act.session.begin(), scratch.act.session.begin() + d, out.begin());
  return absl::OkStatus();
}

absl::Status NeuralSession::SetUserHistory(std::int32_t user, absl::Span<const std::int32_t> items) {
  Profile profile;
  profile.vector.resize(static_cast<std::size_t>(state_->net.dim));
  COMPTOIR_RETURN_IF_ERROR(EncodeSession(items, absl::MakeSpan(profile.vector)));
  for (auto it = items.rbegin(); it != items.rend() && profile.items.size() < kMaxProfileItems; ++it) {
    if (state_->seen[*it] && std::find(profile.items.begin(), profile.items.end(), *it) == profile.items.end()) {
      profile.items.push_back(*it);
    }
  }
  std::sort(profile.items.begin(), profile.items.end());
  const std::unique_lock lock(profiles_mutex_);
  profiles_[user] = std::move(profile);
  return absl::OkStatus();
}

std::int64_t NeuralSession::ForgetUser(std::int32_t user) {
  const std::unique_lock lock(profiles_mutex_);
  return static_cast<std::int64_t>(profiles_.erase(user));
}

std::vector<std::int32_t> NeuralSession::profile_users() const {
  const std::shared_lock lock(profiles_mutex_);
  std::vector<std::int32_t> users;
  for (const auto& [user, vector] : profiles_) users.push_back(user);
  std::sort(users.begin(), users.end());
  return users;
}

void NeuralSession::ScoreCandidates(absl::Span<const std::int32_t> session_items,
                                    std::vector<std::pair<std::int32_t, float>>& out) const {
  const State& s = *state_;
  Scratch& scratch = ThreadScratch(num_items(), s.net.dim);
  out.clear();
  s.KnownItems(session_items, scratch.known, nullptr);
  if (scratch.known.empty()) return;
  neural::Forward(s.net, scratch.known, scratch.act);
  scratch.scores.resize(static_cast<std::size_t>(num_items()));
  kernels::DotTable(scratch.act.session.data(), 1, s.net.dim, s.unit_items.data(), num_items(), s.net.dim, s.net.dim,
                    scratch.scores.data(), num_items());
  for (std::int32_t item = 0; item < num_items(); ++item) {
    if (s.seen[item]) out.emplace_back(item, s.Likelihood(scratch.scores[item]));
  }
}

absl::StatusOr<RecommendResponse> NeuralSession::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, num_items()));
  const State& s = *state_;
  const std::int32_t d = s.net.dim;
  Scratch& scratch = ThreadScratch(num_items(), d);
  RecommendResponse response;
  s.KnownItems(request.session_items, scratch.known, &response.unknown_items);
  const bool has_session = !scratch.known.empty();
  scratch.query.assign(static_cast<std::size_t>(d), 0.0f);
  if (has_session) {
    neural::Forward(s.net, scratch.known, scratch.act);
    std::copy(scratch.act.session.begin(), scratch.act.session.begin() + d, scratch.query.begin());
  }
  bool has_profile = false;
  scratch.history.clear();
  if (request.user >= 0) {
    const std::shared_lock lock(profiles_mutex_);
    const auto profile = profiles_.find(request.user);
    if (profile != profiles_.end()) {
      const float w = has_session ? profile_weight() : 1.0f;
      const std::vector<float>& vector = profile->second.vector;
      for (std::int32_t k = 0; k < d; ++k) scratch.query[k] = (1 - w) * scratch.query[k] + w * vector[k];
      scratch.history.assign(profile->second.items.begin(), profile->second.items.end());
      has_profile = true;
    }
  }
  const CandidateFilter filter(request, scratch.excluded);
  if (has_session || has_profile) {
    COMPTOIR_RETURN_IF_ERROR(Retrieve(s, request, filter, scratch));
    const float norm = std::sqrt(kernels::Dot(scratch.query.data(), scratch.query.data(), d));
    const float inv_norm = norm > 0 ? 1.0f / norm : 0.0f;
    const float boost = repeat_boost();
    if (boost > 0 && !scratch.history.empty() && norm > 0) {
      // The user's earlier items compete with their logit raised by the boost, wherever the
      // session alone ranked them (hit scores are inner products with the unnormalised query).
      const float bonus = boost / s.net.scale * norm;
      for (std::int32_t item : scratch.history) {
        if (!filter.Allows(item)) continue;
        auto hit = std::find_if(scratch.hits.begin(), scratch.hits.end(),
                                [&](const retrieval::ScoredId& h) { return h.id == item; });
        if (hit == scratch.hits.end()) {
          scratch.hits.push_back({item, kernels::Dot(scratch.query.data(), s.unit_items.data() + std::int64_t{item} * d, d)});
          hit = scratch.hits.end() - 1;
        }
        hit->score += bonus;
      }
      std::sort(scratch.hits.begin(), scratch.hits.end(), retrieval::RanksBefore);
    }
    for (const retrieval::ScoredId& hit : scratch.hits) {
      if (static_cast<std::int32_t>(response.items.size()) == request.k) break;
      if (!s.seen[hit.id] || !filter.Allows(hit.id)) continue;
      Reason reason{ReasonKind::kProfile, -1, 0, -1};
      if (boost > 0 && std::binary_search(scratch.history.begin(), scratch.history.end(), hit.id)) {
        reason = {ReasonKind::kProfile, hit.id, 0, -1};
      } else if (has_session) {
        const float* item = s.unit_items.data() + std::int64_t{hit.id} * d;
        const std::int32_t position = neural::StrongestItem(s.net, scratch.act, item, scratch.attribution);
        reason = {ReasonKind::kSimilarItem, scratch.known[position], 0, -1};
      }
      response.items.push_back(hit.id);
      response.scores.push_back(s.Likelihood(hit.score * inv_norm));
      response.reasons.push_back(reason);
    }
  }
  // Nothing to go on, or too few items pass the filters: the most frequent items fill the rest,
  // scored below zero (every scored item is above it) in the order of their counts.
  if (static_cast<std::int32_t>(response.items.size()) < request.k) {
    std::vector<std::int32_t> chosen(response.items.begin(), response.items.end());
    std::sort(chosen.begin(), chosen.end());
    for (std::int32_t item : s.popular) {
      if (static_cast<std::int32_t>(response.items.size()) >= request.k) break;
      if (!filter.Allows(item) || std::binary_search(chosen.begin(), chosen.end(), item)) continue;
      const std::int64_t count = s.counts[item];
      response.items.push_back(item);
      response.scores.push_back(-1.0f / static_cast<float>(count + 1));
      response.reasons.push_back({ReasonKind::kTrending, -1,
                                  static_cast<std::int32_t>(std::min<std::int64_t>(count, std::numeric_limits<std::int32_t>::max())), -1});
    }
  }
  StampReasons(response);
  return response;
}

absl::StatusOr<io::ModelFile> NeuralSession::ToModelFile() const {
  const State& s = *state_;
  io::ModelFile file(kModelKind);
  v1::NeuralSessionConfig proto;
  const NeuralSessionConfig& c = s.config;
  proto.set_dim(c.dim);
  proto.set_max_session_length(c.max_session_length);
  proto.set_scale(c.scale);
  proto.set_num_negatives(c.num_negatives);
  proto.set_negative_exponent(c.negative_exponent);
  proto.set_batch_size(c.batch_size);
  proto.set_learning_rate(c.learning_rate);
  proto.set_learning_rate_decay(c.learning_rate_decay);
  proto.set_epochs(c.epochs);
  proto.set_patience(c.patience);
  proto.set_dropout(c.dropout);
  proto.set_refit(c.refit);
  proto.set_profile_weight(profile_weight());
  proto.set_repeat_boost(repeat_boost());
  proto.set_ivf_min_items(c.ivf_min_items);
  proto.set_num_items(s.net.num_items);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("items", s.net.items));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("dense", s.net.dense));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("item_counts", s.counts));
  std::vector<double> history;
  for (const NeuralSessionEpoch& e : s.history) {
    history.insert(history.end(), {static_cast<double>(e.epoch), e.loss, e.validation_hit_rate, e.validation_mrr,
                                   e.seconds, static_cast<double>(e.learning_rate),
                                   (e.restarted ? 1.0 : 0.0) + (e.refit ? 2.0 : 0.0)});
  }
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<double>("history", history));
  // One snapshot of the table: a profile set or forgotten meanwhile is either wholly in or out.
  std::vector<std::int32_t> users, items;
  std::vector<std::int64_t> item_offsets{0};
  std::vector<float> vectors;
  {
    const std::shared_lock lock(profiles_mutex_);
    for (const auto& [user, profile] : profiles_) users.push_back(user);
    std::sort(users.begin(), users.end());
    for (std::int32_t user : users) {
      const Profile& profile = profiles_.at(user);
      vectors.insert(vectors.end(), profile.vector.begin(), profile.vector.end());
      items.insert(items.end(), profile.items.begin(), profile.items.end());
      item_offsets.push_back(static_cast<std::int64_t>(items.size()));
    }
  }
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("profile_users", users));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("profiles", vectors));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("profile_item_offsets", item_offsets));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("profile_items", items));
  COMPTOIR_RETURN_IF_ERROR(AddTrainingEvents(training_events(), file));
  return file;
}

absl::StatusOr<std::unique_ptr<NeuralSession>> NeuralSession::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  v1::NeuralSessionConfig proto;
  if (!proto.ParseFromString(file.config())) return Corrupt("the config does not parse");
  NeuralSessionConfig config;
  config.dim = proto.dim();
  config.max_session_length = proto.max_session_length();
  config.scale = proto.scale();
  config.num_negatives = proto.num_negatives();
  config.negative_exponent = proto.negative_exponent();
  config.batch_size = proto.batch_size();
  config.learning_rate = proto.learning_rate();
  config.learning_rate_decay = proto.has_learning_rate_decay() ? proto.learning_rate_decay() : 1.0f;
  config.epochs = proto.epochs();
  config.patience = proto.patience();
  config.dropout = proto.dropout();
  config.refit = proto.has_refit() && proto.refit();
  config.profile_weight = proto.profile_weight();
  config.repeat_boost = proto.repeat_boost();
  config.ivf_min_items = proto.ivf_min_items();
  const absl::Status valid = config.Validate();
  if (!valid.ok()) return Corrupt(std::string(valid.message()));
  if (proto.num_items() <= 0) return Corrupt("the number of items must be positive");
  neural::Network net;
  net.num_items = proto.num_items();
  net.dim = config.dim;
  net.max_len = config.max_session_length;
  net.scale = config.scale;
  COMPTOIR_ASSIGN_OR_RETURN(net.items, file.Array<float>("items"));
  COMPTOIR_ASSIGN_OR_RETURN(net.dense, file.Array<float>("dense"));
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<std::int64_t> counts, file.Array<std::int64_t>("item_counts"));
  if (net.items.size() != static_cast<std::size_t>(net.num_items) * static_cast<std::size_t>(net.dim) ||
      net.dense.size() != static_cast<std::size_t>(net.layout().size()) ||
      counts.size() != static_cast<std::size_t>(net.num_items)) {
    return Corrupt("the arrays do not match the config's sizes");
  }
  for (float v : net.items) {
    if (!std::isfinite(v)) return Corrupt("the item table holds a non-finite value");
  }
  for (float v : net.dense) {
    if (!std::isfinite(v)) return Corrupt("the network holds a non-finite value");
  }
  for (std::int64_t count : counts) {
    if (count < 0) return Corrupt("an item count is negative");
  }
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> rows, file.Array<double>("history"));
  if (rows.size() % kHistoryFields != 0) return Corrupt("the training history is truncated");
  std::vector<NeuralSessionEpoch> history;
  for (std::size_t r = 0; r < rows.size(); r += kHistoryFields) {
    const double flags = rows[r + 6];
    if (!(flags == 0 || flags == 1 || flags == 2 || flags == 3)) return Corrupt("a training history flag is not 0-3");
    history.push_back({static_cast<std::int32_t>(rows[r]), rows[r + 1], rows[r + 2], rows[r + 3], rows[r + 4],
                       static_cast<float>(rows[r + 5]), flags == 1 || flags == 3, flags >= 2});
  }
  COMPTOIR_ASSIGN_OR_RETURN(auto state, MakeServingState(config, std::move(net), std::move(counts), std::move(history)));
  auto model = std::unique_ptr<NeuralSession>(new NeuralSession(std::move(state)));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int32_t> users, file.Array<std::int32_t>("profile_users"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<float> vectors, file.Array<float>("profiles"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int64_t> item_offsets, file.Array<std::int64_t>("profile_item_offsets"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int32_t> items, file.Array<std::int32_t>("profile_items"));
  const auto dim = static_cast<std::size_t>(config.dim);
  if (vectors.size() != users.size() * dim || item_offsets.size() != users.size() + 1 || item_offsets.front() != 0 ||
      item_offsets.back() != static_cast<std::int64_t>(items.size())) {
    return Corrupt("the profiles do not match the users and the dimension");
  }
  {
    const std::unique_lock lock(model->profiles_mutex_);
    for (std::size_t u = 0; u < users.size(); ++u) {
      if (item_offsets[u + 1] < item_offsets[u]) return Corrupt("the profiles' item offsets decrease");
      Profile& profile = model->profiles_[users[u]];
      profile.vector.assign(vectors.begin() + static_cast<std::ptrdiff_t>(u * dim),
                            vectors.begin() + static_cast<std::ptrdiff_t>((u + 1) * dim));
      profile.items.assign(items.begin() + item_offsets[u], items.begin() + item_offsets[u + 1]);
      for (std::size_t i = 0; i < profile.items.size(); ++i) {
        const std::int32_t item = profile.items[i];
        if (item < 0 || item >= proto.num_items() || (i > 0 && item <= profile.items[i - 1])) {
          return Corrupt("a profile item is out of range or out of order");
        }
      }
    }
  }
  COMPTOIR_ASSIGN_OR_RETURN(const TrainingEvents events, ReadTrainingEvents(file));
  model->set_training_events(events);
  return model;
}

}  // namespace comptoir::recommend
