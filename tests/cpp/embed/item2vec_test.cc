#include "comptoir/embed/item2vec.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::embed {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;

constexpr std::int32_t kGroups = 5;
constexpr std::int32_t kItemsPerGroup = 12;
constexpr std::int32_t kItems = kGroups * kItemsPerGroup + 1;  // the last item never appears

// Sessions stay within one taste group: items of a group must end up as neighbours.
struct Corpus {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  data::SessionsView view() const { return {offsets, items, {}, {}, {}}; }
};

Corpus GroupedSessions(int num_sessions) {
  Corpus corpus;
  internal::CounterRng rng(9, 0);
  for (int s = 0; s < num_sessions; ++s) {
    const auto group = static_cast<std::int32_t>(rng.UniformInt(kGroups));
    const int length = 3 + static_cast<int>(rng.UniformInt(6));
    for (int i = 0; i < length; ++i) {
      corpus.items.push_back(group * kItemsPerGroup + static_cast<std::int32_t>(rng.UniformInt(kItemsPerGroup)));
    }
    corpus.offsets.push_back(static_cast<std::int64_t>(corpus.items.size()));
  }
  return corpus;
}

Item2VecConfig SmallConfig() {
  Item2VecConfig config;
  config.dim = 16;
  config.epochs = 5;
  config.subsample = 0;
  return config;
}

TEST(Item2Vec, LearnsTasteGroupsAndIsBitIdenticalAcrossThreadCounts) {
  const Corpus corpus = GroupedSessions(3000);
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec a, Item2Vec::Fit(corpus.view(), kItems, SmallConfig(), one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec b, Item2Vec::Fit(corpus.view(), kItems, SmallConfig(), two));
  ASSERT_EQ(a.vectors().size(), b.vectors().size());
  EXPECT_EQ(std::memcmp(a.vectors().data(), b.vectors().data(), a.vectors().size() * sizeof(float)), 0);

  int same_group = 0, total = 0;
  std::vector<retrieval::ScoredId> neighbours;
  for (std::int32_t item = 0; item < kGroups * kItemsPerGroup; ++item) {
    ASSERT_THAT(a.SimilarItems(item, 5, neighbours), IsOk());
    for (const auto& n : neighbours) {
      EXPECT_NE(n.id, item);
      same_group += n.id / kItemsPerGroup == item / kItemsPerGroup;
      ++total;
    }
  }
  EXPECT_GT(static_cast<double>(same_group) / total, 0.95);
  EXPECT_THAT(a.SimilarItems(kItems - 1, 5, neighbours), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(a.SimilarItems(kItems, 5, neighbours), StatusIs(absl::StatusCode::kNotFound));
}

TEST(Item2Vec, HogwildOptInStillLearns) {
  const Corpus corpus = GroupedSessions(2000);
  Item2VecConfig config = SmallConfig();
  config.hogwild = true;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec model, Item2Vec::Fit(corpus.view(), kItems, config, {}));
  std::vector<retrieval::ScoredId> neighbours;
  ASSERT_THAT(model.SimilarItems(0, 5, neighbours), IsOk());
  int same = 0;
  for (const auto& n : neighbours) same += n.id < kItemsPerGroup;
  EXPECT_GE(same, 4);
}

TEST(Item2Vec, SessionEncoderWeighsRecencyAndKindsAndBlendsProfiles) {
  const Corpus corpus = GroupedSessions(2000);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec model, Item2Vec::Fit(corpus.view(), kItems, SmallConfig(), {}));
  SessionEncoderConfig encoder;
  std::vector<float> q(16);
  std::vector<retrieval::ScoredId> top;
  auto leading_group = [&](absl::Span<const std::int32_t> items, absl::Span<const data::EventKind> kinds) {
    EXPECT_THAT(model.EncodeSession(items, kinds, encoder, absl::MakeSpan(q)), IsOk());
    EXPECT_THAT(model.index().Search(q, 1, {}, top), IsOk());
    return top[0].id / kItemsPerGroup;
  };
  const std::int32_t g3 = 3 * kItemsPerGroup;
  using data::EventKind;
  // Recency: the later of two views leads.
  EXPECT_EQ(leading_group(std::vector<std::int32_t>{g3, 0}, {}), 0);
  EXPECT_EQ(leading_group(std::vector<std::int32_t>{0, g3}, {}), 3);
  // Kind: an earlier cart add outweighs a later view.
  EXPECT_EQ(leading_group(std::vector<std::int32_t>{g3, 0}, std::vector<EventKind>{EventKind::kCart, EventKind::kView}), 3);
  const std::int32_t items[] = {0, g3};
  const data::EventKind kinds[] = {EventKind::kView, EventKind::kView};
  ASSERT_THAT(model.EncodeSession(items, kinds, encoder, absl::MakeSpan(q)), IsOk());
  // A strong profile for group 0 pulls the blended query back toward group 0.
  std::vector<float> profile(16);
  const std::int32_t history[] = {0, 1, 2, 4, 5};
  ASSERT_THAT(model.EncodeSession(history, {}, encoder, absl::MakeSpan(profile)), IsOk());
  Item2Vec::BlendWithProfile(profile, 0.9f, absl::MakeSpan(q));
  ASSERT_THAT(model.index().Search(q, 3, {}, top), IsOk());
  EXPECT_EQ(top[0].id / kItemsPerGroup, 0);

  const std::int32_t unknown[] = {kItems + 5};
  EXPECT_THAT(model.EncodeSession(unknown, {}, encoder, absl::MakeSpan(q)),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("outside")));
  EXPECT_THAT(model.EncodeSession(items, absl::MakeSpan(kinds, 1), encoder, absl::MakeSpan(q)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Item2Vec, SaveLoadRoundTripAndKindCheck) {
  const Corpus corpus = GroupedSessions(500);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec model, Item2Vec::Fit(corpus.view(), kItems, SmallConfig(), {}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, model.ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile parsed, io::ParseModelFile(bytes));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec loaded, Item2Vec::FromModelFile(parsed));
  ASSERT_EQ(loaded.vectors().size(), model.vectors().size());
  EXPECT_EQ(std::memcmp(loaded.vectors().data(), model.vectors().data(), model.vectors().size() * 4), 0);
  EXPECT_EQ(loaded.config().window, model.config().window);
  EXPECT_THAT(Item2Vec::FromModelFile(io::ModelFile("session_knn")), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(Item2Vec, RejectsBadInput) {
  const Corpus corpus = GroupedSessions(10);
  Item2VecConfig config = SmallConfig();
  config.dim = 0;
  EXPECT_THAT(Item2Vec::Fit(corpus.view(), kItems, config, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Item2Vec::Fit(corpus.view(), 3, SmallConfig(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("outside")));
  const Corpus empty;
  EXPECT_THAT(Item2Vec::Fit(empty.view(), kItems, SmallConfig(), {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace comptoir::embed
