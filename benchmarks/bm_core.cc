#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "comptoir/io/model_file.h"
#include "internal/crc32c.h"
#include "internal/parallel.h"
#include "internal/rng.h"

namespace comptoir {
namespace {

void BM_CoreRngUniform(benchmark::State& state) {
  internal::CounterRng rng(42, 0);
  for (auto _ : state) benchmark::DoNotOptimize(rng.Uniform());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CoreRngUniform);

void BM_CoreParallelReduce(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    const double sum = internal::DeterministicReduce<double>(
        threads, 1 << 22, 1 << 14, 0.0,
        [](std::int64_t b, std::int64_t e) {
          internal::CounterRng rng(1, static_cast<std::uint64_t>(b));
          double s = 0;
          for (std::int64_t i = b; i < e; ++i) s += rng.Uniform();
          return s;
        },
        [](double& acc, double part) { acc += part; });
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * (1 << 22));
}
BENCHMARK(BM_CoreParallelReduce)->Arg(1)->Arg(2)->UseRealTime();

void BM_IoCrc32c(benchmark::State& state) {
  const std::string data(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(internal::Crc32c(data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_IoCrc32c)->Arg(1 << 20);

void BM_IoModelFileRoundTrip(benchmark::State& state) {
  io::ModelFile model("bench");
  const std::vector<float> weights(static_cast<std::size_t>(state.range(0)), 0.5f);
  (void)model.AddArray<float>("weights", weights);
  for (auto _ : state) {
    auto bytes = io::SerializeModelFile(model);
    auto parsed = io::ParseModelFile(*bytes);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0) * 4);
}
BENCHMARK(BM_IoModelFileRoundTrip)->Arg(1 << 20);

}  // namespace
}  // namespace comptoir
