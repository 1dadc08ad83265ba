#include "comptoir/eval/next_item.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"

namespace comptoir::eval {
namespace {

struct Partial {
  std::int64_t predictions = 0;
  double hits = 0, reciprocal_rank = 0, ndcg = 0, popularity = 0;
  std::int64_t recommended = 0;
};

}  // namespace

std::int64_t TieAwareRank(const std::vector<std::pair<std::int32_t, float>>& candidates,
                          std::int32_t target, std::int32_t num_items) {
  const auto found = std::find_if(candidates.begin(), candidates.end(),
                                  [&](const auto& c) { return c.first == target; });
  if (found == candidates.end()) return num_items;
  const float target_score = found->second;
  return std::count_if(candidates.begin(), candidates.end(),
                       [&](const auto& c) { return c.second >= target_score; });
}

absl::StatusOr<NextItemMetrics> EvaluateNextItem(const recommend::Recommender& model,
                                                 const data::SessionsView& test_sessions,
                                                 std::int32_t k,
                                                 absl::Span<const std::int64_t> item_popularity,
                                                 const ExecutionOptions& options,
                                                 std::int32_t max_prefix) {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k must be positive, got ", k));
  if (max_prefix < 0) return absl::InvalidArgumentError("max_prefix must be >= 0");
  const std::int32_t num_items = model.num_items();
  if (!item_popularity.empty() && static_cast<std::int64_t>(item_popularity.size()) != num_items) {
    return absl::InvalidArgumentError(absl::StrCat("item_popularity has ", item_popularity.size(), " entries for ", num_items, " items"));
  }
  const std::int64_t sessions = test_sessions.num_sessions();
  if (test_sessions.offsets.empty() || test_sessions.offsets.back() != static_cast<std::int64_t>(test_sessions.items.size())) {
    return absl::InvalidArgumentError("test session offsets do not cover the items");
  }
  const std::int64_t max_popularity =
      item_popularity.empty() ? 1 : std::max<std::int64_t>(1, *std::max_element(item_popularity.begin(), item_popularity.end()));

  constexpr std::int64_t kChunk = 256;
  const std::int64_t chunks = internal::NumChunks(sessions, kChunk);
  std::vector<Partial> partials(static_cast<std::size_t>(chunks));
  // Per chunk, the distinct items it recommended (a flag array per chunk would not scale to
  // million-item catalogues).
  std::vector<std::vector<std::int32_t>> recommended_items(static_cast<std::size_t>(chunks));
  ProgressReporter progress(options.progress, sessions, "evaluate next item");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, sessions, kChunk,
      [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
        Partial& p = partials[chunk];
        std::vector<std::int32_t>& shown_items = recommended_items[chunk];
        std::vector<std::pair<std::int32_t, float>> candidates;
        for (std::int64_t s = begin; s < end; ++s) {
          const absl::Span<const std::int32_t> session = test_sessions.SessionItems(s);
          for (std::size_t t = 1; t < session.size(); ++t) {
            const std::size_t start = max_prefix > 0 && t > static_cast<std::size_t>(max_prefix) ? t - max_prefix : 0;
            model.ScoreCandidates(session.subspan(start, t - start), candidates);
            const std::int64_t rank = TieAwareRank(candidates, session[t], num_items);
            ++p.predictions;
            if (rank <= k) {
              p.hits += 1;
              p.reciprocal_rank += 1.0 / static_cast<double>(rank);
              p.ndcg += 1.0 / std::log2(static_cast<double>(rank) + 1.0);
            }
            // The list a shopper would see: best k, ties to the smaller id.
            const std::size_t shown = std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(k));
            std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(shown), candidates.end(),
                              [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
            for (std::size_t i = 0; i < shown; ++i) {
              const std::int32_t item = candidates[i].first;
              if (item < 0 || item >= num_items) continue;
              shown_items.push_back(item);
              if (!item_popularity.empty()) p.popularity += static_cast<double>(item_popularity[item]) / static_cast<double>(max_popularity);
              ++p.recommended;
            }
          }
          std::sort(shown_items.begin(), shown_items.end());
          shown_items.erase(std::unique(shown_items.begin(), shown_items.end()), shown_items.end());
        }
      },
      &progress));
  Partial total;
  std::vector<std::uint8_t> covered(static_cast<std::size_t>(num_items), 0);
  for (std::size_t c = 0; c < partials.size(); ++c) {
    total.predictions += partials[c].predictions;
    total.hits += partials[c].hits;
    total.reciprocal_rank += partials[c].reciprocal_rank;
    total.ndcg += partials[c].ndcg;
    total.popularity += partials[c].popularity;
    total.recommended += partials[c].recommended;
    for (std::int32_t item : recommended_items[c]) covered[item] = 1;
  }
  NextItemMetrics metrics;
  metrics.k = k;
  metrics.predictions = total.predictions;
  if (total.predictions > 0) {
    const auto n = static_cast<double>(total.predictions);
    metrics.hit_rate = total.hits / n;
    metrics.mrr = total.reciprocal_rank / n;
    metrics.ndcg = total.ndcg / n;
  }
  metrics.coverage = static_cast<double>(std::count(covered.begin(), covered.end(), 1)) / std::max(1, num_items);
  metrics.popularity_bias = total.recommended > 0 ? total.popularity / static_cast<double>(total.recommended) : 0.0;
  return metrics;
}

}  // namespace comptoir::eval
