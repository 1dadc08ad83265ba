#include "comptoir/status.h"

#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status CheckEven(int x) { return Half(x).status(); }

absl::Status PropagateCheck(int x, int* calls) {
  ++*calls;
  COMPTOIR_RETURN_IF_ERROR(CheckEven(x));
  ++*calls;
  return absl::OkStatus();
}

absl::StatusOr<int> Quarter(int x) {
  COMPTOIR_ASSIGN_OR_RETURN(int half, Half(x));
  COMPTOIR_ASSIGN_OR_RETURN(const int quarter, Half(half));
  return quarter;
}

TEST(StatusMacros, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  EXPECT_THAT(PropagateCheck(3, &calls), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_THAT(PropagateCheck(4, &calls), IsOk());
  EXPECT_EQ(calls, 2);
}

TEST(StatusMacros, AssignOrReturnUnwrapsAndPropagates) {
  EXPECT_EQ(Quarter(8).value(), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("odd")));
  EXPECT_THAT(Quarter(5), Not(IsOk()));
}

TEST(StatusMatchers, DescribeFailures) {
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(::testing::ExplainMatchResult(IsOk(), absl::NotFoundError("gone"), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("gone"));
}

}  // namespace
}  // namespace comptoir
