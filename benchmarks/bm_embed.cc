// Retrieval latency and recall, item2vec training throughput and its negative-sampling kernel.
// COMPTOIR_BENCH_LARGE=1 adds the 1M-item catalogue (CI runs the small sizes once).
#include <cstdlib>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "comptoir/embed/item2vec.h"
#include "comptoir/retrieval/vector_index.h"
#include "internal/rng.h"
#include "internal/vector_kernels.h"

namespace comptoir {
namespace {

constexpr std::int32_t kDim = 64;

// Clustered vectors, like trained embeddings (uniform noise would make ANN look worse than it is).
const std::vector<float>& Vectors(std::int64_t rows) {
  static std::vector<float> data;
  static std::int64_t cached_rows = 0;
  if (cached_rows != rows) {
    internal::CounterRng rng(1, 0);
    const int clusters = 1000;
    std::vector<float> centres(static_cast<std::size_t>(clusters) * kDim);
    for (float& c : centres) c = static_cast<float>(rng.Normal());
    data.resize(static_cast<std::size_t>(rows) * kDim);
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto c = static_cast<std::int64_t>(rng.UniformInt(clusters));
      for (int d = 0; d < kDim; ++d) data[r * kDim + d] = centres[c * kDim + d] + 0.5f * static_cast<float>(rng.Normal());
    }
    cached_rows = rows;
  }
  return data;
}

void BM_RetrievalExactSearch(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  auto index = retrieval::BuildExactIndex({Vectors(rows), rows, kDim}, retrieval::Metric::kCosine).value();
  std::vector<retrieval::ScoredId> out;
  std::int64_t q = 0;
  for (auto _ : state) {
    const absl::Span<const float> query(Vectors(rows).data() + (q++ % rows) * kDim, kDim);
    benchmark::DoNotOptimize(index->Search(query, 20, {}, out));
  }
  state.SetBytesProcessed(state.iterations() * rows * kDim * 4);
}

// Reports recall@20 against exact search beside the latency.
void BM_RetrievalIvfSearch(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  const auto probes = static_cast<std::int32_t>(state.range(1));
  const std::vector<float>& data = Vectors(rows);
  retrieval::IvfConfig config;
  config.num_probes = probes;
  auto ivf = retrieval::BuildIvfIndex({data, rows, kDim}, retrieval::Metric::kCosine, config, {}).value();
  auto exact = retrieval::BuildExactIndex({data, rows, kDim}, retrieval::Metric::kCosine).value();
  std::vector<retrieval::ScoredId> out;
  std::int64_t q = 0;
  for (auto _ : state) {
    const absl::Span<const float> query(data.data() + (q++ * 7919 % rows) * kDim, kDim);
    benchmark::DoNotOptimize(ivf->Search(query, 20, {}, out));
  }
  const retrieval::VectorsView queries{absl::Span<const float>(data).subspan(0, 200 * kDim), 200, kDim};
  state.counters["recall@20"] =
      retrieval::RecallAtK(exact->SearchBatch(queries, 20, {}, {}).value(), ivf->SearchBatch(queries, 20, {}, {}).value());
}

void BM_EmbedItem2VecFit(benchmark::State& state) {
  const std::int64_t sessions = state.range(0);
  const std::int32_t items = 20000;
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> seq;
  internal::CounterRng rng(3, 0);
  for (std::int64_t s = 0; s < sessions; ++s) {
    const auto base = static_cast<std::int32_t>(rng.UniformInt(items - 50));
    const int length = 2 + static_cast<int>(rng.UniformInt(8));
    for (int i = 0; i < length; ++i) seq.push_back(base + static_cast<std::int32_t>(rng.UniformInt(50)));
    offsets.push_back(static_cast<std::int64_t>(seq.size()));
  }
  embed::Item2VecConfig config;
  config.epochs = 1;
  config.hogwild = state.range(2) != 0;
  ExecutionOptions options;
  options.num_threads = static_cast<int>(state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(embed::Item2Vec::Fit({offsets, seq, {}, {}, {}}, items, config, options));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(seq.size()));
}

// One skip-gram pair (input row, positive and 5 negatives) per iteration, 64 floats a row: rows
// drawn from range(0) items, so 16 stays in L1 and 43,097 (DIGINETICA) is two 11 MB matrices, where
// memory rather than arithmetic sets the pace.
void BM_EmbedNegativeSamplingStep(benchmark::State& state) {
  const auto items = static_cast<std::int64_t>(state.range(0));
  std::vector<float> input(static_cast<std::size_t>(items) * kDim), output(input.size());
  internal::CounterRng rng(4, 0);
  for (float& x : input) x = static_cast<float>(rng.Uniform(-0.01, 0.01));
  for (float& x : output) x = static_cast<float>(rng.Uniform(-0.01, 0.01));
  std::vector<float> gradient(kDim);
  float* rows[6];
  for (auto _ : state) {
    float* in = input.data() + static_cast<std::int64_t>(rng.UniformInt(items)) * kDim;
    for (float*& row : rows) row = output.data() + static_cast<std::int64_t>(rng.UniformInt(items)) * kDim;
    internal::kernels::NegativeSamplingStep(in, rows, 6, 0.025f, kDim, gradient.data());
  }
  benchmark::DoNotOptimize(output.data());
  state.SetItemsProcessed(state.iterations());
}

void RegisterAll() {
  const bool large = std::getenv("COMPTOIR_BENCH_LARGE") != nullptr;
  auto* exact = benchmark::RegisterBenchmark("BM_RetrievalExactSearch", BM_RetrievalExactSearch)->Arg(43'097);
  auto* ivf = benchmark::RegisterBenchmark("BM_RetrievalIvfSearch", BM_RetrievalIvfSearch)->Args({50'000, 16});
  if (large) {
    exact->Arg(1'000'000);
    ivf->Args({1'000'000, 16})->Args({1'000'000, 32})->Args({1'000'000, 64});
  }
  // sessions, threads, hogwild
  benchmark::RegisterBenchmark("BM_EmbedItem2VecFit", BM_EmbedItem2VecFit)
      ->Args({5'000, 1, 0})->Args({5'000, 2, 0})->Args({5'000, 2, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("BM_EmbedNegativeSamplingStep", BM_EmbedNegativeSamplingStep)->Arg(16)->Arg(43'097);
}

const bool registered = (RegisterAll(), true);

}  // namespace
}  // namespace comptoir
