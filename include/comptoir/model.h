// One loader for every comptoir model file. A backend loads each file once with LoadModel, asks
// for the family it serves (recommender, scorer, uplift model, vector index) and calls it from
// many threads, in dense ids on hot paths or in the shop's own ids through the maps the file
// carries:
//
//   COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<comptoir::Model> model, comptoir::LoadModel(path));
//   if (const comptoir::Scorer* scorer = model->AsScorer()) { ... scorer->Score(rows) ... }
//   if (model->AsRecommender() != nullptr) { ... model->Recommend(shop_request) ... }
//
// Kinds, what each file holds and which family serves it: docs/model_files.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/data/event_log.h"
#include "comptoir/io/model_file.h"
#include "comptoir/recommend/recommender.h"
#include "comptoir/retrieval/vector_index.h"
#include "comptoir/scorer.h"

namespace comptoir {

// The shop's ids a model was trained with: items, and users for the models that keep per-user
// state (session kNN's sessions, embedding profiles). Dense ids 0..n-1 are what the model computes
// with. User ids are personal data: saved with a key, a file holds only keyed hashes of them
// (SipHash-2-4 under a key derived from the host's secret, which is never written), so it can map
// a known customer to their state but cannot list who the customers are.
class ModelIds {
 public:
  ModelIds() = default;
  ModelIds(data::IdMap items, data::IdMap users) : items_(std::move(items)), users_(std::move(users)) {}

  const data::IdMap& items() const { return items_; }
  bool has_items() const { return items_.size() > 0; }
  bool has_users() const { return users_.size() > 0 || !user_hashes_.empty(); }
  bool users_pseudonymised() const { return !user_hashes_.empty(); }
  // The plain user map (empty when pseudonymised).
  const data::IdMap& users() const { return users_; }

  // The dense id of a shop item given as text (decimal for integer ids). Without an item map the
  // text must be a dense id below `num_items`. NotFound naming the id when the model never saw it.
  absl::StatusOr<std::int32_t> FindItem(std::string_view id, std::int32_t num_items) const;
  // The shop's id of a dense item, as text (the dense id itself without a map).
  std::string ItemId(std::int32_t dense) const;
  // The dense id of a user; NotFound when unknown, FailedPrecondition when the users are
  // pseudonymised and the model was loaded without the key.
  absl::StatusOr<std::int32_t> FindUser(std::string_view id) const;

  // Blobs "item_ids" and "user_ids", or "user_id_hashes" when `user_id_key` is not empty (at
  // least 16 bytes). Reading a pseudonymised file with a wrong key is PermissionDenied.
  absl::Status AppendTo(io::ModelFile& file, std::string_view user_id_key = {}) const;
  static absl::StatusOr<ModelIds> ReadFrom(const io::ModelFile& file, std::string_view user_id_key = {});

 private:
  data::IdMap items_, users_;
  std::vector<std::pair<std::uint64_t, std::int32_t>> user_hashes_;  // sorted by hash
  std::uint64_t key_check_ = 0;
  std::string user_id_key_;  // kept in memory only, to hash the ids looked up
};

struct LoadOptions {
  // The secret a pseudonymised model was saved with (empty: user lookups are refused).
  std::string user_id_key;
};

// A recommendation request in the shop's ids.
struct ShopRecommendRequest {
  std::vector<std::string> session_items;            // oldest first
  std::vector<data::EventKind> session_kinds;        // empty = all views
  std::vector<std::int64_t> session_timestamps;      // empty = unknown
  std::string user;                                  // empty = anonymous
  std::int32_t k = 20;
  std::vector<std::string> excluded_items;           // never shown (cart, bought); unknown ones ignored
  // Dense-id rules (stock flags, catalogue, categories, prices); its excluded_items must be empty.
  recommend::RecommendFilters filters;
};

struct ShopReason {
  recommend::ReasonKind kind = recommend::ReasonKind::kTrending;
  std::string anchor_item;  // the shop's id of the session item behind it, or empty
  std::int32_t support = 0;
  std::int32_t category = -1;
  std::string text;         // one sentence, quoting the shop's ids
};

struct ShopRecommendation {
  std::vector<std::string> items;
  std::vector<float> scores;
  std::vector<ShopReason> reasons;
  std::vector<std::string> unknown_items;  // session items the model never saw (ignored)
  bool unknown_user = false;               // the user was given but is not known (served anonymously)
};

class Model {
 public:
  Model(std::string kind, std::unique_ptr<recommend::Recommender> recommender, ModelIds ids = {});
  Model(std::string kind, std::unique_ptr<Scorer> scorer, ModelIds ids = {});
  Model(std::string kind, std::unique_ptr<UpliftModel> uplift, ModelIds ids = {});
  Model(std::string kind, std::unique_ptr<retrieval::VectorIndex> index, ModelIds ids = {});

  // The model kind, as `comptoir inspect-model` prints it.
  const std::string& kind() const { return kind_; }
  // The family interface, or nullptr when the model is of another family.
  const recommend::Recommender* AsRecommender() const { return recommender_.get(); }
  recommend::Recommender* AsRecommender() { return recommender_.get(); }
  const Scorer* AsScorer() const { return scorer_.get(); }
  const UpliftModel* AsUpliftModel() const { return uplift_.get(); }
  const retrieval::VectorIndex* AsVectorIndex() const { return index_.get(); }
  const ModelIds& ids() const { return ids_; }

  // Recommendations in the shop's ids (FailedPrecondition if this is not a recommender).
  absl::StatusOr<ShopRecommendation> Recommend(const ShopRecommendRequest& request) const;

  // The model's file again, ids included (user ids hashed when `user_id_key` is given).
  absl::StatusOr<io::ModelFile> ToModelFile(std::string_view user_id_key = {}) const;

 private:
  std::string kind_;
  std::unique_ptr<recommend::Recommender> recommender_;
  std::unique_ptr<Scorer> scorer_;
  std::unique_ptr<UpliftModel> uplift_;
  std::unique_ptr<retrieval::VectorIndex> index_;
  ModelIds ids_;
};

// What Model::Recommend does, for a host (or binding) that keeps its recommender and id maps
// apart: the request's shop ids through `ids`, the answer back in them.
absl::StatusOr<ShopRecommendation> RecommendInShopIds(const recommend::Recommender& recommender, const ModelIds& ids,
                                                      const ShopRecommendRequest& request);

// Any comptoir model file, by its kind. ModelFormatError-marked statuses (DataLoss or
// FailedPrecondition) for damaged files, unknown kinds, newer format versions and missing blobs;
// NotFound when the file does not exist.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path);
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& options);
absl::StatusOr<std::unique_ptr<Model>> LoadModelFromBytes(std::string_view bytes, const LoadOptions& options = {});
absl::StatusOr<std::unique_ptr<Model>> LoadModelFromFile(const io::ModelFile& file, const LoadOptions& options = {});

// The kinds LoadModel knows, in registry order.
std::vector<std::string> ModelKinds();

}  // namespace comptoir
