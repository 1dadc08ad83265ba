// Session nearest neighbours: one configurable engine covering V-SKNN, VMIS-kNN (bol.com's
// Serenade) and STAN's decays. A live session's items retrieve, through per-item lists of the
// `sample_size` most recent sessions containing them, candidate neighbour sessions; the `k` most
// similar ones vote for their items. Names follow the papers:
//   Ludewig & Jannach 2018 (V-SKNN), Garg et al. 2019 (STAN), Kersbergen et al. 2022 (VMIS-kNN).
//
// Thread safety: Recommend, ScoreCandidates, num_sessions and ToModelFile run concurrently with
// AddSession and Forget. The index sits behind a reader/writer lock: requests share it for their
// whole scoring pass (they read item lists that a write reorders or compacts), writers take it
// alone for an append or an erase, which costs O(session) or O(index) once per call.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/recommend/recommender.h"

namespace comptoir::recommend {

enum class PositionDecay : std::int32_t {
  kNone = 0,
  kLinear = 1,       // V-SKNN / VMIS: weight i / n for the i-th of n session items
  kExponential = 2,  // STAN: exp((i - n) / lambda_spw)
};

struct SessionKnnConfig {
  std::int32_t k = 100;             // neighbour sessions that vote
  std::int32_t sample_size = 500;   // m: most recent sessions kept per item (VMIS-kNN)
  PositionDecay position_decay = PositionDecay::kLinear;
  float lambda_spw = 1.0f;          // STAN: position-in-session decay (events)
  float lambda_snh = 0.0f;          // STAN: neighbour recency decay in days (0 = off)
  float lambda_inh = 0.0f;          // STAN: position-in-neighbour decay (events; 0 = off)
  bool idf_weighting = true;        // weight items' votes by log(sessions / sessions with item)
  std::int32_t max_session_length = 50;  // only the most recent events of a live session count
  std::int64_t max_sessions = 0;    // online memory bound: oldest sessions evicted (0 = unbounded)

  absl::Status Validate() const;
};

struct TrainingSessions {
  data::SessionsView sessions;          // items per session, oldest first
  absl::Span<const std::int64_t> session_timestamps;  // per session (its last event); empty = index order
  absl::Span<const std::int32_t> session_users;       // per session; empty = anonymous
};

class SessionKnn final : public Recommender {
 public:
  static constexpr const char* kModelKind = "session_knn";

  static absl::StatusOr<std::unique_ptr<SessionKnn>> Fit(const TrainingSessions& training,
                                                         std::int32_t num_items,
                                                         const SessionKnnConfig& config);
  ~SessionKnn() override;

  std::int32_t num_items() const override;
  const SessionKnnConfig& config() const;
  std::int64_t num_sessions() const;

  absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const override;
  void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                       std::vector<std::pair<std::int32_t, float>>& out) const override;

  // Adds a completed session to the neighbour index without retraining; memory stays bounded
  // by sample_size per item and max_sessions overall. Items beyond num_items are InvalidArgument.
  absl::Status AddSession(absl::Span<const std::int32_t> items, std::int64_t timestamp, std::int32_t user = -1);

  // Erases every session of `user` from the index; returns how many were removed.
  std::int64_t Forget(std::int32_t user);
  std::int64_t ForgetUser(std::int32_t user) override { return Forget(user); }

  absl::StatusOr<io::ModelFile> ToModelFile() const override;
  static absl::StatusOr<std::unique_ptr<SessionKnn>> FromModelFile(const io::ModelFile& file);

 private:
  struct State;
  explicit SessionKnn(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace comptoir::recommend
