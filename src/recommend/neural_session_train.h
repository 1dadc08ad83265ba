// Training internals of the neural session recommender, shared with its tests.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/data/events.h"
#include "comptoir/recommend/neural_session.h"
#include "recommend/neural_session_network.h"

namespace comptoir::recommend::neural {

// Session prefixes predicting their next item: example e encodes Context(e) (at most max_len
// items, oldest first) and predicts targets[e].
struct Examples {
  std::vector<std::int64_t> offsets;
  std::vector<std::int32_t> context;
  std::vector<std::int32_t> targets;
  std::int64_t skipped = 0;  // prefixes with no known item (misses when evaluating)

  std::int64_t size() const { return static_cast<std::int64_t>(targets.size()); }
  absl::Span<const std::int32_t> Context(std::int64_t e) const;
};

// Every prefix of every session; with `known` non-empty, unknown items are left out of contexts.
Examples Prefixes(const data::SessionsView& sessions, std::int32_t max_len, absl::Span<const std::uint8_t> known);

struct Metrics {
  double hit_rate = 0;  // HR@20
  double mrr = 0;       // MRR@20
};

// HR@20 and MRR@20 over the examples against every seen item, ties counted against the target
// (its rank is the number of items scoring at least as high); unseen targets are misses.
Metrics Evaluate(const Network& net, absl::Span<const std::uint8_t> seen, const Examples& examples, int num_threads);

// One batch's mean loss and gradient exactly as a training step computes them (the candidates
// drawn for `batch_key`), before the optimiser uses them: for the gradient checks.
struct BatchGradient {
  double loss = 0;
  std::vector<float> dense;          // DenseLayout
  std::vector<std::int32_t> items;   // the items with a gradient row
  std::vector<float> item_rows;      // items.size() x dim
};
BatchGradient ComputeBatchGradient(const Network& net, const Examples& examples, absl::Span<const std::int64_t> batch,
                                   std::vector<std::int64_t> target_counts, const NeuralSessionConfig& config,
                                   const ExecutionOptions& options, std::uint64_t batch_key);

struct TrainedNetwork {
  Network net;
  std::vector<std::int64_t> counts;  // occurrences per item in the training sessions
  std::vector<NeuralSessionEpoch> history;
  std::int32_t best_epoch = 0;       // the epoch whose network this is
};

absl::StatusOr<TrainedNetwork> Train(const data::SessionsView& sessions, const data::SessionsView& validation,
                                     std::int32_t num_items, const NeuralSessionConfig& config,
                                     const ExecutionOptions& options, bool refit = false);

}  // namespace comptoir::recommend::neural
