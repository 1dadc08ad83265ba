// The service's request handling without a socket: the first byte picks the endpoint, the rest
// is the body, handled exactly as server.cc does (ParseBody, the handler, the answer written out).
// The models are golden files, so requests meet every family the service serves. An exception
// escaping a handler is a finding: the HTTP layer would turn it into a 500.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "handlers.h"
#include "live_sessions.h"
#include "model_store.h"

#ifndef COMPTOIR_GOLDEN_DIR
#error "COMPTOIR_GOLDEN_DIR names the golden model files"
#endif

namespace {

using comptoir::serve::Json;

struct Service {
  std::unique_ptr<comptoir::serve::ModelStore> models;
  std::unique_ptr<comptoir::serve::LiveSessions> sessions;
  comptoir::serve::ServiceState state;
};

Service& TheService() {
  static Service* service = [] {
    auto* s = new Service;
    std::map<std::string, std::string> specs;
    for (const char* kind : {"session_knn", "hybrid", "popularity", "embedding_recommender", "logistic_regression",
                             "gradient_boosting_classifier", "t_learner", "uplift_forest"}) {
      specs[kind] = std::string(COMPTOIR_GOLDEN_DIR) + "/" + kind + ".cmf";
    }
    auto store = comptoir::serve::ModelStore::Open(specs, {}, 1000);
    if (!store.ok()) std::abort();
    s->models = *std::move(store);
    comptoir::serve::LiveSessionOptions options;
    options.max_sessions = 64;
    options.max_events = 16;
    s->sessions = std::make_unique<comptoir::serve::LiveSessions>(
        options, [models = s->models.get()](comptoir::serve::EndedSession ended) { models->AddEndedSession(ended); });
    s->state.models = s->models.get();
    s->state.sessions = s->sessions.get();
    return s;
  }();
  return *service;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Service& service = TheService();
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<Json> answer = comptoir::serve::ParseBody(body);
  if (answer.ok()) {
    switch (data[0]) {
      case 'r': answer = comptoir::serve::HandleRecommend(service.state, *answer); break;
      case 'e': answer = comptoir::serve::HandleEvents(service.state, *answer); break;
      case 's': answer = comptoir::serve::HandleScore(service.state, *answer); break;
      case 'o': answer = comptoir::serve::HandleOffer(service.state, *answer); break;
      case 'f': answer = comptoir::serve::HandleForget(service.state, *answer); break;
      default: answer = comptoir::serve::Health(service.state); break;
    }
  }
  const Json reply = answer.ok() ? *answer : comptoir::serve::ErrorBody(answer.status());
  (void)comptoir::serve::HttpStatusOf(answer.status());
  (void)reply.dump(-1, ' ', false, Json::error_handler_t::replace);
  return 0;
}
