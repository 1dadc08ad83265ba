#include "comptoir/embed/item2vec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "embed/negative_sampler.h"
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

TEST(Item2Vec, BitIdenticalAcrossThreadCountsThroughStampWrapAndLongSessions) {
  // 2 epochs x 130 rounds pass the 255 rounds after which shard stamps restart; the sessions of
  // 3,000 and 10,000 clicks make the pair plan flush inside a session.
  Corpus corpus = GroupedSessions(1500);
  for (int length : {3000, 10000}) {
    for (int i = 0; i < length; ++i) corpus.items.push_back(static_cast<std::int32_t>((i * 7) % kItemsPerGroup));
    corpus.offsets.push_back(static_cast<std::int64_t>(corpus.items.size()));
  }
  Item2VecConfig config = SmallConfig();
  config.epochs = 2;
  config.sync_rounds = 130;
  config.num_shards = 3;
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    ExecutionOptions options;
    options.num_threads = threads;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec model, Item2Vec::Fit(corpus.view(), kItems, config, options));
    results.emplace_back(model.vectors().begin(), model.vectors().end());
    for (float x : model.vectors()) ASSERT_TRUE(std::isfinite(x));
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// With one shard, sharded training sees exactly the rows sequential training sees (its copy is
// refreshed or refilled from the master every round), up to the rounding of the merges; a copy
// left stale would make the two drift far apart.
TEST(Item2Vec, OneShardTracksSequentialTraining) {
  const Corpus corpus = GroupedSessions(2000);
  Item2VecConfig sharded = SmallConfig();
  sharded.num_shards = 1;
  sharded.sync_rounds = 7;
  Item2VecConfig sequential = SmallConfig();
  sequential.hogwild = true;  // on one thread: plain sequential SGD, in session order
  ExecutionOptions one;
  one.num_threads = 1;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec a, Item2Vec::Fit(corpus.view(), kItems, sharded, one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const Item2Vec b, Item2Vec::Fit(corpus.view(), kItems, sequential, one));
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.vectors().size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(a.vectors()[i] - b.vectors()[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b.vectors()[i])));
  }
  EXPECT_LT(worst, 1e-4 * scale);  // measured: 1e-6
}

TEST(NegativeSampler, DrawsCountsToTheExponentAndNeverUnseenItems) {
  const std::vector<std::int64_t> counts = {0, 1, 10, 100, 0, 5, 1000};
  for (double exponent : {0.75, 0.0, 1.0}) {
    NegativeSampler sampler;
    sampler.Build(counts, exponent);
    double total = 0;
    for (std::int64_t c : counts) total += c > 0 ? std::pow(static_cast<double>(c), exponent) : 0.0;
    std::vector<double> hits(counts.size(), 0.0);
    internal::CounterRng rng(5, 0);
    const int draws = 1000000;
    for (int i = 0; i < draws; ++i) {
      const std::int32_t item = sampler.Draw(rng);
      ASSERT_GE(item, 0);
      ASSERT_LT(item, static_cast<std::int32_t>(counts.size()));
      hits[item] += 1;
    }
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const double p = counts[i] > 0 ? std::pow(static_cast<double>(counts[i]), exponent) / total : 0.0;
      // Five standard deviations of a binomial count.
      EXPECT_NEAR(hits[i] / draws, p, 5 * std::sqrt(p * (1 - p) / draws) + 1e-9) << "item " << i << ", exponent " << exponent;
    }
  }
  NegativeSampler single;
  single.Build({0, 0, 3, 0}, 0.75);
  internal::CounterRng rng(6, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(single.Draw(rng), 2);
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
