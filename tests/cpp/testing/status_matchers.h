// gtest matchers for absl::Status / StatusOr (Debian's Abseil ships none).
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/status.h"
#include "gmock/gmock.h"

namespace comptoir::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status.ToString();
  return status.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

}  // namespace comptoir::testing

#define COMPTOIR_ASSERT_OK(expr) ASSERT_THAT((expr), ::comptoir::testing::IsOk())
#define COMPTOIR_EXPECT_OK(expr) EXPECT_THAT((expr), ::comptoir::testing::IsOk())
#define COMPTOIR_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                           \
  COMPTOIR_ASSERT_OK_AND_ASSIGN_IMPL_(COMPTOIR_STATUS_CONCAT_(comptoir_test_or_, __LINE__), \
                                      lhs, rexpr)
#define COMPTOIR_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                        \
  ASSERT_THAT(statusor, ::comptoir::testing::IsOk());             \
  lhs = std::move(statusor).value()
