#include "comptoir/recommend/recommender.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"

namespace comptoir::recommend {
namespace {

// Past this many items a request is a mistake or an attack, not a page of recommendations.
constexpr std::int32_t kMaxK = 100'000;

}  // namespace

std::string Reason::ToString(std::string_view anchor_name) const {
  const std::string anchor = anchor_name.empty() ? absl::StrCat("item ", anchor_item) : std::string(anchor_name);
  const char* const plural = support == 1 ? "" : "s";
  switch (kind) {
    case ReasonKind::kCoVisited:
      switch (events) {
        case TrainingEvents::kViews:
          return absl::StrCat("viewed together with ", anchor, " in ", support, " recent session", plural);
        case TrainingEvents::kCarts:
          return absl::StrCat("added to carts together with ", anchor, " in ", support, " recent session", plural);
        case TrainingEvents::kPurchases:
          return absl::StrCat("bought together with ", anchor, " in ", support, " recent order", plural);
        default:
          return absl::StrCat("seen with ", anchor, " in ", support, " recent session", plural);
      }
    case ReasonKind::kSimilarItem:
      return absl::StrCat("similar to ", anchor, " in your session");
    case ReasonKind::kBoughtTogether:
      switch (events) {
        case TrainingEvents::kViews:
          return absl::StrCat("often viewed together with ", anchor, " (", support, " session", plural, ")");
        case TrainingEvents::kCarts:
          return absl::StrCat("often added to carts with ", anchor, " (", support, " session", plural, ")");
        case TrainingEvents::kPurchases:
          return absl::StrCat("often bought together with ", anchor, " (", support, " order", plural, ")");
        default:
          return absl::StrCat("often in the same basket as ", anchor, " (", support, " basket", plural, ")");
      }
    case ReasonKind::kTrending:
      if (category < 0) return "popular right now";
      return absl::StrCat(events == TrainingEvents::kPurchases ? "best selling" : "trending", " in category ", category);
    case ReasonKind::kProfile:
      // With an anchor the item itself is in the shopper's history (a re-purchase or re-visit).
      if (anchor_item < 0) return "matches what you usually buy";
      if (events == TrainingEvents::kPurchases) return "you bought it before";
      if (events == TrainingEvents::kViews) return "you viewed it before";
      return "in your earlier sessions";
  }
  return "recommended";
}

absl::Status AddTrainingEvents(TrainingEvents events, io::ModelFile& file) {
  if (events == TrainingEvents::kUnspecified) return absl::OkStatus();
  return file.AddBlob("training_events", std::string(1, static_cast<char>(events)));
}

absl::StatusOr<TrainingEvents> ReadTrainingEvents(const io::ModelFile& file) {
  if (!file.HasBlob("training_events")) return TrainingEvents::kUnspecified;
  COMPTOIR_ASSIGN_OR_RETURN(const std::string_view bytes, file.Blob("training_events"));
  const auto value = bytes.size() == 1 ? static_cast<unsigned char>(bytes[0]) : 0xff;
  if (value > static_cast<unsigned char>(TrainingEvents::kMixed)) {
    return MarkModelFormatError(absl::DataLossError("the model's training_events blob is corrupted"));
  }
  return static_cast<TrainingEvents>(value);
}

CandidateFilter::CandidateFilter(const RecommendRequest& request, std::vector<std::int32_t>& buffer)
    : filters_(request.filters), excluded_(buffer) {
  buffer.assign(request.filters.excluded_items.begin(), request.filters.excluded_items.end());
  if (request.filters.exclude_session_items) {
    buffer.insert(buffer.end(), request.session_items.begin(), request.session_items.end());
  }
  std::sort(buffer.begin(), buffer.end());
}

const char* ReasonKindName(ReasonKind kind) {
  switch (kind) {
    case ReasonKind::kCoVisited: return "co_visited";
    case ReasonKind::kSimilarItem: return "similar_item";
    case ReasonKind::kBoughtTogether: return "bought_together";
    case ReasonKind::kTrending: return "trending";
    case ReasonKind::kProfile: return "profile";
  }
  return "other";
}

bool CandidateFilter::Allows(std::int32_t item) const {
  if (!filters_.allowed_items.empty() &&
      (static_cast<std::size_t>(item) >= filters_.allowed_items.size() || filters_.allowed_items[item] == 0)) {
    return false;
  }
  if (!excluded_.empty() && std::binary_search(excluded_.begin(), excluded_.end(), item)) return false;
  const data::Catalogue* catalogue = filters_.catalogue;
  if (catalogue == nullptr) return true;
  if (static_cast<std::size_t>(item) >= catalogue->num_items()) return false;
  const std::int32_t category = catalogue->category.empty() ? -1 : catalogue->category[item];
  if (!filters_.allowed_categories.empty() &&
      std::find(filters_.allowed_categories.begin(), filters_.allowed_categories.end(), category) ==
          filters_.allowed_categories.end()) {
    return false;
  }
  if (std::find(filters_.denied_categories.begin(), filters_.denied_categories.end(), category) !=
      filters_.denied_categories.end()) {
    return false;
  }
  const float price = catalogue->price[item];
  if (price < filters_.min_price) return false;
  if (filters_.max_price > 0 && price > filters_.max_price) return false;
  return true;
}

absl::Status ValidateRequest(const RecommendRequest& request, std::int32_t num_items) {
  if (request.k <= 0 || request.k > kMaxK) {
    return absl::InvalidArgumentError(absl::StrCat("k must be in [1, ", kMaxK, "], got ", request.k));
  }
  if (!request.session_kinds.empty() && request.session_kinds.size() != request.session_items.size()) {
    return absl::InvalidArgumentError(absl::StrCat("session has ", request.session_items.size(), " items but ",
                                                   request.session_kinds.size(), " event kinds"));
  }
  if (!request.session_timestamps.empty() && request.session_timestamps.size() != request.session_items.size()) {
    return absl::InvalidArgumentError(absl::StrCat("session has ", request.session_items.size(), " items but ",
                                                   request.session_timestamps.size(), " timestamps"));
  }
  for (std::size_t i = 1; i < request.session_timestamps.size(); ++i) {
    if (request.session_timestamps[i] < request.session_timestamps[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("session timestamps go back in time at event ", i));
    }
  }
  const RecommendFilters& f = request.filters;
  if (!f.allowed_items.empty() && static_cast<std::int64_t>(f.allowed_items.size()) != num_items) {
    return absl::InvalidArgumentError(absl::StrCat("allowed_items has ", f.allowed_items.size(), " flags for ", num_items, " items"));
  }
  if (f.catalogue != nullptr && f.catalogue->price.size() < static_cast<std::size_t>(num_items)) {
    return absl::InvalidArgumentError(absl::StrCat("catalogue describes ", f.catalogue->price.size(), " items, the model has ", num_items));
  }
  if ((!f.allowed_categories.empty() || !f.denied_categories.empty()) && f.catalogue == nullptr) {
    return absl::InvalidArgumentError("category rules need a catalogue");
  }
  if (!(f.min_price >= 0) || !(f.max_price >= 0)) return absl::InvalidArgumentError("price bounds must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RecommendResponse>> Recommender::RecommendBatch(
    absl::Span<const RecommendRequest> requests, const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  std::vector<RecommendResponse> responses(requests.size());
  const auto n = static_cast<std::int64_t>(requests.size());
  std::vector<absl::Status> errors(static_cast<std::size_t>(internal::NumChunks(n, 64)));
  ProgressReporter progress(options.progress, n, "recommend");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, n, 64,
      [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
          absl::StatusOr<RecommendResponse> response = Recommend(requests[i]);
          if (!response.ok()) {
            errors[chunk] = absl::Status(response.status().code(),
                                         absl::StrCat("request ", i, ": ", response.status().message()));
            return;
          }
          responses[i] = *std::move(response);
        }
      },
      &progress));
  for (const absl::Status& error : errors) COMPTOIR_RETURN_IF_ERROR(error);
  return responses;
}

}  // namespace comptoir::recommend
