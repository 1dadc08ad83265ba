// The endpoints as functions from a parsed JSON body to a JSON answer; a status that is not OK
// becomes a 4xx/5xx answer naming the problem (status_json.h). The HTTP wiring is in server.cc.
#pragma once

#include "absl/status/statusor.h"
#include "live_sessions.h"
#include "model_store.h"
#include "status_json.h"

namespace comptoir::serve {

struct ServiceState {
  ModelStore* models = nullptr;
  LiveSessions* sessions = nullptr;
};

// POST /v1/recommend: {"model", "items" | "session_id", "k", "user", "kinds", "exclude",
// "in_stock", "categories", "min_price", "max_price", "exclude_session_items", "consent"} ->
// {"items", "scores", "reasons", "unknown", "unknown_categories"}.
absl::StatusOr<Json> HandleRecommend(const ServiceState& state, const Json& body);
// POST /v1/events: {"session_id", "user", "item", "kind", "timestamp", "consent"} or
// {"session_id", "end": true}.
absl::StatusOr<Json> HandleEvents(const ServiceState& state, const Json& body);
// POST /v1/forget: {"user"}.
absl::StatusOr<Json> HandleForget(const ServiceState& state, const Json& body);
// POST /v1/score: {"model", "rows": [{feature: value}], "top"}.
absl::StatusOr<Json> HandleScore(const ServiceState& state, const Json& body);
// POST /v1/offer: {"model", "features": {feature: value}, "value", "cost", "top"}.
absl::StatusOr<Json> HandleOffer(const ServiceState& state, const Json& body);
// GET /healthz.
Json Health(const ServiceState& state);

}  // namespace comptoir::serve
