#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::internal {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;

// A seeded Monte-Carlo computation in the shape every comptoir trainer uses: fixed chunks, a
// stream per chunk, a deterministic reduction.
double SeededSum(int num_threads, std::uint64_t seed) {
  return DeterministicReduce<double>(
      num_threads, 1'000'003, 4096, 0.0,
      [&](std::int64_t begin, std::int64_t end) {
        CounterRng rng(seed, static_cast<std::uint64_t>(begin));
        double sum = 0.0;
        for (std::int64_t i = begin; i < end; ++i) sum += rng.Normal() * 1e-3 + rng.Uniform();
        return sum;
      },
      [](double& acc, double part) { acc += part; });
}

TEST(Parallel, BitIdenticalWithOneAndTwoThreads) {
  const double one = SeededSum(1, 7);
  const double two = SeededSum(2, 7);
  const double all = SeededSum(0, 7);
  EXPECT_EQ(std::memcmp(&one, &two, sizeof(double)), 0);
  EXPECT_EQ(std::memcmp(&one, &all, sizeof(double)), 0);
  EXPECT_NE(one, SeededSum(2, 8));
}

TEST(Parallel, ArenaHonoursNumThreads) {
  EXPECT_EQ(RunInArena(1, [] { return tbb::this_task_arena::max_concurrency(); }), 1);
  EXPECT_EQ(RunInArena(2, [] { return tbb::this_task_arena::max_concurrency(); }), 2);
  EXPECT_GE(ResolveNumThreads(0), 1);
}

TEST(Parallel, EveryIndexVisitedOnce) {
  std::vector<int> visits(10'007, 0);
  ASSERT_THAT(ParallelForChunks(2, static_cast<std::int64_t>(visits.size()), 100,
                                [&](std::int64_t, std::int64_t b, std::int64_t e) {
                                  for (std::int64_t i = b; i < e; ++i) ++visits[i];
                                }),
              IsOk());
  EXPECT_EQ(std::accumulate(visits.begin(), visits.end(), 0), 10'007);
  EXPECT_EQ(*std::min_element(visits.begin(), visits.end()), 1);
}

TEST(Parallel, CancellationStopsWorkAndReportsCancelled) {
  std::atomic<std::int64_t> processed{0};
  ProgressReporter progress(
      [](std::int64_t done, std::int64_t, std::string_view) { return done < 1000; }, 100'000,
      "test");
  const absl::Status status = ParallelForChunks(
      2, 100'000, 10, [&](std::int64_t, std::int64_t b, std::int64_t e) { processed += e - b; },
      &progress);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_LT(processed.load(), 100'000);
}

TEST(CounterRng, DrawsArePureFunctionsOfSeedStreamAndCounter) {
  CounterRng a(1, 2), b(1, 2), c(1, 3);
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    EXPECT_NE(x, c.NextU64());
  }
  EXPECT_EQ(CounterRng(1, 2).At(99), a.At(99));
}

TEST(CounterRng, MomentsMatchTheirDistributions) {
  CounterRng rng(123, 0);
  constexpr int kDraws = 200'000;
  double uniform_sum = 0, normal_sum = 0, normal_sq = 0;
  std::vector<int> buckets(10, 0);
  for (int i = 0; i < kDraws; ++i) {
    uniform_sum += rng.Uniform();
    const double z = rng.Normal();
    normal_sum += z;
    normal_sq += z * z;
    ++buckets[rng.UniformInt(10)];
  }
  EXPECT_NEAR(uniform_sum / kDraws, 0.5, 0.005);
  EXPECT_NEAR(normal_sum / kDraws, 0.0, 0.01);
  EXPECT_NEAR(normal_sq / kDraws, 1.0, 0.02);
  for (int count : buckets) EXPECT_NEAR(count, kDraws / 10, 600);
}

}  // namespace
}  // namespace comptoir::internal
