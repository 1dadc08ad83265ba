// /v1/recommend, /v1/events and /v1/forget: the recommenders and the live sessions.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comptoir/recommend/session_knn.h"
#include "handlers.h"

namespace comptoir::serve {
namespace {

// A category no item has (the catalogue's ids start at 0, -1 is "no category").
constexpr std::int32_t kNoCategory = -2;

absl::StatusOr<std::vector<data::EventKind>> ParseKinds(const Json& body, std::size_t num_items) {
  std::vector<data::EventKind> kinds;
  const auto it = body.find("kinds");
  if (it == body.end() || it->is_null()) return kinds;
  if (!it->is_array()) return absl::InvalidArgumentError("field 'kinds' must be an array of event kinds");
  if (it->size() != num_items) {
    return absl::InvalidArgumentError(
        absl::StrCat("field 'kinds' has ", it->size(), " entries for ", num_items, " items: one kind per item"));
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const Json& kind = (*it)[i];
    if (!kind.is_string() && !kind.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("'kinds[", i, "]' must be an event kind name or code"));
    }
    auto parsed = ParseEventKind(kind.is_string() ? kind.get<std::string>() : kind.dump());
    if (!parsed.ok()) return parsed.status();
    kinds.push_back(*parsed);
  }
  return kinds;
}

// "categories" (names from the catalogue), "min_price" and "max_price": the catalogue's rules on
// the request's filters. Categories the feed does not know are reported, and keep nothing.
absl::Status ApplyCatalogueRules(const ServedModel& served, const Json& body, recommend::RecommendFilters& filters,
                                 std::vector<std::int32_t>& categories, std::vector<std::string>& unknown) {
  const bool has_categories = body.contains("categories") && !body["categories"].is_null();
  const bool has_prices = (body.contains("min_price") && !body["min_price"].is_null()) ||
                          (body.contains("max_price") && !body["max_price"].is_null());
  if (!has_categories && !has_prices) return absl::OkStatus();
  if (served.catalogue == nullptr) {
    return absl::FailedPreconditionError(
        "'categories' and price rules need the product feed: start comptoir-serve with --catalogue PATH");
  }
  if (has_categories) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::string> names, OptionalIdList(body, "categories", kMaxSessionItems));
    for (const std::string& name : names) {
      const std::int32_t id = served.shop_catalogue->FindCategory(name);
      if (id < 0) {
        unknown.push_back(name);
      } else {
        categories.push_back(id);
      }
    }
    // Only unknown categories: nothing may be shown (an empty list would mean "no rule").
    if (categories.empty() && !names.empty()) categories.push_back(kNoCategory);
    filters.allowed_categories = categories;
  }
  if (has_prices) {
    if (!served.shop_catalogue->has_prices()) return absl::FailedPreconditionError("price rules need a price column in the catalogue");
    for (const char* field : {"min_price", "max_price"}) {
      const auto it = body.find(field);
      if (it == body.end() || it->is_null()) continue;
      if (!it->is_number() || !(it->get<double>() >= 0) || it->get<double>() > 3e38) {
        return absl::InvalidArgumentError(absl::StrCat("'", field, "' must be a non-negative number"));
      }
      (std::string_view(field) == "min_price" ? filters.min_price : filters.max_price) = it->get<float>();
    }
  }
  filters.catalogue = served.catalogue.get();
  return absl::OkStatus();
}

std::int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

absl::StatusOr<Json> HandleRecommend(const ServiceState& state, const Json& body) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::string name, RequiredString(body, "model"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::int64_t k, OptionalInt(body, "k", 20));
  if (k <= 0 || k > kMaxK) return absl::InvalidArgumentError(absl::StrCat("'k' must be in 1..", kMaxK, ", got ", k));
  COMPTOIR_ASSIGN_OR_RETURN(const bool consent, OptionalBool(body, "consent", true));
  COMPTOIR_ASSIGN_OR_RETURN(const std::string session_id, OptionalString(body, "session_id"));
  COMPTOIR_ASSIGN_OR_RETURN(std::string user, OptionalId(body, "user"));
  COMPTOIR_ASSIGN_OR_RETURN(const bool exclude_session, OptionalBool(body, "exclude_session_items", false));

  ShopRecommendRequest request;
  request.k = static_cast<std::int32_t>(k);
  const bool has_items = body.contains("items") && !body["items"].is_null();
  COMPTOIR_ASSIGN_OR_RETURN(request.session_items, OptionalIdList(body, "items", kMaxSessionItems));
  COMPTOIR_ASSIGN_OR_RETURN(request.session_kinds, ParseKinds(body, request.session_items.size()));
  if (!has_items && !session_id.empty() && consent) {
    // Only the session named: what it did so far (an unknown or expired one is an empty session).
    if (auto so_far = state.sessions->Get(session_id); so_far.ok()) {
      request.session_items = std::move(so_far->items);
      request.session_kinds = std::move(so_far->kinds);
      request.session_timestamps = std::move(so_far->timestamps);
      if (user.empty()) user = so_far->user;
    }
  } else if (!has_items && session_id.empty()) {
    return absl::InvalidArgumentError("give the session as 'items' or name a live one with 'session_id'");
  }
  if (consent) request.user = user;  // without consent: no history, no profile
  COMPTOIR_ASSIGN_OR_RETURN(request.excluded_items, OptionalIdList(body, "exclude", kMaxSessionItems));
  request.filters.exclude_session_items = exclude_session;

  COMPTOIR_ASSIGN_OR_RETURN(const std::shared_ptr<const ServedModel> served, state.models->Find(name));
  const Model& model = *served->model;
  if (model.AsRecommender() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name, "' is a ", model.kind(), " model, not a recommender"));
  }
  std::vector<std::int32_t> categories;
  std::vector<std::string> unknown_categories;
  COMPTOIR_RETURN_IF_ERROR(ApplyCatalogueRules(*served, body, request.filters, categories, unknown_categories));
  std::vector<std::uint8_t> allowed;
  if (body.contains("in_stock") && !body["in_stock"].is_null()) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::string> in_stock,
                              OptionalIdList(body, "in_stock", static_cast<std::size_t>(kMaxSessionItems) * 100));
    const std::int32_t num_items = model.AsRecommender()->num_items();
    allowed.assign(static_cast<std::size_t>(num_items), 0);
    for (const std::string& item : in_stock) {
      if (const auto dense = model.ids().FindItem(item, num_items); dense.ok()) allowed[static_cast<std::size_t>(*dense)] = 1;
    }
    request.filters.allowed_items = allowed;
  }
  if (request.user.empty() == false && !model.ids().has_users()) request.user.clear();  // nothing to personalise with

  auto answer = model.Recommend(request);
  if (!answer.ok()) {
    // A user the model cannot look up (a pseudonymised file loaded without its key) is served anonymously.
    if (answer.status().code() == absl::StatusCode::kFailedPrecondition && !request.user.empty()) {
      request.user.clear();
      answer = model.Recommend(request);
    }
    if (!answer.ok()) return answer.status();
  }
  Json reasons = Json::array();
  for (const ShopReason& reason : answer->reasons) {
    reasons.push_back({{"kind", recommend::ReasonKindName(reason.kind)},
                       {"anchor", reason.anchor_item.empty() ? Json(nullptr) : Json(reason.anchor_item)},
                       {"support", reason.support},
                       {"text", reason.text}});
  }
  return Json{{"model", name},
              {"version", served->version},
              {"items", answer->items},
              {"scores", answer->scores},
              {"reasons", std::move(reasons)},
              {"unknown", answer->unknown_items},
              {"unknown_categories", std::move(unknown_categories)},
              {"personalised", consent && !request.user.empty() && !answer->unknown_user}};
}

absl::StatusOr<Json> HandleEvents(const ServiceState& state, const Json& body) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::string session_id, RequiredString(body, "session_id"));
  if (session_id.empty() || session_id.size() > 256) return absl::InvalidArgumentError("'session_id' must be 1..256 characters");
  COMPTOIR_ASSIGN_OR_RETURN(const bool end, OptionalBool(body, "end", false));
  COMPTOIR_ASSIGN_OR_RETURN(const bool consent, OptionalBool(body, "consent", true));
  if (!consent) return Json{{"recorded", false}, {"reason", "no consent: the event is not stored"}};
  bool recorded = false;
  if (body.contains("item") && !body["item"].is_null()) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::string item, IdText(body["item"], "'item'"));
    COMPTOIR_ASSIGN_OR_RETURN(const std::string user, OptionalId(body, "user"));
    data::EventKind kind = data::EventKind::kView;
    if (const auto it = body.find("kind"); it != body.end() && !it->is_null()) {
      COMPTOIR_ASSIGN_OR_RETURN(const std::string kind_text, IdText(*it, "'kind'"));
      COMPTOIR_ASSIGN_OR_RETURN(kind, ParseEventKind(kind_text));
    }
    COMPTOIR_ASSIGN_OR_RETURN(std::int64_t timestamp, OptionalInt(body, "timestamp", 0));
    if (timestamp <= 0) timestamp = UnixSeconds();
    COMPTOIR_RETURN_IF_ERROR(state.sessions->Record(session_id, user, item, kind, timestamp));
    recorded = true;
  } else if (!end) {
    return absl::InvalidArgumentError("an event needs an 'item' (or \"end\": true to end the session)");
  }
  bool ended = false;
  if (end) ended = state.sessions->End(session_id);
  return Json{{"recorded", recorded}, {"ended", ended}, {"live_sessions", state.sessions->size()}};
}

absl::StatusOr<Json> HandleForget(const ServiceState& state, const Json& body) {
  if (!body.contains("user")) return absl::InvalidArgumentError("missing field 'user'");
  COMPTOIR_ASSIGN_OR_RETURN(const std::string user, IdText(body["user"], "'user'"));
  if (user.empty()) return absl::InvalidArgumentError("'user' must not be empty");
  const std::int64_t live = state.sessions->Forget(user);
  const ForgetReport report = state.models->Forget(user);
  Json answer{{"user", user},
              {"live_sessions_removed", live},
              {"removed_sessions", report.removed_sessions},
              {"not_erasable", report.not_erasable}};
  if (!report.rebuild.ok()) answer["rebuild_error"] = std::string(report.rebuild.message());
  return answer;
}

Json Health(const ServiceState& state) {
  Json models = Json::array();
  const std::shared_ptr<const ModelSet> snapshot = state.models->Snapshot();
  for (const auto& [name, served] : *snapshot) {
    const Model& model = *served->model;
    const char* family = model.AsRecommender() != nullptr ? "recommender"
                         : model.AsScorer() != nullptr    ? "scorer"
                         : model.AsUpliftModel() != nullptr ? "uplift"
                                                            : "vector_index";
    models.push_back({{"name", name}, {"kind", model.kind()}, {"family", family}, {"version", served->version},
                      {"path", served->path}});
  }
  return Json{{"status", "ok"}, {"models", std::move(models)}, {"live_sessions", state.sessions->size()}};
}

}  // namespace comptoir::serve
