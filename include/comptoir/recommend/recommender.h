// The serving contract every recommender meets: a live session (and optionally who the shopper
// is) in, ranked items with the reason each was chosen out, already filtered by stock and
// business rules. Calls are thread-safe on a model and allocate little per request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/data/events.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"

namespace comptoir::recommend {

struct RecommendFilters {
  // In-stock or otherwise eligible items: one flag per item (nonzero = may be shown). Empty = all.
  absl::Span<const std::uint8_t> allowed_items;
  // Items never to show (already bought, in the cart, ...), any order.
  absl::Span<const std::int32_t> excluded_items;
  bool exclude_session_items = false;
  // Category rules need the catalogue; empty spans mean no rule.
  const data::Catalogue* catalogue = nullptr;
  absl::Span<const std::int32_t> allowed_categories;
  absl::Span<const std::int32_t> denied_categories;
  float min_price = 0.0f;
  float max_price = 0.0f;  // 0 = no upper bound
};

struct RecommendRequest {
  absl::Span<const std::int32_t> session_items;  // oldest first
  absl::Span<const data::EventKind> session_kinds;  // empty = all views
  absl::Span<const std::int64_t> session_timestamps;  // empty = unknown
  std::int32_t user = -1;  // -1 = anonymous
  std::int32_t k = 20;
  std::int64_t context_timestamp = 0;  // 0 = the last session event's time, if known
  RecommendFilters filters;
};

enum class ReasonKind : std::int32_t {
  kCoVisited = 0,      // "viewed together with X in 37 recent sessions" (bought / seen, by the events)
  kSimilarItem = 1,    // "similar to X in your session"
  kBoughtTogether = 2, // "often bought together with X (12 orders)"
  kTrending = 3,       // "trending in category C" / "popular right now"
  kProfile = 4,        // "matches what you usually buy"; with an anchor, the item itself: "you bought it before"
};

// The events a model learned from, so that its reasons name them truly: "bought together" about
// orders, "viewed together" about browsing, neutral wording when the trainer did not say or the
// kinds were mixed. Values are stored in model files: append only.
enum class TrainingEvents : std::int32_t {
  kUnspecified = 0,
  kViews = 1,
  kCarts = 2,
  kPurchases = 3,
  kMixed = 4,
};

// The kind's name as services and bindings print it: "co_visited", "similar_item", ...
const char* ReasonKindName(ReasonKind kind);

struct Reason {
  ReasonKind kind = ReasonKind::kTrending;
  std::int32_t anchor_item = -1;  // the session item that led here, when there is one
  std::int32_t support = 0;       // sessions / co-purchases behind it
  std::int32_t category = -1;
  TrainingEvents events = TrainingEvents::kUnspecified;  // what `support` counted

  // One sentence for the shopper; `anchor_name` is how to call the anchor item (the shop's id),
  // "item <dense id>" when empty.
  std::string ToString(std::string_view anchor_name = {}) const;
};

// The optional "training_events" blob of a recommender's model file (absent: kUnspecified, as in
// files written before reasons followed the events; an unknown value is a ModelFormatError).
absl::Status AddTrainingEvents(TrainingEvents events, io::ModelFile& file);
absl::StatusOr<TrainingEvents> ReadTrainingEvents(const io::ModelFile& file);

struct RecommendResponse {
  std::vector<std::int32_t> items;
  std::vector<float> scores;
  std::vector<Reason> reasons;
  std::vector<std::int32_t> unknown_items;  // request items the model has never seen (ignored)
};

class Recommender {
 public:
  virtual ~Recommender() = default;

  virtual std::int32_t num_items() const = 0;

  // What the model was trained on, stamped on every reason it gives (set once after fitting,
  // before serving; saved in the model file).
  TrainingEvents training_events() const { return training_events_; }
  void set_training_events(TrainingEvents events) { training_events_ = events; }

  // k <= 0 is InvalidArgument; an empty session falls back to popularity (said in the reasons).
  virtual absl::StatusOr<RecommendResponse> Recommend(const RecommendRequest& request) const = 0;

  // Scores every candidate the model can score for a session (unsorted). Items absent from
  // `out` cannot be scored; the evaluation protocol ranks them below every scored item.
  virtual void ScoreCandidates(absl::Span<const std::int32_t> session_items,
                               std::vector<std::pair<std::int32_t, float>>& out) const = 0;

  // Many requests in parallel; responses[i] answers requests[i].
  absl::StatusOr<std::vector<RecommendResponse>> RecommendBatch(absl::Span<const RecommendRequest> requests,
                                                                const ExecutionOptions& options) const;

  // Erases everything the model holds about `user` (online sessions, long-term profiles) so a
  // service can honour an erasure request on any loaded model; returns how many records went.
  // Models that keep nothing per user have nothing to erase. Safe while other threads serve.
  virtual std::int64_t ForgetUser(std::int32_t /*user*/) { return 0; }

  // The model's file (comptoir::LoadModel reads it back); a host's own recommender has none.
  virtual absl::StatusOr<io::ModelFile> ToModelFile() const {
    return absl::UnimplementedError("this recommender has no model file form");
  }

 protected:
  // Gives this model's training events to the reasons of `response` (each Recommend calls it).
  void StampReasons(RecommendResponse& response) const {
    for (Reason& reason : response.reasons) reason.events = training_events_;
  }

 private:
  TrainingEvents training_events_ = TrainingEvents::kUnspecified;
};

// The request's filters, prepared once per request (exclusions sorted for binary search) and
// applied to each candidate; shared by every model. Reuses `buffer` to avoid allocation.
class CandidateFilter {
 public:
  CandidateFilter(const RecommendRequest& request, std::vector<std::int32_t>& buffer);
  bool Allows(std::int32_t item) const;

 private:
  const RecommendFilters& filters_;
  const std::vector<std::int32_t>& excluded_;
};

// Validates the parts of a request every model checks the same way.
absl::Status ValidateRequest(const RecommendRequest& request, std::int32_t num_items);

}  // namespace comptoir::recommend
