// JSON in and out of the service's handlers: field readers that name the field and the problem in
// their status (a request's mistakes become 4xx answers, never exceptions past a handler), and the
// mapping from absl status codes to HTTP statuses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/status.h"

namespace comptoir::serve {

using Json = nlohmann::json;

// Limits every endpoint enforces (the HTTP layer caps the body at kMaxBodyBytes).
inline constexpr std::size_t kMaxBodyBytes = 1 << 20;
inline constexpr std::int64_t kMaxK = 10'000;
inline constexpr std::size_t kMaxSessionItems = 10'000;
inline constexpr std::size_t kMaxRows = 10'000;
inline constexpr int kMaxJsonDepth = 32;

// The body as a JSON object; InvalidArgument naming the parse error, a nesting deeper than
// kMaxJsonDepth (checked before parsing, so a crafted body cannot exhaust the stack) or a
// non-object top level.
absl::StatusOr<Json> ParseBody(std::string_view body);

// Readers of one field of `object`. `Required...` are InvalidArgument when the field is absent;
// the optional ones return `fallback` when it is absent or null. Wrong types are InvalidArgument
// naming the field and the type expected.
absl::StatusOr<std::string> RequiredString(const Json& object, const char* field);
absl::StatusOr<std::string> OptionalString(const Json& object, const char* field, std::string fallback = {});
absl::StatusOr<std::int64_t> OptionalInt(const Json& object, const char* field, std::int64_t fallback);
absl::StatusOr<bool> OptionalBool(const Json& object, const char* field, bool fallback);
// A shop id: a string, or an integer written in decimal.
absl::StatusOr<std::string> IdText(const Json& value, const std::string& what);
// An optional id field ("" when absent or null).
absl::StatusOr<std::string> OptionalId(const Json& object, const char* field);
// An array of shop ids (empty when absent), at most `max_size` of them.
absl::StatusOr<std::vector<std::string>> OptionalIdList(const Json& object, const char* field, std::size_t max_size);

// {"error": message, "code": status name}.
Json ErrorBody(const absl::Status& status);
// 400 for InvalidArgument / OutOfRange, 404 NotFound, 403 PermissionDenied, 409
// FailedPrecondition, 413 ResourceExhausted, 501 Unimplemented, 500 otherwise.
int HttpStatusOf(const absl::Status& status);

}  // namespace comptoir::serve
