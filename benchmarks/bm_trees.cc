// Gradient-boosted trees: binning, training (100 trees, 31 leaves) and batch scoring on a synthetic binary
// task with interactions. COMPTOIR_BENCH_LARGE=1 adds one million rows x 50 features.
#include <cmath>
#include <cstdlib>
#include <vector>

#include "benchmark/benchmark.h"
#include "comptoir/trees/gradient_boosting.h"
#include "internal/rng.h"

namespace comptoir {
namespace {

struct Task {
  trees::RowMatrix X;
  std::vector<double> y;
};

Task MakeTask(std::int64_t rows, std::int64_t features) {
  Task task{trees::RowMatrix(rows, features), std::vector<double>(static_cast<std::size_t>(rows))};
  internal::CounterRng rng(11, 0);
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < features; ++j) task.X(i, j) = rng.Normal();
    const double z = std::sin(2 * task.X(i, 0)) + task.X(i, 1) * task.X(i, 2) + 0.5 * task.X(i, 3);
    task.y[static_cast<std::size_t>(i)] = rng.Uniform() < 1 / (1 + std::exp(-z));
  }
  return task;
}

ExecutionOptions Threads(const benchmark::State& state) {
  ExecutionOptions options;
  options.num_threads = static_cast<int>(state.range(2));
  return options;
}

void BM_GradientBoostingFit(benchmark::State& state) {
  const Task task = MakeTask(state.range(0), state.range(1));
  const trees::RowMatrix none(0, task.X.cols());
  for (auto _ : state) {
    auto model = trees::GradientBoosting::Fit(task.X, task.y, {}, none, {}, {}, Threads(state));
    benchmark::DoNotOptimize(model);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Binning is the first step of every fit: sample-based bounds, then every value to its bin.
void BM_BinningFitTransform(benchmark::State& state) {
  const Task task = MakeTask(state.range(0), state.range(1));
  for (auto _ : state) {
    const auto binning = trees::FeatureBinning::Fit(task.X, {}, Threads(state)).value();
    auto binned = binning.Transform(task.X, Threads(state));
    benchmark::DoNotOptimize(binned);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) * state.range(1));
}

void BM_GradientBoostingPredict(benchmark::State& state) {
  const Task task = MakeTask(state.range(0), state.range(1));
  const trees::RowMatrix none(0, task.X.cols());
  const auto model = trees::GradientBoosting::Fit(task.X, task.y, {}, none, {}, {}, {}).value();
  for (auto _ : state) {
    auto scores = model.PredictRaw(task.X, Threads(state));
    benchmark::DoNotOptimize(scores);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void RegisterAll() {
  const bool large = std::getenv("COMPTOIR_BENCH_LARGE") != nullptr;
  for (auto* bench : {benchmark::RegisterBenchmark("BM_GradientBoostingFit", BM_GradientBoostingFit),
                      benchmark::RegisterBenchmark("BM_BinningFitTransform", BM_BinningFitTransform),
                      benchmark::RegisterBenchmark("BM_GradientBoostingPredict", BM_GradientBoostingPredict)}) {
    bench->Args({20'000, 20, 2})->Unit(benchmark::kMillisecond)->UseRealTime();
    if (large) bench->Args({200'000, 20, 1})->Args({200'000, 20, 2})->Args({1'000'000, 50, 2});
  }
}

const bool registered = (RegisterAll(), true);

}  // namespace
}  // namespace comptoir
