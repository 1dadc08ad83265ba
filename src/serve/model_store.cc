#include "model_store.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "comptoir/recommend/session_knn.h"
#include "comptoir/status.h"

namespace comptoir::serve {
namespace {

std::int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The dense ids of the items the model knows (unknown ones dropped: the shop's catalogue grows
// between trainings, and a session still teaches what it shares with the model).
std::vector<std::int32_t> KnownItems(const Model& model, const std::vector<std::string>& items) {
  std::vector<std::int32_t> dense;
  const std::int32_t num_items = model.AsRecommender()->num_items();
  for (const std::string& item : items) {
    if (const auto id = model.ids().FindItem(item, num_items); id.ok()) dense.push_back(*id);
  }
  return dense;
}

std::int32_t DenseUser(const Model& model, const std::string& user) {
  if (user.empty() || !model.ids().has_users()) return -1;
  const auto id = model.ids().FindUser(user);
  return id.ok() ? *id : -1;
}

}  // namespace

recommend::SessionKnn* AsSessionKnn(Model& model) {
  return dynamic_cast<recommend::SessionKnn*>(model.AsRecommender());
}

absl::StatusOr<std::vector<std::shared_ptr<ServedModel>>> ModelStore::LoadAll() const {
  std::shared_ptr<const ShopCatalogue> shop_catalogue;
  if (!catalogue_path_.empty()) {
    COMPTOIR_ASSIGN_OR_RETURN(shop_catalogue, ShopCatalogue::Read(catalogue_path_));
  }
  std::vector<std::shared_ptr<ServedModel>> loaded;
  for (const auto& [name, path] : specs_) {
    auto model = LoadModel(path, options_);
    if (!model.ok()) {
      return absl::Status(model.status().code(), absl::StrCat("model '", name, "' (", path, "): ", model.status().message()));
    }
    auto served = std::make_shared<ServedModel>();
    served->name = name;
    served->path = path;
    served->model = std::shared_ptr<Model>(*std::move(model));
    served->loaded_at = UnixSeconds();
    if (shop_catalogue != nullptr) {
      served->shop_catalogue = shop_catalogue;
      served->catalogue = shop_catalogue->AlignTo(*served->model);
    }
    loaded.push_back(std::move(served));
  }
  return loaded;
}

absl::StatusOr<std::unique_ptr<ModelStore>> ModelStore::Open(const std::map<std::string, std::string>& specs,
                                                             const LoadOptions& options, std::size_t journal_limit,
                                                             std::string catalogue_path) {
  std::unique_ptr<ModelStore> store(new ModelStore(specs, options, journal_limit, std::move(catalogue_path)));
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<ServedModel>> loaded, store->LoadAll());
  auto models = std::make_shared<ModelSet>();
  for (auto& served : loaded) {
    served->version = 1;
    models->emplace(served->name, std::move(served));
  }
  store->models_ = std::move(models);
  return store;
}

std::shared_ptr<const ModelSet> ModelStore::Snapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return models_;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelStore::Find(const std::string& name) const {
  const std::shared_ptr<const ModelSet> models = Snapshot();
  const auto it = models->find(name);
  if (it != models->end()) return it->second;
  std::vector<std::string> names;
  for (const auto& entry : *models) names.push_back(entry.first);
  return absl::NotFoundError(absl::StrCat("unknown model '", name, "' (loaded: ", absl::StrJoin(names, ", "), ")"));
}

void ModelStore::Replay(Model& model) const {
  recommend::Recommender* recommender = model.AsRecommender();
  if (recommender == nullptr) return;
  for (const std::string& user : forgotten_) {
    if (const std::int32_t dense = DenseUser(model, user); dense >= 0) recommender->ForgetUser(dense);
  }
  recommend::SessionKnn* knn = AsSessionKnn(model);
  if (knn == nullptr) return;
  for (const EndedSession& session : journal_) {
    const std::vector<std::int32_t> items = KnownItems(model, session.items);
    if (!items.empty()) (void)knn->AddSession(items, session.timestamp, DenseUser(model, session.user));
  }
}

absl::Status ModelStore::Reload() {
  // Files load without the journal lock (sessions keep ending meanwhile); the journal is replayed
  // onto the new models and the set swapped under it, so no session falls between the two sets.
  std::lock_guard<std::mutex> reload_lock(reload_mutex_);
  auto loaded = LoadAll();
  std::lock_guard<std::mutex> journal_lock(journal_mutex_);
  if (!loaded.ok()) {
    ++failed_reloads_;
    return absl::Status(loaded.status().code(),
                        absl::StrCat("reload failed, the old models keep serving: ", loaded.status().message()));
  }
  const std::shared_ptr<const ModelSet> old = Snapshot();
  auto fresh = std::make_shared<ModelSet>();
  for (auto& served : *loaded) {
    Replay(*served->model);
    served->version = old->at(served->name)->version + 1;
    fresh->emplace(served->name, std::move(served));
  }
  {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    models_ = std::move(fresh);
  }
  ++reloads_;
  return absl::OkStatus();
}

int ModelStore::AddEndedSession(const EndedSession& session) {
  std::lock_guard<std::mutex> journal_lock(journal_mutex_);
  int taken = 0;
  const std::shared_ptr<const ModelSet> models = Snapshot();
  for (const auto& [name, served] : *models) {
    recommend::SessionKnn* knn = AsSessionKnn(*served->model);
    if (knn == nullptr) continue;
    const std::vector<std::int32_t> items = KnownItems(*served->model, session.items);
    if (items.empty()) continue;
    if (knn->AddSession(items, session.timestamp, DenseUser(*served->model, session.user)).ok()) ++taken;
  }
  if (taken > 0 && journal_limit_ > 0) {
    if (journal_.size() >= journal_limit_) journal_.erase(journal_.begin());
    journal_.push_back(session);
  }
  return taken;
}

ForgetReport ModelStore::Forget(const std::string& user) {
  ForgetReport report;
  bool rebuild = false;
  {
    std::lock_guard<std::mutex> journal_lock(journal_mutex_);
    const auto removed = std::remove_if(journal_.begin(), journal_.end(),
                                        [&](const EndedSession& session) { return session.user == user; });
    const std::int64_t journal_removed = journal_.end() - removed;
    journal_.erase(removed, journal_.end());
    bool known = false;
    const std::shared_ptr<const ModelSet> models = Snapshot();
    for (const auto& [name, served] : *models) {
      Model& model = *served->model;
      if (model.ids().has_users() && model.ids().FindUser(user).status().code() == absl::StatusCode::kFailedPrecondition) {
        report.not_erasable.push_back(name);  // pseudonymised, and the service was started without the key
        if (AsSessionKnn(model) != nullptr && journal_removed > 0) rebuild = true;  // its online sessions went in anonymously
        continue;
      }
      const std::int32_t dense = DenseUser(model, user);
      known = known || dense >= 0;
      if (recommend::SessionKnn* knn = AsSessionKnn(model)) {
        std::int64_t count = dense >= 0 ? knn->Forget(dense) : 0;
        if (dense < 0 && journal_removed > 0) {
          // The user's online sessions went in anonymously (the file did not know them): only a
          // rebuild from the file and the journal, now without them, takes them out again.
          rebuild = true;
          count += journal_removed;
        }
        if (count > 0) report.removed_sessions[name] = count;
      } else if (model.ids().has_users() && dense >= 0) {
        // Embedding profiles, a hybrid's parts: every recommender erases what it holds of a user.
        if (recommend::Recommender* recommender = model.AsRecommender()) {
          if (const std::int64_t count = recommender->ForgetUser(dense); count > 0) report.removed_sessions[name] = count;
        } else {
          report.not_erasable.push_back(name);
        }
      }
    }
    // Remembered only when a file holds them (so that a reload of that file erases them again);
    // a stream of unknown names cannot grow this list.
    if (known && std::find(forgotten_.begin(), forgotten_.end(), user) == forgotten_.end()) forgotten_.push_back(user);
  }
  if (rebuild) report.rebuild = Reload();
  return report;
}

std::int64_t ModelStore::reloads() const {
  std::lock_guard<std::mutex> lock(journal_mutex_);
  return reloads_;
}

std::int64_t ModelStore::failed_reloads() const {
  std::lock_guard<std::mutex> lock(journal_mutex_);
  return failed_reloads_;
}

}  // namespace comptoir::serve
