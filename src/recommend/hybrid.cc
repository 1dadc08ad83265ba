#include "comptoir/recommend/hybrid.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "comptoir/retrieval/top_k.h"
#include "comptoir/status.h"
#include "internal/registry.h"
#include "internal/scratch.h"

namespace comptoir::recommend {
namespace {

struct Blend {
  std::vector<float> score;
  std::vector<float> best_part;
  std::vector<Reason> reason;
  std::vector<std::int32_t> touched;
  std::vector<std::pair<std::int32_t, float>> candidates;
  retrieval::TopKSelector selector;
  std::vector<retrieval::ScoredId> top;
  internal::ScratchBound bound;
  std::int64_t last_used = 0;  // the thread's outermost-blend count when this one last served

  // Between requests every dense buffer is back at its default (Reset), so starting afresh when
  // the buffers outgrew the models served is safe.
  void Fit(std::size_t items) {
    if (bound.Release(internal::HeldElements(score, touched, candidates, top), items)) {
      const internal::ScratchBound kept = bound;
      *this = Blend();
      bound = kept;
    }
    if (score.size() < items) {
      score.resize(items, 0.0f);
      best_part.resize(items, -1.0f);
      reason.resize(items);
    }
  }
  // Adds weight * score / max over positive scores; returns nothing when all are <= 0.
  template <typename Visit>
  void Add(std::int32_t item, float contribution, Visit&& on_best) {
    if (best_part[item] < 0.0f) touched.push_back(item), best_part[item] = 0.0f;
    score[item] += contribution;
    if (contribution > best_part[item]) {
      best_part[item] = contribution;
      on_best();
    }
  }
  void Reset() {
    for (std::int32_t item : touched) score[item] = 0.0f, best_part[item] = -1.0f;
    touched.clear();
  }
};

// One blend per nesting level on each thread: a hybrid whose component is itself a hybrid runs
// the inner blend while the outer one is half filled, so the two cannot share buffers. Levels
// that no request has reached for a while (the nested model was swapped out) are freed.
struct BlendStack {
  std::vector<std::unique_ptr<Blend>> levels;
  std::size_t depth = 0;
  std::int64_t outermost_uses = 0;
};

class BlendLease {
 public:
  explicit BlendLease(std::size_t items) : stack_(ThreadBlendStack()) {
    if (stack_.depth == 0) {
      ++stack_.outermost_uses;
      while (stack_.levels.size() > 1 &&
             stack_.outermost_uses - stack_.levels.back()->last_used > internal::ScratchBound::kStreak) {
        stack_.levels.pop_back();
      }
    }
    if (stack_.depth == stack_.levels.size()) stack_.levels.push_back(std::make_unique<Blend>());
    blend_ = stack_.levels[stack_.depth++].get();
    blend_->last_used = stack_.outermost_uses;
    blend_->Fit(items);
  }
  ~BlendLease() { --stack_.depth; }
  BlendLease(const BlendLease&) = delete;
  BlendLease& operator=(const BlendLease&) = delete;

  Blend& get() const { return *blend_; }

 private:
  static BlendStack& ThreadBlendStack() {
    thread_local BlendStack stack;
    return stack;
  }
  BlendStack& stack_;
  Blend* blend_ = nullptr;
};

float MaxPositive(const float* scores, std::size_t n) {
  float best = 0.0f;
  for (std::size_t i = 0; i < n; ++i) best = std::max(best, scores[i]);
  return best;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Hybrid>> Hybrid::Create(std::vector<HybridComponent> components) {
  if (components.empty()) return absl::InvalidArgumentError("a hybrid needs at least one component");
  for (std::size_t c = 0; c < components.size(); ++c) {
    if (components[c].model == nullptr) return absl::InvalidArgumentError(absl::StrCat("component ", c, " is empty"));
    if (!(components[c].weight >= 0) || !std::isfinite(components[c].weight)) {
      return absl::InvalidArgumentError(absl::StrCat("component ", c, " has weight ", components[c].weight, "; weights must be finite and >= 0"));
    }
    if (components[c].model->num_items() != components[0].model->num_items()) {
      return absl::InvalidArgumentError(absl::StrCat("component ", c, " has ", components[c].model->num_items(),
                                                     " items, component 0 has ", components[0].model->num_items()));
    }
  }
  return std::unique_ptr<Hybrid>(new Hybrid(std::move(components)));
}

void Hybrid::ScoreCandidates(absl::Span<const std::int32_t> session_items,
                             std::vector<std::pair<std::int32_t, float>>& out) const {
  const BlendLease lease(static_cast<std::size_t>(num_items()));
  Blend& blend = lease.get();
  for (const HybridComponent& component : components_) {
    if (component.weight == 0.0f) continue;
    component.model->ScoreCandidates(session_items, blend.candidates);
    float best = 0.0f;
    for (const auto& [item, score] : blend.candidates) best = std::max(best, score);
    if (!(best > 0.0f)) continue;
    const float scale = component.weight / best;
    for (const auto& [item, score] : blend.candidates) {
      if (score > 0.0f) blend.Add(item, score * scale, [] {});
    }
  }
  out.clear();
  for (std::int32_t item : blend.touched) out.emplace_back(item, blend.score[item]);
  blend.Reset();
}

absl::StatusOr<RecommendResponse> Hybrid::Recommend(const RecommendRequest& request) const {
  COMPTOIR_RETURN_IF_ERROR(ValidateRequest(request, num_items()));
  RecommendRequest wide = request;
  wide.k = std::min(request.k * 3, 100'000);
  std::vector<RecommendResponse> parts;
  parts.reserve(components_.size());
  for (const HybridComponent& component : components_) {
    if (component.weight == 0.0f) continue;
    COMPTOIR_ASSIGN_OR_RETURN(RecommendResponse part, component.model->Recommend(wide));
    parts.push_back(std::move(part));
  }
  std::vector<float> weights;
  for (const HybridComponent& component : components_) {
    if (component.weight != 0.0f) weights.push_back(component.weight);
  }
  const BlendLease lease(static_cast<std::size_t>(num_items()));
  Blend& blend = lease.get();
  for (std::size_t c = 0; c < parts.size(); ++c) {
    const RecommendResponse& part = parts[c];
    const float best = MaxPositive(part.scores.data(), part.scores.size());
    for (std::size_t i = 0; i < part.items.size(); ++i) {
      // Fallback fillers (scores <= 0) still count, just below any real evidence.
      const float contribution = best > 0.0f && part.scores[i] > 0.0f
                                     ? weights[c] * part.scores[i] / best
                                     : 1e-6f * weights[c] / static_cast<float>(i + 1);
      const std::int32_t item = part.items[i];
      blend.Add(item, contribution, [&] { blend.reason[item] = part.reasons[i]; });
    }
  }
  blend.selector.Reset(static_cast<std::size_t>(request.k));
  for (std::int32_t item : blend.touched) blend.selector.Push(item, blend.score[item]);
  blend.selector.TakeSorted(blend.top);
  RecommendResponse response;
  if (!parts.empty()) response.unknown_items = parts.front().unknown_items;
  for (const retrieval::ScoredId& hit : blend.top) {
    response.items.push_back(hit.id);
    response.scores.push_back(hit.score);
    response.reasons.push_back(blend.reason[hit.id]);
  }
  blend.Reset();
  return response;
}

std::int64_t Hybrid::ForgetUser(std::int32_t user) {
  std::int64_t removed = 0;
  for (const std::shared_ptr<Recommender>& part : owned_) removed += part->ForgetUser(user);
  return removed;
}

absl::StatusOr<io::ModelFile> Hybrid::ToModelFile() const {
  io::ModelFile file(kModelKind);
  std::vector<float> weights;
  for (std::size_t c = 0; c < components_.size(); ++c) {
    COMPTOIR_ASSIGN_OR_RETURN(std::string bytes, internal::SerializePart(components_[c].model->ToModelFile()));
    COMPTOIR_RETURN_IF_ERROR(file.AddBlob(absl::StrCat("component_", c), std::move(bytes)));
    weights.push_back(components_[c].weight);
  }
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("weights", weights));
  return file;
}

absl::StatusOr<std::unique_ptr<Hybrid>> Hybrid::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<float> weights, file.Array<float>("weights"));
  std::vector<HybridComponent> components;
  std::vector<std::shared_ptr<Recommender>> owned;
  for (std::size_t c = 0; c < weights.size(); ++c) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::string_view bytes, file.Blob(absl::StrCat("component_", c)));
    COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model,
                              internal::LoadNestedRecommender(bytes, absl::StrCat("hybrid component ", c)));
    owned.push_back(std::move(model));
    components.push_back({owned.back(), weights[c]});
  }
  absl::StatusOr<std::unique_ptr<Hybrid>> hybrid = Hybrid::Create(std::move(components));
  if (!hybrid.ok()) return MarkModelFormatError(absl::DataLossError(absl::StrCat("hybrid model is invalid: ", hybrid.status().message())));
  (*hybrid)->owned_ = std::move(owned);
  return hybrid;
}

}  // namespace comptoir::recommend
