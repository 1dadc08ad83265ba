#include "comptoir/data/event_log.h"

#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace comptoir::data {
namespace {

using ::comptoir::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Raw {
  std::vector<std::int64_t> session, item, timestamp, user;
  std::vector<std::uint8_t> kind;
  std::vector<float> value;
  RawEvents view() const { return {session, item, timestamp, user, kind, {value}, {}}; }
  void Add(std::int64_t s, std::int64_t i, std::int64_t t, std::int64_t u = kAnonymousUser, std::uint8_t k = 0) {
    session.push_back(s), item.push_back(i), timestamp.push_back(t), user.push_back(u), kind.push_back(k);
    value.push_back(0.0f);
  }
};

TEST(EventLog, MapsIdsSortsBySessionThenTimeAndDropsDuplicates) {
  Raw raw;
  raw.Add(900, 7, 30, 5);
  raw.Add(800, 8, 10, 5);
  raw.Add(900, 9, 20, 5);
  raw.Add(900, 9, 20, 5);  // exact duplicate
  BuildReport report;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EventLog log, EventLog::Build(raw.view(), &report));
  EXPECT_EQ(report.rows, 4);
  EXPECT_EQ(report.duplicates_dropped, 1);
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(log.num_sessions(), 2);
  EXPECT_THAT(log.columns().timestamp, ElementsAre(20, 30, 10));  // session 900 first appeared first
  EXPECT_EQ(log.items().IntId(log.columns().item[0]), 9);
  EXPECT_EQ(log.items().Find(7).value(), 0);
  EXPECT_THAT(log.items().Find(12345), StatusIs(absl::StatusCode::kNotFound, HasSubstr("12345")));
  const SessionsView sessions = log.sessions();
  EXPECT_EQ(sessions.SessionItems(0).size(), 2u);
}

TEST(EventLog, BadRowsAreNamed) {
  Raw raw;
  raw.Add(1, 1, 1);
  raw.Add(1, 2, 2);
  raw.value[1] = -3.0f;
  EXPECT_THAT(EventLog::Build(raw.view()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 1: value")));
  raw.value[1] = std::nanf("");
  EXPECT_THAT(EventLog::Build(raw.view()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 1")));
  raw.value[1] = 0;
  raw.kind[0] = 9;
  EXPECT_THAT(EventLog::Build(raw.view()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 0: unknown event kind 9")));
  raw.kind[0] = 0;
  raw.timestamp.pop_back();
  EXPECT_THAT(EventLog::Build(raw.view()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timestamp")));
  EXPECT_THAT(EventLog::Build(Raw().view()), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least one")));
}

TEST(EventLog, SessionizeSplitsOnInactivityPerUser) {
  Raw raw;
  raw.Add(1, 10, 0, 42);
  raw.Add(1, 11, 100, 42);
  raw.Add(1, 12, 5000, 42);  // more than 30 minutes later: a new visit
  raw.Add(2, 13, 50);        // anonymous: keeps its session
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EventLog log, EventLog::Build(raw.view()));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EventLog visits, log.Sessionize(1800));
  EXPECT_EQ(visits.num_sessions(), 3);
  EXPECT_EQ(visits.items().size(), log.items().size());
  EXPECT_EQ(visits.columns().item, log.columns().item);  // same dense ids
  EXPECT_THAT(log.Sessionize(0), StatusIs(absl::StatusCode::kInvalidArgument));
}

// One pass and the fixed point differ: dropping the short session pushes item 3 under support.
TEST(EventLog, FixedPointFilterKeepsFilteringUntilNothingChanges) {
  Raw raw;
  std::int64_t t = 0;
  for (int s = 0; s < 2; ++s) raw.Add(s, 1, t++), raw.Add(s, 2, t++), raw.Add(s, 3, t++);
  raw.Add(2, 3, t++), raw.Add(2, 4, t++);  // item 4 is rare: session 2 drops to length 1
  raw.Add(3, 1, t++), raw.Add(3, 2, t++);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EventLog log, EventLog::Build(raw.view()));
  const EventLog once = log.FilterOnce(3, 2);
  const EventLog fixed = log.FilterToFixedPoint(3, 2);
  EXPECT_EQ(once.size(), 8u);   // item 4 and then session 2 gone; item 3 now has 2 events
  EXPECT_EQ(fixed.size(), 6u);  // item 3 removed too, sessions still long enough
  EXPECT_EQ(fixed.num_sessions(), 3);
}

TEST(EventLog, SplitAssignsSessionsByTheirLastEvent) {
  Raw raw;
  const std::int64_t day = 86'400;
  raw.Add(1, 1, 0), raw.Add(1, 2, 9 * day);  // ends in the last 2 days: test
  raw.Add(2, 1, 1 * day), raw.Add(2, 3, 2 * day);
  raw.Add(3, 2, 10 * day);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EventLog log, EventLog::Build(raw.view()));
  const auto [train, test] = log.SplitByLastDays(2);
  EXPECT_EQ(train.num_sessions(), 1);
  EXPECT_EQ(test.num_sessions(), 2);
  EXPECT_EQ(train.items().size(), test.items().size());  // shared ids
}

TEST(IdMap, StringIdsAndRoundTrips) {
  const std::vector<std::string> session = {"a", "a", "b"}, item = {"x", "y", "x"}, user = {"u1", "", "u2"};
  Raw times;
  times.timestamp = {1, 2, 3};
  RawEvents rest;
  rest.timestamp = times.timestamp;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const EventLog log, EventLog::Build(session, item, user, rest));
  EXPECT_EQ(log.items().StringId(log.columns().item[1]), "y");
  EXPECT_EQ(log.columns().user[1], -1);
  EXPECT_EQ(log.users().Find("u2").value(), 1);
  io::ModelFile file("ids");
  ASSERT_THAT(log.AppendIdMaps(file), ::comptoir::testing::IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto maps, EventLog::ReadIdMaps(file));
  EXPECT_EQ(maps[0].Find("y").value(), log.items().Find("y").value());
  std::string corrupt = log.items().Serialize();
  corrupt.pop_back();
  EXPECT_THAT(IdMap::Parse(corrupt), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(Catalogue, BadRowsAreNamed) {
  Catalogue catalogue;
  catalogue.category = {0, 1, 1};
  catalogue.price = {1.0f, 2.0f, 3.0f};
  EXPECT_THAT(ValidateCatalogue(catalogue), ::comptoir::testing::IsOk());
  catalogue.price[1] = std::nanf("");
  EXPECT_THAT(ValidateCatalogue(catalogue), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("item 1: price")));
  catalogue.price[1] = -2.0f;
  EXPECT_THAT(ValidateCatalogue(catalogue), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("item 1")));
  catalogue.price[1] = 2.0f;
  catalogue.in_stock = {1, 0};
  EXPECT_THAT(ValidateCatalogue(catalogue), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("length")));
  Customers customers;
  customers.num_attributes = 2;
  customers.attributes = {1.0f, std::nanf(""), 2.0f, 3.0f};
  EXPECT_THAT(ValidateCustomers(customers, /*allow_missing=*/true), ::comptoir::testing::IsOk());
  EXPECT_THAT(ValidateCustomers(customers, false), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("customer 0, attribute 1")));
}

}  // namespace
}  // namespace comptoir::data
