// item2vec: skip-gram with negative sampling over sessions (items that appear near each other in
// sessions get similar vectors), plus the session encoder that turns a live session, and a known
// user's history, into a query vector for retrieval.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/data/events.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/retrieval/vector_index.h"

namespace comptoir::embed {

struct Item2VecConfig {
  std::int32_t dim = 64;
  std::int32_t window = 5;        // max distance between a centre item and its context
  std::int32_t negative = 5;      // negative samples per positive pair
  std::int32_t epochs = 10;
  float learning_rate = 0.025f;   // linearly decayed to min_learning_rate
  float min_learning_rate = 1e-4f;
  double subsample = 1e-3;        // word2vec's `sample`: down-weights very popular items
  double ns_exponent = 0.75;      // negative sampling from counts^ns_exponent
  // Training runs on fixed shards whose updates are merged in shard order after every sync round,
  // so results are bit-identical for a seed whatever num_threads is. Memory: num_shards copies
  // of the two embedding matrices.
  std::int32_t num_shards = 4;
  // Per epoch. Each round ends in a merge and a wait for its slowest shard; on DIGINETICA 4, 8 and
  // 16 rounds trained equally well, and 8 took 2% to a fifth less time than 16.
  std::int32_t sync_rounds = 8;
  // Opt-in lock-free updates (word2vec's own scheme): faster, but not reproducible.
  bool hogwild = false;

  absl::Status Validate() const;
};

// How a session (and a user's history) becomes one query vector.
struct SessionEncoderConfig {
  // Weight of the event i positions before the last: recency_decay^i.
  float recency_decay = 0.8f;
  // Weight per data::EventKind: view, cart, purchase, remove-from-cart, return.
  float kind_weights[data::kNumEventKinds] = {1.0f, 2.0f, 2.0f, 0.25f, 0.0f};
  // Only the most recent events count: bounded work for huge sessions.
  std::int32_t max_events = 50;
  // Weight of the user's long-term profile when blending it with the session (0..1).
  float profile_weight = 0.2f;  // chosen on Online Retail (benchmarks/profile.py)

  absl::Status Validate() const;
};

class Item2Vec {
 public:
  static constexpr const char* kModelKind = "item2vec";

  // Trains on the sessions' item sequences; items are dense ids in [0, num_items).
  static absl::StatusOr<Item2Vec> Fit(const data::SessionsView& sessions, std::int32_t num_items,
                                      const Item2VecConfig& config,
                                      const ExecutionOptions& options);

  std::int32_t num_items() const { return num_items_; }
  std::int32_t dim() const { return config_.dim; }
  const Item2VecConfig& config() const { return config_; }
  // Row-major num_items x dim item vectors (items never seen in training are zero).
  absl::Span<const float> vectors() const { return vectors_; }
  absl::Span<const std::int64_t> item_counts() const { return item_counts_; }

  // 1 for items seen in training: only they have embeddings worth returning.
  absl::Span<const std::uint8_t> seen() const { return seen_; }

  // Cosine neighbours of `item` among the seen items (itself excluded).
  absl::Status SimilarItems(std::int32_t item, int k, std::vector<retrieval::ScoredId>& out) const;

  // Writes the weighted mean of the session's item vectors into `out` (dim floats, L2-normalised;
  // all zero when no event carries weight). Unknown item ids are InvalidArgument.
  absl::Status EncodeSession(absl::Span<const std::int32_t> items,
                             absl::Span<const data::EventKind> kinds,
                             const SessionEncoderConfig& config, absl::Span<float> out) const;

  // Blends a session vector with a long-term profile vector in place (both normalised), so a
  // returning user's tastes shape the query while the live session dominates.
  static void BlendWithProfile(absl::Span<const float> profile, float profile_weight,
                               absl::Span<float> session_vector);

  const retrieval::VectorIndex& index() const { return *index_; }

  absl::StatusOr<io::ModelFile> ToModelFile() const;
  static absl::StatusOr<Item2Vec> FromModelFile(const io::ModelFile& file);

 private:
  Item2Vec(Item2VecConfig config, std::int32_t num_items, std::vector<float> vectors,
           std::vector<std::int64_t> item_counts, std::unique_ptr<retrieval::VectorIndex> index)
      : config_(config),
        num_items_(num_items),
        vectors_(std::move(vectors)),
        item_counts_(std::move(item_counts)),
        index_(std::move(index)) {
    seen_.reserve(item_counts_.size());
    for (std::int64_t count : item_counts_) seen_.push_back(count > 0);
  }

  Item2VecConfig config_;
  std::int32_t num_items_ = 0;
  std::vector<float> vectors_;
  std::vector<std::int64_t> item_counts_;
  std::vector<std::uint8_t> seen_;
  std::shared_ptr<const retrieval::VectorIndex> index_;
};

}  // namespace comptoir::embed
