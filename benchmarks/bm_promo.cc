// Offer allocation: the whole LP budget path for customers x 4 offers.
// COMPTOIR_BENCH_LARGE=1 adds one million customers (CI runs the small size once).
#include <cstdlib>
#include <vector>

#include "benchmark/benchmark.h"
#include "comptoir/promo/allocation.h"
#include "internal/rng.h"

namespace comptoir {
namespace {

void BM_PromoBudgetPath(benchmark::State& state) {
  const std::int64_t customers = state.range(0);
  constexpr std::int32_t kOffers = 4;
  std::vector<double> value(static_cast<std::size_t>(customers) * kOffers), cost(value.size());
  internal::CounterRng rng(7, 0);
  for (std::size_t i = 0; i < value.size(); ++i) {
    const double depth = 1.0 + static_cast<double>(i % kOffers);
    value[i] = rng.Exponential(1.0 / 6.0) * (0.6 + 0.45 * depth) - 1.0;
    cost[i] = rng.Uniform(0.5, 1.5) * depth;
  }
  ExecutionOptions options;
  options.num_threads = static_cast<int>(state.range(1));
  std::size_t segments = 0;
  for (auto _ : state) {
    auto path = promo::SolveBudgetPath({value, cost, customers, kOffers}, options);
    segments = path->customer.size();
    benchmark::DoNotOptimize(path);
  }
  state.counters["segments"] = static_cast<double>(segments);
}

void RegisterAll() {
  auto* bench = benchmark::RegisterBenchmark("BM_PromoBudgetPath", BM_PromoBudgetPath)
                    ->Args({100'000, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
  if (std::getenv("COMPTOIR_BENCH_LARGE") != nullptr) bench->Args({1'000'000, 1})->Args({1'000'000, 2});
}

const bool registered = (RegisterAll(), true);

}  // namespace
}  // namespace comptoir
