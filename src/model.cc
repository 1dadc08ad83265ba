// The model registry: model kind -> loader, the only place that switches on kinds.
#include "comptoir/model.h"

#include <algorithm>
#include <type_traits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "comptoir/embed/item2vec.h"
#include "comptoir/propensity/calibration.h"
#include "comptoir/propensity/logistic.h"
#include "comptoir/recommend/embedding.h"
#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/neural_session.h"
#include "comptoir/recommend/popularity.h"
#include "comptoir/recommend/session_knn.h"
#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "comptoir/uplift/forest.h"
#include "comptoir/uplift/meta_learners.h"
#include "comptoir/v1/schema.pb.h"
#include "internal/registry.h"
#include "internal/siphash.h"
#include "internal/strings.h"

namespace comptoir {
namespace {

using internal::ModelParts;
using Loader = absl::StatusOr<ModelParts> (*)(const io::ModelFile& file);

// FromModelFile returns a value or a unique_ptr, depending on the class.
template <typename T>
std::unique_ptr<T> Owned(std::unique_ptr<T> model) {
  return model;
}
template <typename T>
std::unique_ptr<T> Owned(T&& model) {
  return std::make_unique<T>(std::move(model));
}

// Any kind whose class loads itself with FromModelFile, put in its family's slot.
template <typename T>
absl::StatusOr<ModelParts> LoadKind(const io::ModelFile& file) {
  COMPTOIR_ASSIGN_OR_RETURN(auto loaded, T::FromModelFile(file));
  std::unique_ptr<T> model = Owned(std::move(loaded));
  ModelParts parts;
  if constexpr (std::is_base_of_v<recommend::Recommender, T>) {
    parts.recommender = std::move(model);
  } else if constexpr (std::is_base_of_v<Scorer, T>) {
    parts.scorer = std::move(model);
  } else if constexpr (std::is_base_of_v<UpliftModel, T>) {
    parts.uplift = std::move(model);
  } else {
    static_assert(std::is_base_of_v<retrieval::VectorIndex, T>, "a model kind serves through one family");
    parts.index = std::move(model);
  }
  return parts;
}

// Item2Vec serves as a session recommender with the default session encoder.
absl::StatusOr<ModelParts> LoadItem2Vec(const io::ModelFile& file) {
  COMPTOIR_ASSIGN_OR_RETURN(embed::Item2Vec embeddings, embed::Item2Vec::FromModelFile(file));
  ModelParts parts;
  parts.recommender = std::make_unique<recommend::EmbeddingRecommender>(
      std::make_shared<const embed::Item2Vec>(std::move(embeddings)), embed::SessionEncoderConfig{});
  return parts;
}

struct Entry {
  const char* kind;
  Loader load;
};

const Entry kRegistry[] = {
    {recommend::SessionKnn::kModelKind, &LoadKind<recommend::SessionKnn>},
    {recommend::Popularity::kModelKind, &LoadKind<recommend::Popularity>},
    {recommend::CoPurchase::kModelKind, &LoadKind<recommend::CoPurchase>},
    {recommend::SequentialRules::kModelKind, &LoadKind<recommend::SequentialRules>},
    {recommend::EmbeddingRecommender::kModelKind, &LoadKind<recommend::EmbeddingRecommender>},
    {recommend::Hybrid::kModelKind, &LoadKind<recommend::Hybrid>},
    {recommend::NeuralSession::kModelKind, &LoadKind<recommend::NeuralSession>},
    {embed::Item2Vec::kModelKind, &LoadItem2Vec},
    {trees::GradientBoosting::kModelKind, &LoadKind<trees::GradientBoosting>},
    {propensity::LogisticRegression::kModelKind, &LoadKind<propensity::LogisticRegression>},
    {propensity::CalibratedClassifier::kModelKind, &LoadKind<propensity::CalibratedClassifier>},
    {uplift::UpliftForest::kModelKind, &LoadKind<uplift::UpliftForest>},
    {uplift::MetaLearner::kSLearnerKind, &LoadKind<uplift::MetaLearner>},
    {uplift::MetaLearner::kTLearnerKind, &LoadKind<uplift::MetaLearner>},
    {uplift::MetaLearner::kXLearnerKind, &LoadKind<uplift::MetaLearner>},
    {uplift::MetaLearner::kDRLearnerKind, &LoadKind<uplift::MetaLearner>},
    {uplift::MetaLearner::kClassTransformationKind, &LoadKind<uplift::MetaLearner>},
    {retrieval::VectorIndex::kModelKind, &LoadKind<retrieval::VectorIndex>},
};

thread_local int nesting_depth = 0;

const char* FamilyOf(const ModelParts& parts) {
  if (parts.recommender) return "recommender";
  if (parts.scorer) return "scorer";
  if (parts.uplift) return "uplift model";
  return "vector index";
}

absl::Status WrongFamily(const io::ModelFile& file, const ModelParts& parts, std::string_view role,
                         std::string_view wanted) {
  return MarkModelFormatError(absl::FailedPreconditionError(
      absl::StrCat(internal::Sv(role), " is a '", file.model_kind(), "' model (a ", FamilyOf(parts), "), not a ",
                   internal::Sv(wanted))));
}

constexpr std::string_view kKeyCheckText = "comptoir user id key check";
constexpr std::size_t kMinKeyBytes = 16;

std::string UserText(const data::IdMap& users, std::int32_t dense) {
  return users.is_string() ? users.StringId(dense) : absl::StrCat(users.IntId(dense));
}

}  // namespace

namespace internal {

absl::StatusOr<ModelParts> LoadParts(const io::ModelFile& file) {
  if (nesting_depth >= kMaxModelNesting) {
    return MarkModelFormatError(absl::DataLossError(
        absl::StrCat("model files nest more than ", kMaxModelNesting, " deep: the file is corrupted")));
  }
  for (const Entry& entry : kRegistry) {
    if (file.model_kind() != entry.kind) continue;
    ++nesting_depth;
    absl::StatusOr<ModelParts> parts = entry.load(file);
    --nesting_depth;
    return parts;
  }
  return MarkModelFormatError(absl::FailedPreconditionError(
      absl::StrCat("unknown model kind '", file.model_kind(), "' (this comptoir loads: ",
                   absl::StrJoin(ModelKinds(), ", "), ")")));
}

absl::StatusOr<std::unique_ptr<Scorer>> LoadNestedScorer(std::string_view bytes, std::string_view role) {
  COMPTOIR_ASSIGN_OR_RETURN(const io::ModelFile file, io::ParseModelFile(bytes));
  COMPTOIR_ASSIGN_OR_RETURN(ModelParts parts, LoadParts(file));
  if (!parts.scorer) return WrongFamily(file, parts, role, "scorer");
  return std::move(parts.scorer);
}

absl::StatusOr<std::unique_ptr<recommend::Recommender>> LoadNestedRecommender(std::string_view bytes,
                                                                              std::string_view role) {
  COMPTOIR_ASSIGN_OR_RETURN(const io::ModelFile file, io::ParseModelFile(bytes));
  COMPTOIR_ASSIGN_OR_RETURN(ModelParts parts, LoadParts(file));
  if (!parts.recommender) return WrongFamily(file, parts, role, "recommender");
  return std::move(parts.recommender);
}

absl::StatusOr<std::string> SerializePart(const absl::StatusOr<io::ModelFile>& part) {
  if (!part.ok()) return part.status();
  return io::SerializeModelFile(*part);
}

}  // namespace internal

std::vector<std::string> ModelKinds() {
  std::vector<std::string> kinds;
  for (const Entry& entry : kRegistry) kinds.emplace_back(entry.kind);
  return kinds;
}

// ---- ids ----------------------------------------------------------------------------------

absl::StatusOr<std::int32_t> ModelIds::FindItem(std::string_view id, std::int32_t num_items) const {
  if (!has_items()) {
    std::int32_t dense;
    if (!absl::SimpleAtoi(internal::Sv(id), &dense) || dense < 0 || dense >= num_items) {
      return absl::NotFoundError(absl::StrCat("item '", internal::Sv(id), "' is not a dense id in [0, ", num_items,
                                              "): this model carries no shop item ids"));
    }
    return dense;
  }
  if (items_.is_string()) return items_.Find(id);
  std::int64_t value;
  if (!absl::SimpleAtoi(internal::Sv(id), &value)) {
    return absl::NotFoundError(absl::StrCat("item '", internal::Sv(id), "' is not known: this model's item ids are integers"));
  }
  return items_.Find(value);
}

std::string ModelIds::ItemId(std::int32_t dense) const {
  if (!has_items() || dense < 0 || dense >= items_.size()) return absl::StrCat(dense);
  return items_.is_string() ? items_.StringId(dense) : absl::StrCat(items_.IntId(dense));
}

absl::StatusOr<std::int32_t> ModelIds::FindUser(std::string_view id) const {
  if (!user_hashes_.empty()) {
    if (user_id_key_.empty()) {
      return absl::FailedPreconditionError(
          "this model's user ids are pseudonymised: load it with the user id key it was saved with");
    }
    const std::uint64_t hash = internal::SipHash24(internal::DeriveSipKey(user_id_key_), id);
    auto it = std::lower_bound(user_hashes_.begin(), user_hashes_.end(), std::make_pair(hash, INT32_MIN));
    if (it == user_hashes_.end() || it->first != hash) {
      return absl::NotFoundError(absl::StrCat("user '", internal::Sv(id), "' is not known to this model"));
    }
    return it->second;
  }
  if (users_.size() == 0) return absl::NotFoundError("this model carries no user ids");
  if (users_.is_string()) return users_.Find(id);
  std::int64_t value;
  if (!absl::SimpleAtoi(internal::Sv(id), &value)) {
    return absl::NotFoundError(absl::StrCat("user '", internal::Sv(id), "' is not known: this model's user ids are integers"));
  }
  return users_.Find(value);
}

absl::Status ModelIds::AppendTo(io::ModelFile& file, std::string_view user_id_key) const {
  if (!user_id_key.empty() && user_id_key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a user id key needs at least ", kMinKeyBytes, " bytes"));
  }
  if (has_items()) COMPTOIR_RETURN_IF_ERROR(file.AddBlob("item_ids", items_.Serialize()));
  if (!has_users()) return absl::OkStatus();
  if (user_id_key.empty() && user_hashes_.empty()) return file.AddBlob("user_ids", users_.Serialize());
  v1::UserIdHashes proto;
  if (!user_hashes_.empty()) {
    if (!user_id_key.empty() && user_id_key != user_id_key_) {
      return absl::InvalidArgumentError("these user ids are hashed under another key: save with the key they were loaded with");
    }
    for (const auto& [hash, dense] : user_hashes_) proto.add_hashes(hash), proto.add_dense(dense);
    proto.set_key_check(key_check_);
  } else {
    const internal::SipKey key = internal::DeriveSipKey(user_id_key);
    std::vector<std::pair<std::uint64_t, std::int32_t>> hashes;
    hashes.reserve(static_cast<std::size_t>(users_.size()));
    for (std::int32_t d = 0; d < users_.size(); ++d) hashes.emplace_back(internal::SipHash24(key, UserText(users_, d)), d);
    std::sort(hashes.begin(), hashes.end());
    for (std::size_t i = 1; i < hashes.size(); ++i) {
      if (hashes[i].first == hashes[i - 1].first) {
        return absl::InternalError("two user ids share a keyed hash: choose another user id key");
      }
    }
    for (const auto& [hash, dense] : hashes) proto.add_hashes(hash), proto.add_dense(dense);
    proto.set_key_check(internal::SipHash24(key, kKeyCheckText));
  }
  return file.AddBlob("user_id_hashes", proto.SerializeAsString());
}

absl::StatusOr<ModelIds> ModelIds::ReadFrom(const io::ModelFile& file, std::string_view user_id_key) {
  ModelIds ids;
  if (absl::StatusOr<std::string_view> items = file.Blob("item_ids"); items.ok()) {
    COMPTOIR_ASSIGN_OR_RETURN(ids.items_, data::IdMap::Parse(*items));
  }
  if (absl::StatusOr<std::string_view> users = file.Blob("user_ids"); users.ok()) {
    COMPTOIR_ASSIGN_OR_RETURN(ids.users_, data::IdMap::Parse(*users));
  }
  absl::StatusOr<std::string_view> hashed = file.Blob("user_id_hashes");
  if (!hashed.ok()) return ids;
  v1::UserIdHashes proto;
  if (!proto.ParseFromArray(hashed->data(), static_cast<int>(hashed->size())) || proto.hashes_size() != proto.dense_size()) {
    return MarkModelFormatError(absl::DataLossError("user id hashes are corrupted"));
  }
  ids.user_hashes_.reserve(static_cast<std::size_t>(proto.hashes_size()));
  for (int i = 0; i < proto.hashes_size(); ++i) {
    if (i > 0 && proto.hashes(i) <= proto.hashes(i - 1)) {
      return MarkModelFormatError(absl::DataLossError("user id hashes are not sorted: the file is corrupted"));
    }
    if (proto.dense(i) < 0) {
      return MarkModelFormatError(absl::DataLossError("a user id hash maps to a negative user: the file is corrupted"));
    }
    ids.user_hashes_.emplace_back(proto.hashes(i), proto.dense(i));
  }
  ids.key_check_ = proto.key_check();
  if (!user_id_key.empty()) {
    if (internal::SipHash24(internal::DeriveSipKey(user_id_key), kKeyCheckText) != ids.key_check_) {
      return absl::PermissionDeniedError("the user id key does not match the one this model was saved with");
    }
    ids.user_id_key_ = std::string(user_id_key);
  }
  return ids;
}

// ---- Model ---------------------------------------------------------------------------------

Model::Model(std::string kind, std::unique_ptr<recommend::Recommender> recommender, ModelIds ids)
    : kind_(std::move(kind)), recommender_(std::move(recommender)), ids_(std::move(ids)) {}
Model::Model(std::string kind, std::unique_ptr<Scorer> scorer, ModelIds ids)
    : kind_(std::move(kind)), scorer_(std::move(scorer)), ids_(std::move(ids)) {}
Model::Model(std::string kind, std::unique_ptr<UpliftModel> uplift, ModelIds ids)
    : kind_(std::move(kind)), uplift_(std::move(uplift)), ids_(std::move(ids)) {}
Model::Model(std::string kind, std::unique_ptr<retrieval::VectorIndex> index, ModelIds ids)
    : kind_(std::move(kind)), index_(std::move(index)), ids_(std::move(ids)) {}

absl::StatusOr<ShopRecommendation> Model::Recommend(const ShopRecommendRequest& request) const {
  if (recommender_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("a '", kind_, "' model does not recommend"));
  }
  return RecommendInShopIds(*recommender_, ids_, request);
}

absl::StatusOr<ShopRecommendation> RecommendInShopIds(const recommend::Recommender& recommender, const ModelIds& ids,
                                                      const ShopRecommendRequest& request) {
  if (!request.filters.excluded_items.empty()) {
    return absl::InvalidArgumentError("give excluded items in the shop's ids (ShopRecommendRequest::excluded_items)");
  }
  const std::size_t n = request.session_items.size();
  if (!request.session_kinds.empty() && request.session_kinds.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("session has ", n, " items but ", request.session_kinds.size(), " event kinds"));
  }
  if (!request.session_timestamps.empty() && request.session_timestamps.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("session has ", n, " items but ", request.session_timestamps.size(), " timestamps"));
  }
  const std::int32_t num_items = recommender.num_items();
  ShopRecommendation out;
  std::vector<std::int32_t> items;
  std::vector<data::EventKind> kinds;
  std::vector<std::int64_t> timestamps;
  items.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    absl::StatusOr<std::int32_t> dense = ids.FindItem(request.session_items[i], num_items);
    if (!dense.ok()) {
      if (!absl::IsNotFound(dense.status())) return dense.status();
      out.unknown_items.push_back(request.session_items[i]);
      continue;
    }
    items.push_back(*dense);
    if (!request.session_kinds.empty()) kinds.push_back(request.session_kinds[i]);
    if (!request.session_timestamps.empty()) timestamps.push_back(request.session_timestamps[i]);
  }
  std::vector<std::int32_t> excluded;
  for (const std::string& id : request.excluded_items) {
    absl::StatusOr<std::int32_t> dense = ids.FindItem(id, num_items);
    if (dense.ok()) excluded.push_back(*dense);
  }
  recommend::RecommendRequest dense_request;
  dense_request.session_items = items;
  dense_request.session_kinds = kinds;
  dense_request.session_timestamps = timestamps;
  dense_request.k = request.k;
  dense_request.filters = request.filters;
  dense_request.filters.excluded_items = excluded;
  if (!request.user.empty()) {
    absl::StatusOr<std::int32_t> user = ids.FindUser(request.user);
    if (user.ok()) {
      dense_request.user = *user;
    } else if (absl::IsNotFound(user.status())) {
      out.unknown_user = true;
    } else {
      return user.status();
    }
  }
  COMPTOIR_ASSIGN_OR_RETURN(recommend::RecommendResponse response, recommender.Recommend(dense_request));
  out.items.reserve(response.items.size());
  for (std::int32_t item : response.items) out.items.push_back(ids.ItemId(item));
  out.scores = std::move(response.scores);
  out.reasons.reserve(response.reasons.size());
  for (const recommend::Reason& reason : response.reasons) {
    ShopReason shop{reason.kind, reason.anchor_item >= 0 ? ids.ItemId(reason.anchor_item) : std::string(),
                    reason.support, reason.category, {}};
    shop.text = reason.ToString(shop.anchor_item);
    out.reasons.push_back(std::move(shop));
  }
  return out;
}

absl::StatusOr<io::ModelFile> Model::ToModelFile(std::string_view user_id_key) const {
  absl::StatusOr<io::ModelFile> file = recommender_ ? recommender_->ToModelFile()
                                       : scorer_    ? scorer_->ToModelFile()
                                       : uplift_    ? uplift_->ToModelFile()
                                                    : index_->ToModelFile();
  if (!file.ok()) return file.status();
  COMPTOIR_RETURN_IF_ERROR(ids_.AppendTo(*file, user_id_key));
  return file;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModelFromFile(const io::ModelFile& file, const LoadOptions& options) {
  COMPTOIR_ASSIGN_OR_RETURN(ModelParts parts, internal::LoadParts(file));
  COMPTOIR_ASSIGN_OR_RETURN(ModelIds ids, ModelIds::ReadFrom(file, options.user_id_key));
  const std::string& kind = file.model_kind();
  if (parts.recommender) return std::make_unique<Model>(kind, std::move(parts.recommender), std::move(ids));
  if (parts.scorer) return std::make_unique<Model>(kind, std::move(parts.scorer), std::move(ids));
  if (parts.uplift) return std::make_unique<Model>(kind, std::move(parts.uplift), std::move(ids));
  return std::make_unique<Model>(kind, std::move(parts.index), std::move(ids));
}

absl::StatusOr<std::unique_ptr<Model>> LoadModelFromBytes(std::string_view bytes, const LoadOptions& options) {
  COMPTOIR_ASSIGN_OR_RETURN(const io::ModelFile file, io::ParseModelFile(bytes));
  return LoadModelFromFile(file, options);
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& options) {
  COMPTOIR_ASSIGN_OR_RETURN(const io::ModelFile file, io::ReadModelFile(path));
  absl::StatusOr<std::unique_ptr<Model>> model = LoadModelFromFile(file, options);
  if (!model.ok()) {
    absl::Status status(model.status().code(), absl::StrCat(path, ": ", model.status().message()));
    return IsModelFormatError(model.status()) ? MarkModelFormatError(status) : status;
  }
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path) { return LoadModel(path, LoadOptions{}); }

namespace recommend {

absl::StatusOr<std::unique_ptr<Recommender>> LoadRecommender(const io::ModelFile& file) {
  COMPTOIR_ASSIGN_OR_RETURN(ModelParts parts, internal::LoadParts(file));
  if (!parts.recommender) return WrongFamily(file, parts, "the model file", "recommender");
  return std::move(parts.recommender);
}

}  // namespace recommend
}  // namespace comptoir
