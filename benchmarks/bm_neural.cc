// Serving latency of the neural session recommender: one session encoded and scored against the
// whole catalogue (DIGINETICA's 43,097 items, exact search) on one thread, with p50 / p99 as
// counters; COMPTOIR_BENCH_LARGE=1 adds one million items served from the IVF index.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "comptoir/recommend/neural_session.h"
#include "internal/rng.h"

namespace comptoir {
namespace {

// Sessions that visit every item, so that every item is served; one short epoch (the cost of a
// request does not depend on how well the network was trained).
const recommend::NeuralSession& Model(std::int32_t items) {
  static std::map<std::int32_t, std::unique_ptr<recommend::NeuralSession>> models;
  auto& model = models[items];
  if (model == nullptr) {
    std::vector<std::int64_t> offsets{0};
    std::vector<std::int32_t> seq;
    internal::CounterRng rng(5, 0);
    for (std::int32_t first = 0; first < items; first += 4) {
      for (std::int32_t i = 0; i < 5; ++i) seq.push_back((first + i) % items);
      seq.push_back(static_cast<std::int32_t>(rng.UniformInt(static_cast<std::uint64_t>(items))));
      offsets.push_back(static_cast<std::int64_t>(seq.size()));
    }
    recommend::NeuralSessionConfig config;
    config.epochs = 1;
    config.num_negatives = 256;
    config.batch_size = 2048;
    model = recommend::NeuralSession::Fit({offsets, seq, {}, {}, {}}, {}, items, config, {}).value();
  }
  return *model;
}

void BM_NeuralSessionRecommend(benchmark::State& state) {
  const auto items = static_cast<std::int32_t>(state.range(0));
  const recommend::NeuralSession& model = Model(items);
  internal::CounterRng rng(9, 0);
  std::vector<std::int32_t> session(5);
  std::vector<double> micros;
  for (auto _ : state) {
    for (std::int32_t& item : session) item = static_cast<std::int32_t>(rng.UniformInt(static_cast<std::uint64_t>(items)));
    recommend::RecommendRequest request;
    request.session_items = session;
    request.k = 20;
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(model.Recommend(request));
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(micros.begin(), micros.end());
  state.counters["p50_us"] = micros[micros.size() / 2];
  state.counters["p99_us"] = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
}

void RegisterAll() {
  auto* recommend = benchmark::RegisterBenchmark("BM_NeuralSessionRecommend", BM_NeuralSessionRecommend)
                        ->Arg(43'097)->Unit(benchmark::kMicrosecond);
  if (std::getenv("COMPTOIR_BENCH_LARGE") != nullptr) recommend->Arg(1'000'000);
}

const bool registered = (RegisterAll(), true);

}  // namespace
}  // namespace comptoir
