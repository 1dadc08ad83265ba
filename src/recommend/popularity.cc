#include "comptoir/recommend/popularity.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/retrieval/top_k.h"
#include "comptoir/status.h"
#include "comptoir/v1/recommend.pb.h"
#include "internal/parallel.h"
#include "internal/scratch.h"

namespace comptoir::recommend {
namespace {

struct Accumulator {
  std::vector<float> score;
  std::vector<float> best;
  std::vector<std::int32_t> anchor;
  std::vector<std::int32_t> support;
  std::vector<std::int32_t> touched;
  std::vector<std::int32_t> excluded;
  std::vector<std::int32_t> anchors;
  std::vector<std::int32_t> picked;
  retrieval::TopKSelector selector;
  std::vector<retrieval::ScoredId> top;
  internal::ScratchBound bound;

  // Drops every buffer once they have long been far larger than models of `items` need; between
  // requests the dense buffers are back at their defaults, so starting afresh is safe.
  void Trim(std::size_t items) {
    if (bound.Release(internal::HeldElements(score, touched, excluded, anchors, picked), items)) {
      internal::ScratchBound kept = bound;
      *this = Accumulator();
      bound = kept;
    }
  }
  void Fit(std::size_t items) {
    Trim(items);
    if (score.size() < items) {
      score.resize(items, 0.0f);
      best.resize(items, 0.0f);
      anchor.resize(items, -1);
      support.resize(items, 0);
    }
  }
  void Reset() {
    for (std::int32_t item : touched) score[item] = 0.0f, best[item] = 0.0f;
    touched.clear();
  }
};

Accumulator& ThreadAccumulator() {
  thread_local Accumulator accumulator;
  return accumulator;
}

// The accumulated candidates that pass the request's filters, best first, each with its anchor
// as the reason; leaves the accumulator empty for the next request.
RecommendResponse RankAccumulated(const RecommendRequest& request, ReasonKind reason, Accumulator& scratch,
                                  RecommendResponse response) {
  const CandidateFilter filter(request, scratch.excluded);
  scratch.selector.Reset(static_cast<std::size_t>(request.k));
  for (std::int32_t item : scratch.touched) {
    if (filter.Allows(item)) scratch.selector.Push(item, scratch.score[item]);
  }
  scratch.selector.TakeSorted(scratch.top);
  for (const retrieval::ScoredId& hit : scratch.top) {
    response.items.push_back(hit.id);
    response.scores.push_back(hit.score);
    response.reasons.push_back({reason, scratch.anchor[hit.id], scratch.support[hit.id], -1});
  }
  scratch.Reset();
  return response;
}

// Every accumulated candidate, unsorted, for the evaluation protocol.
void DrainCandidates(Accumulator& scratch, std::vector<std::pair<std::int32_t, float>>& out) {
  out.clear();
  for (std::int32_t item : scratch.touched) out.emplace_back(item, scratch.score[item]);
  scratch.Reset();
}

absl::Status CheckItems(absl::Span<const std::int32_t> items, std::int32_t num_items, const char* what) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i] < 0 || items[i] >= num_items) {
      return absl::InvalidArgumentError(absl::StrCat(what, " ", i, " has item ", items[i], ", outside [0, ", num_items, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Corrupt(std::string_view what) { return MarkModelFormatError(absl::DataLossError(std::string(what))); }

// A model's config from its file: files written before configs were stored carry none and get
// the defaults; a config that does not parse or validate is corruption.
template <typename Proto>
absl::StatusOr<bool> ParseConfig(const io::ModelFile& file, Proto& proto) {
  if (file.config().empty()) return false;
  if (!proto.ParseFromString(file.config())) return Corrupt(absl::StrCat(file.model_kind(), " config does not parse"));
  return true;
}

absl::Status CheckConfig(const io::ModelFile& file, const absl::Status& valid) {
  if (valid.ok()) return valid;
  return Corrupt(absl::StrCat(file.model_kind(), " config is invalid: ", valid.message()));
}

}  // namespace

absl::Status PopularityConfig::Validate() const {
  if (!(half_life_days > 0)) return absl::InvalidArgumentError("half_life_days must be positive");
  for (float w : kind_weights) {
    if (!(w >= 0) || !std::isfinite(w)) return absl::InvalidArgumentError("kind_weights must be finite and >= 0");
  }
  return absl::OkStatus();
}

Popularity::Popularity(std::vector<float> score, std::vector<std::int32_t> category, const PopularityConfig& config)
    : config_(config), score_(std::move(score)), category_(std::move(category)) {
  ranked_.resize(score_.size());
  std::iota(ranked_.begin(), ranked_.end(), 0);
  std::stable_sort(ranked_.begin(), ranked_.end(), [&](std::int32_t a, std::int32_t b) { return score_[a] > score_[b]; });
  while (!ranked_.empty() && !(score_[ranked_.back()] > 0)) ranked_.pop_back();
  if (category_.empty()) return;
  // The CSR is over the categories present, not over ids up to the largest: a category id of 2e9
  // (in a file or a catalogue) costs nothing more than a small one.
  for (std::int32_t item : ranked_) {
    if (category_[item] >= 0) category_ids_.push_back(category_[item]);
  }
  std::sort(category_ids_.begin(), category_ids_.end());
  category_ids_.erase(std::unique(category_ids_.begin(), category_ids_.end()), category_ids_.end());
  category_offsets_.assign(category_ids_.size() + 1, 0);
  for (std::int32_t item : ranked_) {
    if (category_[item] >= 0) ++category_offsets_[CategoryIndex(category_[item]) + 1];
  }
  for (std::size_t c = 1; c < category_offsets_.size(); ++c) category_offsets_[c] += category_offsets_[c - 1];
  category_ranked_.resize(static_cast<std::size_t>(category_offsets_.back()));
  std::vector<std::int64_t> next(category_offsets_.begin(), category_offsets_.end() - 1);
  for (std::int32_t item : ranked_) {
    if (category_[item] >= 0) category_ranked_[static_cast<std::size_t>(next[CategoryIndex(category_[item])]++)] = item;
  }
}

std::size_t Popularity::CategoryIndex(std::int32_t category) const {
  const auto it = std::lower_bound(category_ids_.begin(), category_ids_.end(), category);
  return it != category_ids_.end() && *it == category ? static_cast<std::size_t>(it - category_ids_.begin()) : category_ids_.size();
}

absl::StatusOr<std::unique_ptr<Popularity>> Popularity::Fit(const EventsView& events, std::int32_t num_items,
                                                            absl::Span<const std::int32_t> item_category,
                                                            const PopularityConfig& config) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  if (num_items <= 0) return absl::InvalidArgumentError("num_items must be positive");
  COMPTOIR_RETURN_IF_ERROR(CheckItems(events.items, num_items, "event"));
  if ((!events.timestamps.empty() && events.timestamps.size() != events.items.size()) ||
      (!events.kinds.empty() && events.kinds.size() != events.items.size())) {
    return absl::InvalidArgumentError("timestamps and kinds must be empty or one per event");
  }
  if (!item_category.empty() && static_cast<std::int64_t>(item_category.size()) != num_items) {
    return absl::InvalidArgumentError(absl::StrCat("item_category has ", item_category.size(), " entries for ", num_items, " items"));
  }
  const std::int64_t newest = events.timestamps.empty() ? 0 : *std::max_element(events.timestamps.begin(), events.timestamps.end());
  const double decay_per_second = std::log(2.0) / (static_cast<double>(config.half_life_days) * 86'400.0);
  std::vector<double> score(static_cast<std::size_t>(num_items), 0.0);
  for (std::size_t i = 0; i < events.items.size(); ++i) {
    const double kind_weight = events.kinds.empty() ? 1.0 : config.kind_weights[static_cast<int>(events.kinds[i]) % data::kNumEventKinds];
    const double age = events.timestamps.empty() ? 0.0 : static_cast<double>(newest - events.timestamps[i]);
    score[events.items[i]] += kind_weight * std::exp(-age * decay_per_second);
  }
  std::vector<float> scores(score.begin(), score.end());
  return std::unique_ptr<Popularity>(new Popularity(std::move(scores), {item_category.begin(), item_category.end()}, config));
}

void Popularity::ScoreCandidates(absl::Span<const std::int32_t>, std::vector<std::pair<std::int32_t, float>>& out) const {
  out.clear();
  for (std::int32_t item : ranked_) out.emplace_back(item, score_[item]);
}

absl::StatusOr<RecommendResponse> Popularity::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, num_items()));
  Accumulator& scratch = ThreadAccumulator();
  scratch.Trim(static_cast<std::size_t>(num_items()));
  const CandidateFilter filter(request, scratch.excluded);
  RecommendResponse response;
  // The session's categories, most recent first, get their own trending items before the rest.
  std::vector<std::int32_t>& categories = scratch.anchors;
  categories.clear();
  for (auto it = request.session_items.rbegin(); it != request.session_items.rend(); ++it) {
    if (*it < 0 || *it >= num_items()) {
      response.unknown_items.push_back(*it);
      continue;
    }
    if (!category_.empty() && categories.size() < 3 &&
        std::find(categories.begin(), categories.end(), category_[*it]) == categories.end()) {
      categories.push_back(category_[*it]);
    }
  }
  std::reverse(response.unknown_items.begin(), response.unknown_items.end());
  const auto k = static_cast<std::size_t>(request.k);
  const auto in_session_category = [&](std::int32_t item) {
    return std::find(categories.begin(), categories.end(), category_[item]) != categories.end();
  };
  // First the best allowed items of the session's categories (each category's own ranking), merged
  // by score; then the overall ranking for the rest.
  std::vector<std::int32_t>& picked = scratch.picked;
  picked.clear();
  for (std::int32_t c : categories) {
    const std::size_t index = CategoryIndex(c);
    if (index >= category_ids_.size()) continue;
    std::size_t taken = 0;
    for (std::int64_t at = category_offsets_[index]; at < category_offsets_[index + 1] && taken < k; ++at) {
      const std::int32_t item = category_ranked_[static_cast<std::size_t>(at)];
      if (filter.Allows(item)) picked.push_back(item), ++taken;
    }
  }
  std::stable_sort(picked.begin(), picked.end(), [&](std::int32_t a, std::int32_t b) { return score_[a] > score_[b]; });
  for (std::size_t j = 0; j < picked.size() && response.items.size() < k; ++j) {
    response.items.push_back(picked[j]);
    response.scores.push_back(score_[picked[j]]);
    response.reasons.push_back({ReasonKind::kTrending, -1, 0, category_[picked[j]]});
  }
  for (std::int32_t item : ranked_) {
    if (response.items.size() >= k) break;
    if ((!categories.empty() && in_session_category(item)) || !filter.Allows(item)) continue;
    response.items.push_back(item);
    response.scores.push_back(score_[item]);
    response.reasons.push_back({ReasonKind::kTrending, -1, 0, -1});
  }
  StampReasons(response);
  return response;
}

absl::StatusOr<io::ModelFile> Popularity::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::PopularityConfig proto;
  proto.set_half_life_days(config_.half_life_days);
  for (float w : config_.kind_weights) proto.add_kind_weights(w);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("scores", score_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("item_category", category_));
  COMPTOIR_RETURN_IF_ERROR(AddTrainingEvents(training_events(), file));
  return file;
}

absl::StatusOr<std::unique_ptr<Popularity>> Popularity::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  PopularityConfig config;
  v1::PopularityConfig proto;
  COMPTOIR_ASSIGN_OR_RETURN(const bool has_config, ParseConfig(file, proto));
  if (has_config) {
    if (proto.kind_weights_size() != data::kNumEventKinds) return Corrupt("popularity config needs one kind weight per event kind");
    config.half_life_days = proto.half_life_days();
    std::copy(proto.kind_weights().begin(), proto.kind_weights().end(), config.kind_weights);
    COMPTOIR_RETURN_IF_ERROR(CheckConfig(file, config.Validate()));
  }
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<float> scores, file.Array<float>("scores"));
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<std::int32_t> category, file.Array<std::int32_t>("item_category"));
  if (scores.empty() || (!category.empty() && category.size() != scores.size()) ||
      std::any_of(scores.begin(), scores.end(), [](float s) { return !std::isfinite(s) || s < 0; })) {
    return Corrupt("popularity model arrays are inconsistent");
  }
  COMPTOIR_ASSIGN_OR_RETURN(const TrainingEvents events, ReadTrainingEvents(file));
  auto model = std::unique_ptr<Popularity>(new Popularity(std::move(scores), std::move(category), config));
  model->set_training_events(events);
  return model;
}

absl::Status CoPurchaseConfig::Validate() const {
  if (static_cast<int>(measure) < 0 || static_cast<int>(measure) > 2) return absl::InvalidArgumentError("unknown association measure");
  if (min_support < 1) return absl::InvalidArgumentError("min_support must be >= 1");
  if (max_neighbours < 1) return absl::InvalidArgumentError("max_neighbours must be >= 1");
  if (max_basket_size < 2) return absl::InvalidArgumentError("max_basket_size must be >= 2");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CoPurchase>> CoPurchase::Fit(const data::SessionsView& baskets, std::int32_t num_items,
                                                            const CoPurchaseConfig& config,
                                                            const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (num_items <= 0) return absl::InvalidArgumentError("num_items must be positive");
  if (baskets.offsets.empty() || baskets.offsets.back() != static_cast<std::int64_t>(baskets.items.size())) {
    return absl::InvalidArgumentError("basket offsets do not cover the items");
  }
  COMPTOIR_RETURN_IF_ERROR(CheckItems(baskets.items, num_items, "basket item"));
  // Every ordered pair of distinct items sharing a basket, grouped by the first item.
  std::vector<std::int64_t> basket_count(static_cast<std::size_t>(num_items), 0);
  std::vector<std::vector<std::int32_t>> partners(static_cast<std::size_t>(num_items));
  std::vector<std::int32_t> distinct;
  std::int64_t total_baskets = 0;
  for (std::int64_t b = 0; b < baskets.num_sessions(); ++b) {
    distinct.clear();
    for (std::int32_t item : baskets.SessionItems(b)) {
      if (std::find(distinct.begin(), distinct.end(), item) == distinct.end()) distinct.push_back(item);
      if (static_cast<std::int32_t>(distinct.size()) == config.max_basket_size) break;
    }
    if (distinct.empty()) continue;
    ++total_baskets;
    for (std::int32_t a : distinct) {
      ++basket_count[a];
      for (std::int32_t other : distinct) {
        if (other != a) partners[a].push_back(other);
      }
    }
  }
  auto model = std::unique_ptr<CoPurchase>(new CoPurchase());
  std::vector<std::vector<std::pair<std::int32_t, float>>> kept(static_cast<std::size_t>(num_items));
  std::vector<std::vector<std::int32_t>> kept_support(static_cast<std::size_t>(num_items));
  (void)internal::ParallelForChunks(options.num_threads, num_items, 256, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    std::vector<std::tuple<float, std::int32_t, std::int32_t>> scored;
    for (std::int64_t a = begin; a < end; ++a) {
      std::vector<std::int32_t>& list = partners[a];
      std::sort(list.begin(), list.end());
      scored.clear();
      for (std::size_t i = 0; i < list.size();) {
        std::size_t j = i;
        while (j < list.size() && list[j] == list[i]) ++j;
        const auto together = static_cast<std::int32_t>(j - i);
        const std::int32_t b = list[i];
        i = j;
        if (together < config.min_support) continue;
        const double na = static_cast<double>(basket_count[a]), nb = static_cast<double>(basket_count[b]);
        double value = 0;
        switch (config.measure) {
          case AssociationMeasure::kLift: value = together * static_cast<double>(total_baskets) / (na * nb); break;
          case AssociationMeasure::kCosine: value = together / std::sqrt(na * nb); break;
          case AssociationMeasure::kConfidence: value = together / na; break;
        }
        scored.emplace_back(static_cast<float>(value), b, together);
      }
      std::sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) {
        return std::get<0>(x) > std::get<0>(y) || (std::get<0>(x) == std::get<0>(y) && std::get<1>(x) < std::get<1>(y));
      });
      if (static_cast<std::int32_t>(scored.size()) > config.max_neighbours) scored.resize(static_cast<std::size_t>(config.max_neighbours));
      for (const auto& [value, b, together] : scored) {
        kept[a].emplace_back(b, value);
        kept_support[a].push_back(together);
      }
      std::vector<std::int32_t>().swap(list);
    }
  });
  for (std::int32_t a = 0; a < num_items; ++a) {
    for (std::size_t i = 0; i < kept[a].size(); ++i) {
      model->neighbours_.push_back(kept[a][i].first);
      model->association_.push_back(kept[a][i].second);
      model->support_.push_back(kept_support[a][i]);
    }
    model->offsets_.push_back(static_cast<std::int64_t>(model->neighbours_.size()));
  }
  model->config_ = config;
  return model;
}

std::vector<std::pair<std::int32_t, float>> CoPurchase::BoughtWith(std::int32_t item) const {
  std::vector<std::pair<std::int32_t, float>> out;
  if (item < 0 || item >= num_items()) return out;
  for (std::int64_t p = offsets_[item]; p < offsets_[item + 1]; ++p) out.emplace_back(neighbours_[p], association_[p]);
  return out;
}

namespace {

// Sums associations from the anchors into the accumulator; remembers the strongest anchor.
void Accumulate(const std::vector<std::int64_t>& offsets, const std::vector<std::int32_t>& neighbours,
                const std::vector<float>& association, const std::vector<std::int32_t>& support,
                const std::vector<std::int32_t>& anchors, Accumulator& scratch) {
  for (std::int32_t a : anchors) {
    for (std::int64_t p = offsets[a]; p < offsets[a + 1]; ++p) {
      const std::int32_t b = neighbours[p];
      if (scratch.score[b] == 0.0f) scratch.touched.push_back(b);
      scratch.score[b] += association[p];
      if (association[p] > scratch.best[b]) {
        scratch.best[b] = association[p];
        scratch.anchor[b] = a;
        scratch.support[b] = support[p];
      }
    }
  }
}

// Distinct known anchors from the most recent events: cart and purchase events when present.
void CollectAnchors(absl::Span<const std::int32_t> items, absl::Span<const data::EventKind> kinds, std::int32_t num_items,
                    std::vector<std::int32_t>& anchors, std::vector<std::int32_t>* unknown) {
  anchors.clear();
  const std::size_t first = items.size() > 50 ? items.size() - 50 : 0;
  bool any_cart = false;
  for (std::size_t i = first; i < items.size() && !kinds.empty(); ++i) {
    any_cart |= kinds[i] == data::EventKind::kCart || kinds[i] == data::EventKind::kPurchase;
  }
  for (std::size_t i = first; i < items.size(); ++i) {
    if (items[i] < 0 || items[i] >= num_items) {
      if (unknown != nullptr) unknown->push_back(items[i]);
      continue;
    }
    if (any_cart && kinds[i] != data::EventKind::kCart && kinds[i] != data::EventKind::kPurchase) continue;
    if (std::find(anchors.begin(), anchors.end(), items[i]) == anchors.end()) anchors.push_back(items[i]);
  }
}

}  // namespace

void CoPurchase::ScoreCandidates(absl::Span<const std::int32_t> session_items,
                                 std::vector<std::pair<std::int32_t, float>>& out) const {
  Accumulator& scratch = ThreadAccumulator();
  scratch.Fit(static_cast<std::size_t>(num_items()));
  CollectAnchors(session_items, {}, num_items(), scratch.anchors, nullptr);
  Accumulate(offsets_, neighbours_, association_, support_, scratch.anchors, scratch);
  DrainCandidates(scratch, out);
}

absl::StatusOr<RecommendResponse> CoPurchase::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, num_items()));
  Accumulator& scratch = ThreadAccumulator();
  scratch.Fit(static_cast<std::size_t>(num_items()));
  RecommendResponse response;
  CollectAnchors(request.session_items, request.session_kinds, num_items(), scratch.anchors, &response.unknown_items);
  Accumulate(offsets_, neighbours_, association_, support_, scratch.anchors, scratch);
  response = RankAccumulated(request, ReasonKind::kBoughtTogether, scratch, std::move(response));
  StampReasons(response);
  return response;
}

absl::StatusOr<io::ModelFile> CoPurchase::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::CoPurchaseConfig proto;
  proto.set_measure(static_cast<v1::AssociationMeasure>(config_.measure));
  proto.set_min_support(config_.min_support);
  proto.set_max_neighbours(config_.max_neighbours);
  proto.set_max_basket_size(config_.max_basket_size);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("offsets", offsets_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("neighbours", neighbours_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("association", association_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("support", support_));
  COMPTOIR_RETURN_IF_ERROR(AddTrainingEvents(training_events(), file));
  return file;
}

absl::StatusOr<std::unique_ptr<CoPurchase>> CoPurchase::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  auto model = std::unique_ptr<CoPurchase>(new CoPurchase());
  v1::CoPurchaseConfig proto;
  COMPTOIR_ASSIGN_OR_RETURN(const bool has_config, ParseConfig(file, proto));
  if (has_config) {
    model->config_.measure = static_cast<AssociationMeasure>(proto.measure());
    model->config_.min_support = proto.min_support();
    model->config_.max_neighbours = proto.max_neighbours();
    model->config_.max_basket_size = proto.max_basket_size();
    COMPTOIR_RETURN_IF_ERROR(CheckConfig(file, model->config_.Validate()));
  }
  COMPTOIR_ASSIGN_OR_RETURN(model->offsets_, file.Array<std::int64_t>("offsets"));
  COMPTOIR_ASSIGN_OR_RETURN(model->neighbours_, file.Array<std::int32_t>("neighbours"));
  COMPTOIR_ASSIGN_OR_RETURN(model->association_, file.Array<float>("association"));
  COMPTOIR_ASSIGN_OR_RETURN(model->support_, file.Array<std::int32_t>("support"));
  const auto n = static_cast<std::int64_t>(model->offsets_.size()) - 1;
  const bool consistent =
      n >= 1 && model->offsets_.front() == 0 && std::is_sorted(model->offsets_.begin(), model->offsets_.end()) &&
      model->offsets_.back() == static_cast<std::int64_t>(model->neighbours_.size()) &&
      model->association_.size() == model->neighbours_.size() && model->support_.size() == model->neighbours_.size() &&
      std::all_of(model->neighbours_.begin(), model->neighbours_.end(), [&](std::int32_t b) { return b >= 0 && b < n; });
  if (!consistent) return Corrupt("co_purchase model arrays are inconsistent");
  COMPTOIR_ASSIGN_OR_RETURN(const TrainingEvents events, ReadTrainingEvents(file));
  model->set_training_events(events);
  return model;
}

absl::Status SequentialRulesConfig::Validate() const {
  if (max_steps < 1) return absl::InvalidArgumentError("max_steps must be >= 1");
  if (max_neighbours < 1) return absl::InvalidArgumentError("max_neighbours must be >= 1");
  if (session_items < 1) return absl::InvalidArgumentError("session_items must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SequentialRules>> SequentialRules::Fit(const data::SessionsView& sessions,
                                                                      std::int32_t num_items,
                                                                      const SequentialRulesConfig& config,
                                                                      const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (num_items <= 0) return absl::InvalidArgumentError("num_items must be positive");
  if (sessions.offsets.empty() || sessions.offsets.back() != static_cast<std::int64_t>(sessions.items.size())) {
    return absl::InvalidArgumentError("session offsets do not cover the items");
  }
  COMPTOIR_RETURN_IF_ERROR(CheckItems(sessions.items, num_items, "session item"));
  // (follower, 1/steps) occurrences grouped by the earlier item.
  std::vector<std::vector<std::pair<std::int32_t, float>>> followers(static_cast<std::size_t>(num_items));
  for (std::int64_t s = 0; s < sessions.num_sessions(); ++s) {
    const absl::Span<const std::int32_t> session = sessions.SessionItems(s);
    for (std::size_t i = 0; i < session.size(); ++i) {
      for (std::size_t j = i + 1; j < session.size() && j - i <= static_cast<std::size_t>(config.max_steps); ++j) {
        if (session[j] != session[i]) followers[session[i]].emplace_back(session[j], 1.0f / static_cast<float>(j - i));
      }
    }
  }
  auto model = std::unique_ptr<SequentialRules>(new SequentialRules());
  model->config_ = config;
  std::vector<std::vector<std::tuple<float, std::int32_t, std::int32_t>>> kept(static_cast<std::size_t>(num_items));
  (void)internal::ParallelForChunks(options.num_threads, num_items, 256, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    for (std::int64_t a = begin; a < end; ++a) {
      auto& list = followers[a];
      std::sort(list.begin(), list.end());
      auto& rules = kept[a];
      for (std::size_t i = 0; i < list.size();) {
        std::size_t j = i;
        float weight = 0.0f;
        while (j < list.size() && list[j].first == list[i].first) weight += list[j++].second;
        rules.emplace_back(weight, list[i].first, static_cast<std::int32_t>(j - i));
        i = j;
      }
      std::sort(rules.begin(), rules.end(), [](const auto& x, const auto& y) {
        return std::get<0>(x) > std::get<0>(y) || (std::get<0>(x) == std::get<0>(y) && std::get<1>(x) < std::get<1>(y));
      });
      if (static_cast<std::int32_t>(rules.size()) > config.max_neighbours) rules.resize(static_cast<std::size_t>(config.max_neighbours));
      std::vector<std::pair<std::int32_t, float>>().swap(list);
    }
  });
  for (std::int32_t a = 0; a < num_items; ++a) {
    for (const auto& [weight, b, support] : kept[a]) {
      model->next_.push_back(b);
      model->weight_.push_back(weight);
      model->support_.push_back(support);
    }
    model->offsets_.push_back(static_cast<std::int64_t>(model->next_.size()));
  }
  return model;
}

namespace {

// The most recent `count` distinct known items, most recent first, weighted 1 / age.
void RecentAnchors(absl::Span<const std::int32_t> items, std::int32_t num_items, std::int32_t count,
                   std::vector<std::int32_t>& anchors, std::vector<std::int32_t>* unknown) {
  anchors.clear();
  for (auto it = items.rbegin(); it != items.rend() && static_cast<std::int32_t>(anchors.size()) < count; ++it) {
    if (*it < 0 || *it >= num_items) {
      if (unknown != nullptr) unknown->push_back(*it);
      continue;
    }
    if (std::find(anchors.begin(), anchors.end(), *it) == anchors.end()) anchors.push_back(*it);
  }
}

void AccumulateRules(const std::vector<std::int64_t>& offsets, const std::vector<std::int32_t>& next,
                     const std::vector<float>& weight, const std::vector<std::int32_t>& support, Accumulator& scratch) {
  for (std::size_t age = 0; age < scratch.anchors.size(); ++age) {
    const std::int32_t a = scratch.anchors[age];
    const float decay = 1.0f / static_cast<float>(age + 1);
    for (std::int64_t p = offsets[a]; p < offsets[a + 1]; ++p) {
      const std::int32_t b = next[p];
      const float contribution = weight[p] * decay;
      if (scratch.score[b] == 0.0f) scratch.touched.push_back(b);
      scratch.score[b] += contribution;
      if (contribution > scratch.best[b]) {
        scratch.best[b] = contribution;
        scratch.anchor[b] = a;
        scratch.support[b] = support[p];
      }
    }
  }
}

}  // namespace

void SequentialRules::ScoreCandidates(absl::Span<const std::int32_t> session_items,
                                      std::vector<std::pair<std::int32_t, float>>& out) const {
  Accumulator& scratch = ThreadAccumulator();
  scratch.Fit(static_cast<std::size_t>(num_items()));
  RecentAnchors(session_items, num_items(), config_.session_items, scratch.anchors, nullptr);
  AccumulateRules(offsets_, next_, weight_, support_, scratch);
  DrainCandidates(scratch, out);
}

absl::StatusOr<RecommendResponse> SequentialRules::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, num_items()));
  Accumulator& scratch = ThreadAccumulator();
  scratch.Fit(static_cast<std::size_t>(num_items()));
  RecommendResponse response;
  RecentAnchors(request.session_items, num_items(), config_.session_items, scratch.anchors, &response.unknown_items);
  AccumulateRules(offsets_, next_, weight_, support_, scratch);
  response = RankAccumulated(request, ReasonKind::kCoVisited, scratch, std::move(response));
  StampReasons(response);
  return response;
}

absl::StatusOr<io::ModelFile> SequentialRules::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::SequentialRulesConfig proto;
  proto.set_max_steps(config_.max_steps);
  proto.set_max_neighbours(config_.max_neighbours);
  proto.set_session_items(config_.session_items);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("offsets", offsets_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("next", next_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("weight", weight_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("support", support_));
  COMPTOIR_RETURN_IF_ERROR(AddTrainingEvents(training_events(), file));
  return file;
}

absl::StatusOr<std::unique_ptr<SequentialRules>> SequentialRules::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  auto model = std::unique_ptr<SequentialRules>(new SequentialRules());
  v1::SequentialRulesConfig proto;
  COMPTOIR_ASSIGN_OR_RETURN(const bool has_config, ParseConfig(file, proto));
  if (has_config) {
    model->config_.max_steps = proto.max_steps();
    model->config_.max_neighbours = proto.max_neighbours();
    model->config_.session_items = proto.session_items();
  } else {
    // Files before configs were stored kept only the serving setting, in a "settings" array.
    COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int32_t> settings, file.Array<std::int32_t>("settings"));
    if (settings.size() != 1) return Corrupt("sequential_rules settings are inconsistent");
    model->config_.session_items = settings[0];
  }
  COMPTOIR_RETURN_IF_ERROR(CheckConfig(file, model->config_.Validate()));
  COMPTOIR_ASSIGN_OR_RETURN(model->offsets_, file.Array<std::int64_t>("offsets"));
  COMPTOIR_ASSIGN_OR_RETURN(model->next_, file.Array<std::int32_t>("next"));
  COMPTOIR_ASSIGN_OR_RETURN(model->weight_, file.Array<float>("weight"));
  COMPTOIR_ASSIGN_OR_RETURN(model->support_, file.Array<std::int32_t>("support"));
  const auto n = static_cast<std::int64_t>(model->offsets_.size()) - 1;
  const bool consistent =
      n >= 1 && model->offsets_.front() == 0 &&
      std::is_sorted(model->offsets_.begin(), model->offsets_.end()) &&
      model->offsets_.back() == static_cast<std::int64_t>(model->next_.size()) &&
      model->weight_.size() == model->next_.size() && model->support_.size() == model->next_.size() &&
      std::all_of(model->next_.begin(), model->next_.end(), [&](std::int32_t b) { return b >= 0 && b < n; });
  if (!consistent) return Corrupt("sequential_rules model arrays are inconsistent");
  COMPTOIR_ASSIGN_OR_RETURN(const TrainingEvents events, ReadTrainingEvents(file));
  model->set_training_events(events);
  return model;
}

}  // namespace comptoir::recommend
