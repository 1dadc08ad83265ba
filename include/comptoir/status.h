// Errors are values at comptoir's C++ boundary: every fallible call returns absl::Status or
// absl::StatusOr<T>. Debian's Abseil (20220623) ships no status macros, so these are ours.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"

namespace comptoir {

// A model file that cannot be used (corrupted, truncated, foreign, from a newer format version or
// of another model kind) carries this payload whatever its code, so that the Python layer raises
// comptoir.ModelFormatError for all of them.
inline constexpr const char* kModelFormatPayload = "comptoir/model_format";

inline absl::Status MarkModelFormatError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kModelFormatPayload, absl::Cord("1"));
  return status;
}

inline bool IsModelFormatError(const absl::Status& status) {
  return status.GetPayload(kModelFormatPayload).has_value();
}

// Constraints that no plan can meet (an offer allocation's rules, say) carry this payload, so that
// the Python layer raises comptoir.InfeasibleError; the message names what binds.
inline constexpr const char* kInfeasiblePayload = "comptoir/infeasible";

inline absl::Status MarkInfeasible(absl::Status status) {
  if (!status.ok()) status.SetPayload(kInfeasiblePayload, absl::Cord("1"));
  return status;
}

inline bool IsInfeasible(const absl::Status& status) { return status.GetPayload(kInfeasiblePayload).has_value(); }

}  // namespace comptoir

#define COMPTOIR_STATUS_CONCAT_INNER_(a, b) a##b
#define COMPTOIR_STATUS_CONCAT_(a, b) COMPTOIR_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) once and returns it from the enclosing function if not OK.
#define COMPTOIR_RETURN_IF_ERROR(expr)                                   \
  do {                                                                   \
    ::absl::Status comptoir_status_ = (expr);                            \
    if (!comptoir_status_.ok()) return comptoir_status_;                 \
  } while (false)

// COMPTOIR_ASSIGN_OR_RETURN(auto x, MakeX()); declares or assigns `lhs` from a StatusOr's value,
// or returns its error from the enclosing function.
#define COMPTOIR_ASSIGN_OR_RETURN(lhs, rexpr) \
  COMPTOIR_ASSIGN_OR_RETURN_IMPL_(COMPTOIR_STATUS_CONCAT_(comptoir_statusor_, __LINE__), lhs, rexpr)

#define COMPTOIR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = std::move(statusor).value()
