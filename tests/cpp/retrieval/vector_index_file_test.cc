// Vector indexes as model files: exact and IVF round-trip through the registry; crafted,
// checksum-valid files whose sizes wrap or disagree are ModelFormatErrors, never a bad read.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comptoir/model.h"
#include "comptoir/retrieval/vector_index.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::retrieval {
namespace {

using ::comptoir::testing::IsOk;

std::vector<float> RandomVectors(std::int64_t rows, std::int32_t dim) {
  std::vector<float> v(static_cast<std::size_t>(rows * dim));
  internal::CounterRng rng(3, 0);
  for (float& x : v) x = static_cast<float>(rng.Uniform() - 0.5);
  return v;
}

void ExpectSameSearch(const VectorIndex& a, const VectorIndex& b, const std::vector<float>& vectors, std::int32_t dim) {
  std::vector<ScoredId> x, y;
  for (int q = 0; q < 10; ++q) {
    const absl::Span<const float> query(vectors.data() + static_cast<std::ptrdiff_t>(q) * dim, static_cast<std::size_t>(dim));
    ASSERT_THAT(a.Search(query, 7, {}, x), IsOk());
    ASSERT_THAT(b.Search(query, 7, {}, y), IsOk());
    ASSERT_EQ(x.size(), y.size());
    for (std::size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(x[i].id == y[i].id && x[i].score == y[i].score);
  }
}

TEST(VectorIndexFile, ExactAndIvfRoundTripThroughTheRegistry) {
  const std::vector<float> vectors = RandomVectors(500, 6);
  const auto exact = BuildExactIndex({vectors, 500, 6}, Metric::kCosine).value();
  IvfConfig config;
  config.num_lists = 10;
  config.num_probes = 3;
  const auto ivf = BuildIvfIndex({vectors, 500, 6}, Metric::kInnerProduct, config, {}).value();
  for (const VectorIndex* index : {exact.get(), ivf.get()}) {
    const std::string bytes = io::SerializeModelFile(index->ToModelFile().value()).value();
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const auto model, LoadModelFromBytes(bytes));
    EXPECT_EQ(model->kind(), VectorIndex::kModelKind);
    ASSERT_NE(model->AsVectorIndex(), nullptr);
    const VectorIndex& back = *model->AsVectorIndex();
    EXPECT_EQ(back.approximate(), index->approximate());
    EXPECT_EQ(back.num_lists(), index->num_lists());
    EXPECT_EQ(back.num_probes(), index->num_probes());
    EXPECT_EQ(back.metric(), index->metric());
    ExpectSameSearch(*index, back, vectors, 6);
    // Model::ToModelFile writes the index form too.
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile again, model->ToModelFile());
    EXPECT_EQ(io::SerializeModelFile(again).value(), bytes);
  }
  EXPECT_TRUE(ivf->approximate());
  EXPECT_EQ(ivf->num_lists(), 10);
  EXPECT_EQ(ivf->num_probes(), 3);
}

std::string CraftedIndex(std::vector<std::int64_t> meta, std::size_t floats) {
  io::ModelFile file(VectorIndex::kModelKind);
  EXPECT_THAT(file.AddArray<std::int64_t>("meta", meta), IsOk());
  EXPECT_THAT(file.AddArray<float>("vectors", std::vector<float>(floats, 1.0f)), IsOk());
  return io::SerializeModelFile(file).value();
}

TEST(VectorIndexFile, SizesThatWrapAreRejected) {
  // rows x dim = 2^44 x 2^20 = 2^64: wraps to 0 floats, matching an empty vectors blob.
  const std::string wrapped = CraftedIndex({0, 1, std::int64_t{1} << 44, 1 << 20}, 0);
  const absl::StatusOr<std::unique_ptr<Model>> model = LoadModelFromBytes(wrapped);
  ASSERT_FALSE(model.ok());
  EXPECT_TRUE(IsModelFormatError(model.status())) << model.status();
  // rows x dim = 2^61 x 8 wraps to 0 too.
  EXPECT_TRUE(IsModelFormatError(LoadModelFromBytes(CraftedIndex({0, 0, std::int64_t{1} << 61, 8}, 0)).status()));
  // Sizes that do not wrap but disagree with the blob, and a negative probe count.
  EXPECT_TRUE(IsModelFormatError(LoadModelFromBytes(CraftedIndex({0, 0, 10, 4}, 39)).status()));
  EXPECT_TRUE(IsModelFormatError(LoadModelFromBytes(CraftedIndex({1, 0, 10, 4, -5}, 40)).status()));
  EXPECT_THAT(LoadModelFromBytes(CraftedIndex({0, 0, 10, 4}, 40)), IsOk());
}

TEST(VectorIndexFile, AConfigThatDisagreesWithTheArraysIsRejected) {
  const std::vector<float> vectors = RandomVectors(50, 4);
  const auto exact = BuildExactIndex({vectors, 50, 4}, Metric::kCosine).value();
  io::ModelFile file = exact->ToModelFile().value();
  const io::ModelFile other = BuildExactIndex({vectors, 25, 8}, Metric::kCosine).value()->ToModelFile().value();
  file.set_config(other.config());
  EXPECT_TRUE(IsModelFormatError(VectorIndex::FromModelFile(file).status()));
}

}  // namespace
}  // namespace comptoir::retrieval
