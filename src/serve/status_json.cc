#include "status_json.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace comptoir::serve {
namespace {

// Deepest bracket nesting outside strings, stopping once past `limit`.
int NestingDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

std::string TypeName(const Json& value) { return value.type_name(); }

}  // namespace

absl::StatusOr<Json> ParseBody(std::string_view body) {
  if (body.empty()) return absl::InvalidArgumentError("the request body is empty: a JSON object is expected");
  if (NestingDepth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat("malformed request: JSON nested deeper than ", kMaxJsonDepth));
  }
  Json parsed = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // Parse again for the position of the error (only on the failure path).
    try {
      const Json again = Json::parse(body.begin(), body.end());
      static_cast<void>(again);
    } catch (const Json::exception& error) {  // a parse error, or a number past a double (out_of_range)
      return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", error.what()));
    }
    return absl::InvalidArgumentError("malformed JSON");
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("the request body must be a JSON object, not ", TypeName(parsed)));
  }
  return parsed;
}

absl::StatusOr<std::string> RequiredString(const Json& object, const char* field) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return absl::InvalidArgumentError(absl::StrCat("missing field '", field, "'"));
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' must be a string, not ", TypeName(*it)));
  }
  return it->get<std::string>();
}

absl::StatusOr<std::string> OptionalString(const Json& object, const char* field, std::string fallback) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' must be a string, not ", TypeName(*it)));
  }
  return it->get<std::string>();
}

absl::StatusOr<std::int64_t> OptionalInt(const Json& object, const char* field, std::int64_t fallback) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' must be an integer, not ", TypeName(*it)));
  }
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' is out of range"));
  }
  return it->get<std::int64_t>();
}

absl::StatusOr<bool> OptionalBool(const Json& object, const char* field, bool fallback) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' must be true or false, not ", TypeName(*it)));
  }
  return it->get<bool>();
}

absl::StatusOr<std::string> IdText(const Json& value, const std::string& what) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return value.dump();
  return absl::InvalidArgumentError(absl::StrCat(what, " must be a string or an integer id, not ", TypeName(value)));
}

absl::StatusOr<std::string> OptionalId(const Json& object, const char* field) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::string();
  return IdText(*it, absl::StrCat("'", field, "'"));
}

absl::StatusOr<std::vector<std::string>> OptionalIdList(const Json& object, const char* field, std::size_t max_size) {
  std::vector<std::string> ids;
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return ids;
  if (!it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("field '", field, "' must be an array of ids, not ", TypeName(*it)));
  }
  if (it->size() > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field, "' has ", it->size(), " entries, more than the ", max_size, " allowed"));
  }
  ids.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto id = IdText((*it)[i], absl::StrCat("'", field, "[", i, "]'"));
    if (!id.ok()) return id.status();
    ids.push_back(*std::move(id));
  }
  return ids;
}

Json ErrorBody(const absl::Status& status) {
  return Json{{"error", std::string(status.message())}, {"code", absl::StatusCodeToString(status.code())}};
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kResourceExhausted: return 413;
    case absl::StatusCode::kUnimplemented: return 501;
    default: return 500;
  }
}

}  // namespace comptoir::serve
