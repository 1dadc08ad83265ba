#include "comptoir/recommend/embedding.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "comptoir/retrieval/top_k.h"
#include "comptoir/status.h"
#include "comptoir/v1/embed.pb.h"
#include "internal/scratch.h"

namespace comptoir::recommend {
namespace {

struct Scratch {
  std::vector<std::int32_t> known;
  std::vector<data::EventKind> known_kinds;
  std::vector<float> query;
  std::vector<std::int32_t> excluded;
  std::vector<retrieval::ScoredId> hits;
  internal::ScratchBound bound;
};

// The thread's buffers, dropped once they have long been far larger than a model of `items`
// items and `dim` dimensions can use (hits and exclusions are bounded by the items).
Scratch& ThreadScratch(std::int32_t items, std::int32_t dim) {
  thread_local Scratch scratch;
  if (scratch.bound.Release(internal::HeldElements(scratch.known, scratch.query, scratch.excluded, scratch.hits),
                            static_cast<std::size_t>(items) + static_cast<std::size_t>(dim))) {
    const internal::ScratchBound kept = scratch.bound;
    scratch = Scratch();
    scratch.bound = kept;
  }
  return scratch;
}

float Dot(const float* a, const float* b, std::int32_t dim) {
  float s = 0;
  for (std::int32_t d = 0; d < dim; ++d) s += a[d] * b[d];
  return s;
}

}  // namespace

EmbeddingRecommender::EmbeddingRecommender(std::shared_ptr<const embed::Item2Vec> embeddings,
                                           const embed::SessionEncoderConfig& encoder)
    : embeddings_(std::move(embeddings)), encoder_(encoder) {}

bool EmbeddingRecommender::Encode(absl::Span<const std::int32_t> items, absl::Span<const data::EventKind> kinds,
                                  std::vector<std::int32_t>& known, std::vector<data::EventKind>& known_kinds,
                                  std::vector<std::int32_t>* unknown, std::vector<float>& query) const {
  known.clear();
  known_kinds.clear();
  const std::size_t first = items.size() > static_cast<std::size_t>(encoder_.max_events) ? items.size() - encoder_.max_events : 0;
  for (std::size_t i = first; i < items.size(); ++i) {
    if (items[i] < 0 || items[i] >= num_items() || !embeddings_->seen()[items[i]]) {
      if (unknown != nullptr) unknown->push_back(items[i]);
      continue;
    }
    known.push_back(items[i]);
    if (!kinds.empty()) known_kinds.push_back(kinds[i]);
  }
  query.assign(static_cast<std::size_t>(embeddings_->dim()), 0.0f);
  if (known.empty()) return false;
  // Known items were checked above, so encoding cannot fail.
  (void)embeddings_->EncodeSession(known, known_kinds, encoder_, absl::MakeSpan(query));
  return std::any_of(query.begin(), query.end(), [](float v) { return v != 0.0f; });
}

absl::Status EmbeddingRecommender::SetUserHistory(std::int32_t user, absl::Span<const std::int32_t> items) {
  std::vector<float> profile(static_cast<std::size_t>(embeddings_->dim()));
  embed::SessionEncoderConfig slow = encoder_;
  slow.recency_decay = 0.98f;  // a long memory: months of purchases, not minutes of browsing
  slow.max_events = 500;
  COMPTOIR_RETURN_IF_ERROR(embeddings_->EncodeSession(items, {}, slow, absl::MakeSpan(profile)));
  const std::unique_lock lock(profiles_mutex_);
  profiles_[user] = std::move(profile);
  return absl::OkStatus();
}

std::int64_t EmbeddingRecommender::ForgetUser(std::int32_t user) {
  const std::unique_lock lock(profiles_mutex_);
  return static_cast<std::int64_t>(profiles_.erase(user));
}

void EmbeddingRecommender::ScoreCandidates(absl::Span<const std::int32_t> session_items,
                                           std::vector<std::pair<std::int32_t, float>>& out) const {
  Scratch& scratch = ThreadScratch(num_items(), embeddings_->dim());
  out.clear();
  if (!Encode(session_items, {}, scratch.known, scratch.known_kinds, nullptr, scratch.query)) return;
  const std::int32_t dim = embeddings_->dim();
  const float* vectors = embeddings_->vectors().data();
  for (std::int32_t item = 0; item < num_items(); ++item) {
    if (!embeddings_->seen()[item]) continue;
    const float* v = vectors + static_cast<std::size_t>(item) * dim;
    const float norm = std::sqrt(Dot(v, v, dim));
    out.emplace_back(item, norm > 0 ? Dot(v, scratch.query.data(), dim) / norm : 0.0f);
  }
}

absl::StatusOr<RecommendResponse> EmbeddingRecommender::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, num_items()));
  Scratch& scratch = ThreadScratch(num_items(), embeddings_->dim());
  RecommendResponse response;
  const bool has_session = Encode(request.session_items, request.session_kinds, scratch.known, scratch.known_kinds,
                                  &response.unknown_items, scratch.query);
  bool has_profile = false;
  if (request.user >= 0) {
    const std::shared_lock lock(profiles_mutex_);
    const auto profile = profiles_.find(request.user);
    if (profile != profiles_.end()) {
      embed::Item2Vec::BlendWithProfile(profile->second, encoder_.profile_weight, absl::MakeSpan(scratch.query));
      has_profile = true;
    }
  }
  if (!has_profile && !has_session) return response;  // nothing to go on: callers blend this model with popularity
  // The index filters by allowed flags and exclusions; category and price rules are checked on
  // an over-fetched list.
  const CandidateFilter filter(request, scratch.excluded);
  const bool rules = request.filters.catalogue != nullptr;
  const int fetch = rules ? std::min(num_items(), request.k * 4) : request.k;
  retrieval::SearchFilter search{embeddings_->seen(), scratch.excluded};
  if (!request.filters.allowed_items.empty()) search.allowed = request.filters.allowed_items;
  COMPTOIR_RETURN_IF_ERROR(embeddings_->index().Search(scratch.query, fetch, search, scratch.hits));
  const std::int32_t dim = embeddings_->dim();
  const float* vectors = embeddings_->vectors().data();
  for (const retrieval::ScoredId& hit : scratch.hits) {
    if (static_cast<std::int32_t>(response.items.size()) == request.k) break;
    if (!embeddings_->seen()[hit.id] || (rules && !filter.Allows(hit.id))) continue;
    // The session item this one is most like explains it; with no session, the profile does.
    Reason reason{ReasonKind::kProfile, -1, 0, -1};
    float best = -2.0f;
    for (std::int32_t anchor : scratch.known) {
      const float similarity = Dot(vectors + static_cast<std::size_t>(anchor) * dim, vectors + static_cast<std::size_t>(hit.id) * dim, dim);
      if (similarity > best) best = similarity, reason = {ReasonKind::kSimilarItem, anchor, 0, -1};
    }
    response.items.push_back(hit.id);
    response.scores.push_back(hit.score);
    response.reasons.push_back(reason);
  }
  StampReasons(response);
  return response;
}

std::vector<std::int32_t> EmbeddingRecommender::profile_users() const {
  const std::shared_lock lock(profiles_mutex_);
  std::vector<std::int32_t> users;
  users.reserve(profiles_.size());
  for (const auto& [user, vector] : profiles_) users.push_back(user);
  std::sort(users.begin(), users.end());
  return users;
}

absl::StatusOr<io::ModelFile> EmbeddingRecommender::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::SessionEncoderConfig proto;
  proto.set_recency_decay(encoder_.recency_decay);
  for (float w : encoder_.kind_weights) proto.add_kind_weights(w);
  proto.set_max_events(encoder_.max_events);
  proto.set_profile_weight(encoder_.profile_weight);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_ASSIGN_OR_RETURN(const io::ModelFile inner, embeddings_->ToModelFile());
  COMPTOIR_ASSIGN_OR_RETURN(std::string bytes, io::SerializeModelFile(inner));
  COMPTOIR_RETURN_IF_ERROR(file.AddBlob("item2vec", std::move(bytes)));
  // One snapshot of the table: a profile set or forgotten meanwhile is either wholly in or out.
  std::vector<std::int32_t> users;
  std::vector<float> vectors;
  {
    const std::shared_lock lock(profiles_mutex_);
    for (const auto& [user, vector] : profiles_) users.push_back(user);
    std::sort(users.begin(), users.end());
    for (std::int32_t user : users) vectors.insert(vectors.end(), profiles_.at(user).begin(), profiles_.at(user).end());
  }
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>("profile_users", users));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("profiles", vectors));
  COMPTOIR_RETURN_IF_ERROR(AddTrainingEvents(training_events(), file));
  return file;
}

namespace {

absl::Status Corrupt(std::string_view what) { return MarkModelFormatError(absl::DataLossError(std::string(what))); }

// The encoder from the file's config, or from the float array files before configs carried:
// recency_decay, max_events, profile_weight, then the kind weights.
absl::StatusOr<embed::SessionEncoderConfig> ReadEncoder(const io::ModelFile& file) {
  embed::SessionEncoderConfig config;
  if (!file.config().empty()) {
    v1::SessionEncoderConfig proto;
    if (!proto.ParseFromString(file.config()) || proto.kind_weights_size() != data::kNumEventKinds) {
      return Corrupt("embedding recommender config does not parse");
    }
    config.recency_decay = proto.recency_decay();
    std::copy(proto.kind_weights().begin(), proto.kind_weights().end(), config.kind_weights);
    config.max_events = proto.max_events();
    config.profile_weight = proto.profile_weight();
  } else {
    COMPTOIR_ASSIGN_OR_RETURN(const std::vector<float> encoder, file.Array<float>("encoder"));
    if (encoder.size() != 3 + data::kNumEventKinds || !(encoder[1] >= 1 && encoder[1] <= 1e9f)) {
      return Corrupt("embedding recommender encoder is inconsistent");
    }
    config.recency_decay = encoder[0];
    config.max_events = static_cast<std::int32_t>(encoder[1]);
    config.profile_weight = encoder[2];
    std::copy(encoder.begin() + 3, encoder.end(), config.kind_weights);
  }
  const absl::Status valid = config.Validate();
  if (!valid.ok()) return Corrupt(absl::StrCat("embedding recommender encoder: ", valid.message()));
  return config;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddingRecommender>> EmbeddingRecommender::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  COMPTOIR_ASSIGN_OR_RETURN(const embed::SessionEncoderConfig config, ReadEncoder(file));
  COMPTOIR_ASSIGN_OR_RETURN(const std::string_view bytes, file.Blob("item2vec"));
  COMPTOIR_ASSIGN_OR_RETURN(const io::ModelFile inner, io::ParseModelFile(bytes));
  COMPTOIR_ASSIGN_OR_RETURN(embed::Item2Vec embeddings, embed::Item2Vec::FromModelFile(inner));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int32_t> users, file.Array<std::int32_t>("profile_users"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<float> vectors, file.Array<float>("profiles"));
  const auto dim = static_cast<std::size_t>(embeddings.dim());
  if (vectors.size() / dim != users.size() || vectors.size() % dim != 0) {
    return Corrupt("embedding recommender profiles do not match the embeddings' dimension");
  }
  auto model = std::make_unique<EmbeddingRecommender>(std::make_shared<const embed::Item2Vec>(std::move(embeddings)), config);
  const std::unique_lock lock(model->profiles_mutex_);
  for (std::size_t u = 0; u < users.size(); ++u) {
    model->profiles_[users[u]] = std::vector<float>(vectors.begin() + static_cast<std::ptrdiff_t>(u * dim),
                                                    vectors.begin() + static_cast<std::ptrdiff_t>((u + 1) * dim));
  }
  COMPTOIR_ASSIGN_OR_RETURN(const TrainingEvents events, ReadTrainingEvents(file));
  model->set_training_events(events);
  return model;
}

}  // namespace comptoir::recommend
