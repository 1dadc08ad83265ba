#include "comptoir/retrieval/vector_index.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::retrieval {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;

// Points around `clusters` random centres: the shape of trained item embeddings.
std::vector<float> ClusteredVectors(std::int64_t rows, std::int32_t dim, int clusters, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  std::vector<float> centres(static_cast<std::size_t>(clusters) * dim);
  for (float& c : centres) c = static_cast<float>(rng.Normal());
  std::vector<float> data(static_cast<std::size_t>(rows) * dim);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto c = static_cast<std::int64_t>(rng.UniformInt(clusters));
    for (std::int32_t d = 0; d < dim; ++d) data[r * dim + d] = centres[c * dim + d] + 0.3f * static_cast<float>(rng.Normal());
  }
  return data;
}

std::vector<ScoredId> BruteForce(const std::vector<float>& data, std::int32_t dim, absl::Span<const float> q, int k) {
  std::vector<ScoredId> all;
  for (std::int64_t r = 0; r < static_cast<std::int64_t>(data.size()) / dim; ++r) {
    float s = 0;
    for (std::int32_t d = 0; d < dim; ++d) s += data[r * dim + d] * q[d];
    all.push_back({static_cast<std::int32_t>(r), s});
  }
  std::sort(all.begin(), all.end(), RanksBefore);
  all.resize(std::min<std::size_t>(k, all.size()));
  return all;
}

TEST(TopKSelector, KeepsTheBestWithTiesBrokenBySmallerId) {
  TopKSelector selector(3);
  for (std::int32_t id : {5, 1, 4, 2, 3}) selector.Push(id, id == 5 ? 2.0f : 1.0f);
  std::vector<ScoredId> out;
  selector.TakeSorted(out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].id, 5);
  EXPECT_EQ(out[1].id, 1);
  EXPECT_EQ(out[2].id, 2);
}

TEST(ExactIndex, MatchesBruteForceAndHonoursFilters) {
  const std::int32_t dim = 16;
  const std::vector<float> data = ClusteredVectors(3000, dim, 10, 1);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto index, BuildExactIndex({data, 3000, dim}, Metric::kInnerProduct));
  const absl::Span<const float> query(data.data() + 7 * dim, dim);
  std::vector<ScoredId> out;
  ASSERT_THAT(index->Search(query, 10, {}, out), IsOk());
  const std::vector<ScoredId> truth = BruteForce(data, dim, query, 10);
  ASSERT_EQ(out.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(out[i].id, truth[i].id);
    EXPECT_NEAR(out[i].score, truth[i].score, 1e-3);
  }
  std::vector<std::uint8_t> allowed(3000, 1);
  allowed[truth[0].id] = 0;
  const std::int32_t excluded[] = {truth[1].id};
  ASSERT_THAT(index->Search(query, 10, {allowed, excluded}, out), IsOk());
  for (const ScoredId& s : out) {
    EXPECT_NE(s.id, truth[0].id);
    EXPECT_NE(s.id, truth[1].id);
  }
  EXPECT_EQ(out[0].id, truth[2].id);
  ASSERT_THAT(index->Search(query, 5000, {}, out), IsOk());
  EXPECT_EQ(out.size(), 3000u);
}

TEST(ExactIndex, RejectsBadInput) {
  std::vector<float> data = {1, 0, 0, 1};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto index, BuildExactIndex({data, 2, 2}, Metric::kCosine));
  std::vector<ScoredId> out;
  const float q2[] = {1, 0};
  const float q3[] = {1, 0, 0};
  EXPECT_THAT(index->Search(q2, 0, {}, out), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(index->Search(q3, 1, {}, out), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::uint8_t short_filter[] = {1};
  EXPECT_THAT(index->Search(q2, 1, {short_filter, {}}, out), StatusIs(absl::StatusCode::kInvalidArgument));
  data[3] = std::nanf("");
  EXPECT_THAT(BuildExactIndex({data, 2, 2}, Metric::kCosine),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("item 1")));
  EXPECT_THAT(BuildExactIndex({data, 3, 2}, Metric::kCosine), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(IvfIndex, HighRecallDeterministicAndExactWhenProbingAllLists) {
  const std::int32_t dim = 24;
  const std::int64_t rows = 20000;
  const std::vector<float> data = ClusteredVectors(rows, dim, 50, 2);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto exact, BuildExactIndex({data, rows, dim}, Metric::kCosine));
  IvfConfig config;
  config.num_lists = 64;
  config.num_probes = 8;
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto ivf, BuildIvfIndex({data, rows, dim}, Metric::kCosine, config, one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto ivf2, BuildIvfIndex({data, rows, dim}, Metric::kCosine, config, two));
  const VectorsView queries{absl::Span<const float>(data).subspan(0, 200 * dim), 200, dim};
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto truth, exact->SearchBatch(queries, 20, {}, two));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto approx, ivf->SearchBatch(queries, 20, {}, two));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto approx2, ivf2->SearchBatch(queries, 20, {}, one));
  EXPECT_GE(RecallAtK(truth, approx), 0.9);
  for (std::size_t q = 0; q < approx.size(); ++q) {
    ASSERT_EQ(approx[q].size(), approx2[q].size());
    for (std::size_t i = 0; i < approx[q].size(); ++i) EXPECT_EQ(approx[q][i].id, approx2[q][i].id);
  }
  io::ModelFile file("index_test");
  ASSERT_THAT(ivf->AppendTo(file, "ivf."), IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto all_probes, LoadIndex(file, "ivf.", 64));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto full, all_probes->SearchBatch(queries, 20, {}, two));
  EXPECT_DOUBLE_EQ(RecallAtK(truth, full), 1.0);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto reloaded, LoadIndex(file, "ivf."));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto again, reloaded->SearchBatch(queries, 20, {}, two));
  EXPECT_DOUBLE_EQ(RecallAtK(approx, again), 1.0);
}

TEST(IvfIndex, CorruptListsAreModelFormatErrors) {
  const std::vector<float> data = ClusteredVectors(500, 8, 5, 3);
  IvfConfig config;
  config.num_lists = 8;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(auto ivf, BuildIvfIndex({data, 500, 8}, Metric::kInnerProduct, config, {}));
  io::ModelFile good("t");
  ASSERT_THAT(ivf->AppendTo(good, ""), IsOk());
  io::ModelFile bad("t");
  for (const io::ModelBlob& blob : good.blobs()) {
    std::string bytes = blob.bytes;
    if (blob.name == "list_ids") bytes[0] = '\x7f', bytes[3] = '\x7f';  // an id far out of range
    ASSERT_THAT(bad.AddBlob(blob.name, bytes), IsOk());
  }
  const auto loaded = LoadIndex(bad, "");
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(IsModelFormatError(loaded.status()));
  EXPECT_THAT(LoadIndex(good, "missing."), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace comptoir::retrieval
