// The models a service serves, by name, and their hot swap. Requests take a snapshot (shared_ptrs
// to immutable-by-contract models) and keep it for their whole duration, so a reload never pulls a
// model from under a request in flight: it loads every file completely first and swaps the whole
// set at once, or, if any file fails, keeps the old set and says why.
//
// Mutation. The only models changed while serving are session kNNs (sessions that ended online,
// erasures); SessionKnn guards its index with its own reader/writer lock, so AddSession and Forget
// run concurrently with Recommend. What the online phase changed is kept as a journal (added
// sessions, erased users) and replayed onto each reloaded model, so a reload neither loses the
// sessions learned online nor brings back a user who was erased.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/model.h"
#include "comptoir/recommend/session_knn.h"
#include "catalogue.h"

namespace comptoir::serve {

struct ServedModel {
  std::string name;
  std::string path;
  std::shared_ptr<Model> model;
  std::int64_t version = 0;  // 1 at start-up, +1 per successful reload
  std::int64_t loaded_at = 0;  // unix seconds
  // The product feed (null without --catalogue) and, for a recommender, the feed in its dense ids.
  std::shared_ptr<const ShopCatalogue> shop_catalogue;
  std::shared_ptr<const data::Catalogue> catalogue;
};

using ModelSet = std::map<std::string, std::shared_ptr<const ServedModel>>;

// A session that ended, in the shop's ids, as the journal keeps it.
struct EndedSession {
  std::vector<std::string> items;
  std::int64_t timestamp = 0;
  std::string user;  // empty = anonymous
};

struct ForgetReport {
  std::map<std::string, std::int64_t> removed_sessions;  // per model that held the user
  std::vector<std::string> not_erasable;  // models that hold users but offer no erasure here
  // Sessions that went into a kNN anonymously are taken out by rebuilding the models from their
  // files and the journal; not OK when that rebuild failed (the sessions are still in).
  absl::Status rebuild;
};

class ModelStore {
 public:
  // `specs` are NAME -> PATH; `catalogue_path` the product feed, or empty. Fails naming the first
  // file that does not load.
  static absl::StatusOr<std::unique_ptr<ModelStore>> Open(const std::map<std::string, std::string>& specs,
                                                          const LoadOptions& options, std::size_t journal_limit,
                                                          std::string catalogue_path = {});

  // Keep the returned pointer while using the set: `for (... : *Snapshot())` would let a reload
  // free the set under the loop.
  std::shared_ptr<const ModelSet> Snapshot() const;
  // NotFound naming the model and the loaded ones.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Find(const std::string& name) const;

  // Reloads every file (the catalogue too); on failure nothing changes and the status says which
  // file failed.
  absl::Status Reload();
  // Adds an ended session to every session kNN it has known items for; returns how many took it.
  int AddEndedSession(const EndedSession& session);
  ForgetReport Forget(const std::string& user);

  std::int64_t reloads() const;
  std::int64_t failed_reloads() const;

 private:
  ModelStore(std::map<std::string, std::string> specs, LoadOptions options, std::size_t journal_limit,
             std::string catalogue_path)
      : specs_(std::move(specs)),
        options_(std::move(options)),
        journal_limit_(journal_limit),
        catalogue_path_(std::move(catalogue_path)) {}
  // Every model file and the catalogue, loaded completely, or the first failure.
  absl::StatusOr<std::vector<std::shared_ptr<ServedModel>>> LoadAll() const;
  // Applies the journal (erasures, then the sessions kept) to a freshly loaded model.
  void Replay(Model& model) const;

  const std::map<std::string, std::string> specs_;
  const LoadOptions options_;
  const std::size_t journal_limit_;
  const std::string catalogue_path_;

  mutable std::mutex snapshot_mutex_;  // guards models_ (the pointer, not the models)
  std::shared_ptr<const ModelSet> models_;

  std::mutex reload_mutex_;  // one reload at a time
  // Serialises the journal, its replay and the swap against online updates (never held by Recommend).
  mutable std::mutex journal_mutex_;
  // Oldest first, at most journal_limit_: only these are replayed after a reload (older online
  // sessions are lost with the models that learned them).
  std::vector<EndedSession> journal_;
  std::vector<std::string> forgotten_;  // users erased while serving
  std::int64_t reloads_ = 0, failed_reloads_ = 0;
};

// The session kNN behind a model, when it is one (mutable: its own lock guards its index).
recommend::SessionKnn* AsSessionKnn(Model& model);

}  // namespace comptoir::serve
