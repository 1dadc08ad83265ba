// Simulator throughput. COMPTOIR_BENCH_LARGE=1 adds the 10-million-event storefront.
#include <cstdlib>

#include "benchmark/benchmark.h"
#include "comptoir/simulate/simulator.h"

namespace comptoir {
namespace {

void BM_SimulateStorefront(benchmark::State& state) {
  simulate::SimulatorConfig config;
  config.num_customers = static_cast<std::int32_t>(state.range(0));
  config.num_items = 50'000;
  ExecutionOptions options;
  options.num_threads = static_cast<int>(state.range(1));
  std::int64_t events = 0;
  for (auto _ : state) {
    auto data = simulate::Simulate(config, options);
    events = static_cast<std::int64_t>(data->events.size());
    benchmark::DoNotOptimize(data);
  }
  state.counters["events"] = static_cast<double>(events);
  state.counters["events_per_second"] = benchmark::Counter(static_cast<double>(events) * state.iterations(), benchmark::Counter::kIsRate);
}

void RegisterAll() {
  auto* bench = benchmark::RegisterBenchmark("BM_SimulateStorefront", BM_SimulateStorefront)
                    ->Args({20'000, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
  if (std::getenv("COMPTOIR_BENCH_LARGE") != nullptr) bench->Args({250'000, 1})->Args({250'000, 2});
}

const bool registered = (RegisterAll(), true);

}  // namespace
}  // namespace comptoir
