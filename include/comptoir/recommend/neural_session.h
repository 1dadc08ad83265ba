// A neural session encoder trained in C++: the live session's last items, as normalised item
// vectors plus reverse-position vectors, are read out by a soft attention whose query is the
// last item (SR-GNN's readout, NARM/STAMP's "global and last" split), combined with the last item
// and normalised; items score by their scaled cosine to that session vector (NISER), trained
// with a sampled softmax over shared popularity negatives corrected by their sampling
// probability (or the full softmax). Every prefix of every training session is an example.
// Why this network: it is the readout graph networks put on top of their graph layers, without
// the per-session graph; on DIGINETICA it scores above NARM and SR-GNN (benchmarks/README.md).
//
// Training is deterministic for a seed whatever the thread count: batches split into fixed
// chunks whose gradients are reduced in chunk order, every matrix product element summed in a
// fixed order. Each epoch reports its loss and validation HR@20 / MRR@20 through the progress
// callback's stage text and in history(); training stops when validation MRR@20 has not improved
// for `patience` epochs and keeps the best epoch's parameters. A non-finite loss restores the
// last good epoch with half the learning rate (said in the log and in history()).
//
// Serving: one session is encoded in O(max_session_length * dim^2); below `ivf_min_items` items a
// scan of half-precision item copies picks candidates that are rescored in float, from there on
// an IVF index over the normalised item vectors retrieves them.
// Scores are exp(scale * (cosine - 1)): the softmax probability up to the session's normaliser
// (1 for an item pointing exactly along the session vector). A reason names the session item
// whose part of the session vector contributed most to the item's score ("because you viewed X"). Thread safety: as EmbeddingRecommender (profiles behind
// a reader/writer lock, the network immutable after training).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/data/events.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/recommend/recommender.h"
#include "comptoir/retrieval/vector_index.h"

namespace comptoir::recommend {

struct NeuralSessionConfig {
  std::int32_t dim = 96;
  std::int32_t max_session_length = 20;  // the most recent items encoded (and position vectors)
  float scale = 12.0f;                   // tau: scores are tau * cosine(session, item)
  std::int32_t num_negatives = 2048;     // shared sampled negatives per batch; 0 = full softmax
  double negative_exponent = 0.75;       // negatives drawn from target counts^exponent
  std::int32_t batch_size = 512;
  float learning_rate = 1e-3f;           // Adam; the item table takes lazy (touched-rows) Adam steps
  float learning_rate_decay = 1.0f;      // the rate is multiplied by this after every epoch (0, 1]
  std::int32_t epochs = 10;              // at most
  std::int32_t patience = 2;             // epochs without validation gain before stopping; 0 = run all
  // Training only: the share of each input item vector's entries zeroed per example (the rest
  // scaled by 1 / (1 - dropout)), in [0, 1); serving never drops.
  float dropout = 0.0f;
  // With validation sessions: once they have chosen the epoch, train again from the same start
  // on the training and validation sessions together for that many epochs (the held-out sessions
  // are usually the latest ones, the closest to what is served next: +2.7 points of HR@20 on
  // DIGINETICA, benchmarks/README.md). history() lists both runs.
  bool refit = true;
  // A known user's long-term signals (see SetUserHistory), both serving choices: the weight of
  // their profile vector in the query (0..1), and the logit bonus of the items they had before
  // (re-purchase and re-visit: on Online Retail's returning customers the bonus adds 9 points of
  // HR@20, the profile vector nothing; benchmarks/README.md).
  float profile_weight = 0.0f;
  float repeat_boost = 2.0f;
  std::int64_t ivf_min_items = 1'000'000;  // catalogues this large are served from an IVF index

  absl::Status Validate() const;
};

// One training epoch as history() and the progress callback report it.
struct NeuralSessionEpoch {
  std::int32_t epoch = 0;          // 1-based
  double loss = 0;                 // mean training loss
  double validation_hit_rate = -1; // HR@20 on the validation prefixes; -1 without validation
  double validation_mrr = -1;      // MRR@20
  double seconds = 0;              // training time, validation excluded
  float learning_rate = 0;
  bool restarted = false;          // the epoch diverged and was rerun from the last good one
  bool refit = false;              // an epoch of the final run on training + validation sessions
};

class NeuralSession final : public Recommender {
 public:
  static constexpr const char* kModelKind = "neural_session";

  // Trains on every prefix of `sessions` (dense items in [0, num_items)); `validation` (may be
  // empty) picks the epoch and stops training early (then, with config.refit, the network is
  // retrained on both for the chosen number of epochs). Validation with no prefix whose items the
  // training saw is InvalidArgument.
  static absl::StatusOr<std::unique_ptr<NeuralSession>> Fit(const data::SessionsView& sessions,
                                                            const data::SessionsView& validation,
                                                            std::int32_t num_items,
                                                            const NeuralSessionConfig& config,
                                                            const ExecutionOptions& options);
  ~NeuralSession() override;

  std::int32_t num_items() const override;
  const NeuralSessionConfig& config() const;
  const std::vector<NeuralSessionEpoch>& history() const;
  // 1 for items seen in training (only they are recommended).
  absl::Span<const std::uint8_t> seen() const;
  // Row-major num_items x dim normalised item vectors (zero for unseen items).
  absl::Span<const float> item_vectors() const;

  // The session vector (dim floats, unit length) of the session's known items; all zero when
  // none is known. Out-of-range ids are InvalidArgument.
  absl::Status EncodeSession(absl::Span<const std::int32_t> items, absl::Span<float> out) const;

  // A user's earlier items (oldest first, e.g. their previous sessions) become their long-term
  // profile: the encoder's vector of their last max_session_length known items (blended into
  // their queries with profile_weight) and the set of their most recent kMaxProfileItems known
  // items (each scored with repeat_boost added to its logit). Replaces any earlier profile.
  static constexpr std::int32_t kMaxProfileItems = 1000;
  absl::Status SetUserHistory(std::int32_t user, absl::Span<const std::int32_t> items);
  std::int64_t ForgetUser(std::int32_t user) override;
  std::vector<std::int32_t> profile_users() const;
  // How much a known user's profile weighs in their queries, changeable while serving (a
  // serving choice, not a trained one; saved with the model). Outside [0, 1] is InvalidArgument.
  float profile_weight() const { return profile_weight_.load(std::memory_order_relaxed); }
  absl::Status set_profile_weight(float weight);
  float repeat_boost() const { return repeat_boost_.load(std::memory_order_relaxed); }
  absl::Status set_repeat_boost(float boost);  // finite and >= 0

  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  // The score of every seen item for the session (a dense scorer).
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<std::unique_ptr<NeuralSession>> FromModelFile(const io::ModelFile& file);

  struct State;  // the network and its serving tables (src/recommend/neural_session_network.h)

 private:
  explicit NeuralSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
  std::atomic<float> profile_weight_;
  std::atomic<float> repeat_boost_;
  struct Profile {
    std::vector<float> vector;        // unit length (zero when no item was known)
    std::vector<std::int32_t> items;  // the earlier known items, ascending
  };
  mutable std::shared_mutex profiles_mutex_;
  std::unordered_map<std::int32_t, Profile> profiles_;  // under profiles_mutex_
};

}  // namespace comptoir::recommend
