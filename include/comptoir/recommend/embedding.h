// Item embeddings as a recommender: the live session, encoded by recency and event kind (and
// blended with a known user's long-term profile), retrieves the closest items; each comes with
// the session item it is most similar to as its reason.
//
// Thread safety: Recommend, ScoreCandidates, profile_users and ToModelFile may run on any number
// of threads while others call SetUserHistory and ForgetUser. The profile table sits behind a
// reader/writer lock that a request holds only to blend one profile into its query (O(dim)),
// and only when it names a user; writers encode the profile before taking the lock. A
// copy-on-write table swapped atomically would take no lock on reads but copy every profile on
// each write, which a service setting histories online cannot afford.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "comptoir/embed/item2vec.h"
#include "comptoir/io/model_file.h"
#include "comptoir/recommend/recommender.h"

namespace comptoir::recommend {

class EmbeddingRecommender final : public Recommender {
 public:
  static constexpr const char* kModelKind = "embedding_recommender";

  EmbeddingRecommender(std::shared_ptr<const embed::Item2Vec> embeddings, const embed::SessionEncoderConfig& encoder);

  std::int32_t num_items() const override { return embeddings_->num_items(); }
  const embed::Item2Vec& embeddings() const { return *embeddings_; }
  const std::shared_ptr<const embed::Item2Vec>& shared_embeddings() const { return embeddings_; }
  const embed::SessionEncoderConfig& config() const { return encoder_; }
  // Users with a long-term profile (dense ids, ascending).
  std::vector<std::int32_t> profile_users() const;

  // A user's earlier items (oldest first) become their long-term profile, replacing any earlier
  // one; unknown items are InvalidArgument.
  absl::Status SetUserHistory(std::int32_t user, absl::Span<const std::int32_t> items);
  // Erases the user's long-term profile (their requests become session-only); returns 1 if
  // there was one, else 0.
  std::int64_t ForgetUser(std::int32_t user) override;

  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  // Cosine scores of every item seen in training (a dense scorer).
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<std::unique_ptr<EmbeddingRecommender>> FromModelFile(const io::ModelFile& file);

 private:
  // Encodes the known items of a session into `query`; returns false when none carries weight.
  bool Encode(absl::Span<const std::int32_t> items, absl::Span<const data::EventKind> kinds,
              std::vector<std::int32_t>& known, std::vector<data::EventKind>& known_kinds,
              std::vector<std::int32_t>* unknown, std::vector<float>& query) const;

  std::shared_ptr<const embed::Item2Vec> embeddings_;
  embed::SessionEncoderConfig encoder_;
  // std::shared_mutex rather than absl::Mutex: it is a pthread rwlock, which ThreadSanitizer
  // understands even when Abseil was built without it (as Debian's is).
  mutable std::shared_mutex profiles_mutex_;
  std::unordered_map<std::int32_t, std::vector<float>> profiles_;  // normalised, per user; under profiles_mutex_
};

}  // namespace comptoir::recommend
