// The next-item evaluation protocol, written once for every model: replay each test session,
// predict the next item from every prefix, and score the rank of the item that came next.
// Ties count against the model: the target's rank is the number of candidates scoring at least
// as high as it, and items a model cannot score share the lowest score, so no model gains from
// ties or from returning fewer than k items.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "comptoir/options.h"
#include "comptoir/recommend/recommender.h"

namespace comptoir::eval {

struct NextItemMetrics {
  std::int32_t k = 20;
  std::int64_t predictions = 0;
  double hit_rate = 0;         // HR@k: target ranked within k
  double mrr = 0;              // MRR@k: 1 / rank when within k, else 0
  double ndcg = 0;             // NDCG@k: 1 / log2(rank + 1) when within k, else 0
  double coverage = 0;         // share of the catalogue appearing in any top-k list
  double popularity_bias = 0;  // mean popularity (training frequency / max frequency) of recommended items
};

// `item_popularity` (training frequency per item, may be empty) feeds popularity_bias.
// Prefixes longer than max_prefix keep their most recent max_prefix items (0 = whole prefix).
absl::StatusOr<NextItemMetrics> EvaluateNextItem(const recommend::Recommender& model,
                                                 const data::SessionsView& test_sessions,
                                                 std::int32_t k,
                                                 absl::Span<const std::int64_t> item_popularity,
                                                 const ExecutionOptions& options,
                                                 std::int32_t max_prefix = 0);

// Rank of `target` among scored candidates by the tie rule above (1 = best); num_items when it
// was not scored (every unscored item shares the lowest score, so all of them tie with it).
std::int64_t TieAwareRank(const std::vector<std::pair<std::int32_t, float>>& candidates,
                          std::int32_t target, std::int32_t num_items);

}  // namespace comptoir::eval
