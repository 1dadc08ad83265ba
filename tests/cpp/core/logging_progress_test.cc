#include <mutex>
#include <string>
#include <vector>

#include "comptoir/logging.h"
#include "comptoir/progress.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;

TEST(Logging, SinkReceivesMessagesAtOrAboveItsLevel) {
  std::vector<std::string> received;
  SetLogSink([&](LogLevel, std::string_view m) { received.emplace_back(m); }, LogLevel::kInfo);
  Log(LogLevel::kDebug, "hidden");
  Logf(LogLevel::kWarning, "shown ", 42);
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  SetLogSink(nullptr);
  Log(LogLevel::kError, "after removal");
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0], "shown 42");
}

TEST(Progress, ReportsMonotonicallyAndFinishes) {
  std::vector<std::int64_t> seen;
  ProgressReporter progress(
      [&](std::int64_t done, std::int64_t total, std::string_view stage) {
        EXPECT_EQ(total, 1000);
        EXPECT_EQ(stage, "fit");
        seen.push_back(done);
        return true;
      },
      1000, "fit");
  for (int i = 0; i < 1000; ++i) progress.Advance(1);
  progress.Finish();
  ASSERT_FALSE(seen.empty());
  EXPECT_LE(seen.size(), 102u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), 1000);
  EXPECT_THAT(progress.status(), IsOk());
}

TEST(Progress, CallbackReturningFalseCancels) {
  ProgressReporter progress([](std::int64_t, std::int64_t, std::string_view) { return false; },
                            10, "simulate");
  progress.Advance(5);
  EXPECT_TRUE(progress.Cancelled());
  EXPECT_THAT(progress.status(), StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace comptoir
