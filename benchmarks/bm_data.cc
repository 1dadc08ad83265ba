// Event-log build, sessionize, filter and split on simulated events.
// COMPTOIR_BENCH_LARGE=1 adds the 10-million-event log (CI runs the small one once).
#include <cstdlib>
#include <cstring>

#include "benchmark/benchmark.h"
#include "comptoir/data/event_log.h"
#include "comptoir/simulate/simulator.h"

namespace comptoir {
namespace {

struct Fixture {
  std::vector<std::int64_t> session, item, timestamp, user;
  std::vector<std::uint8_t> kind;
  std::vector<float> value;
  data::RawEvents raw() const { return {session, item, timestamp, user, kind, value, {}}; }
};

const Fixture& Events(std::int32_t customers) {
  static Fixture fixture;
  static std::int32_t cached = 0;
  if (cached != customers) {
    simulate::SimulatorConfig config;
    config.num_customers = customers;
    config.num_items = 50'000;
    const simulate::SimulatedData d = simulate::Simulate(config, {}).value();
    // External ids as a shop would have them: sparse 64-bit numbers.
    fixture = Fixture();
    for (std::size_t i = 0; i < d.events.size(); ++i) {
      fixture.session.push_back(d.events.session[i] * 7919 + 1'000'000'007LL);
      fixture.item.push_back(d.events.item[i] * 104729LL + 17);
      fixture.timestamp.push_back(d.events.timestamp[i]);
      fixture.user.push_back(d.events.user[i] + 5'000'000'000LL);
      fixture.kind.push_back(static_cast<std::uint8_t>(d.events.kind[i]));
      fixture.value.push_back(d.events.value[i]);
    }
    cached = customers;
  }
  return fixture;
}

void BM_DataBuild(benchmark::State& state) {
  const Fixture& f = Events(static_cast<std::int32_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(data::EventLog::Build(f.raw()));
  state.counters["events"] = static_cast<double>(f.item.size());
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(f.item.size()));
}

void BM_DataSessionize(benchmark::State& state) {
  const data::EventLog log = data::EventLog::Build(Events(static_cast<std::int32_t>(state.range(0))).raw()).value();
  for (auto _ : state) benchmark::DoNotOptimize(log.Sessionize(1800));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(log.size()));
}

void BM_DataFilterAndSplit(benchmark::State& state) {
  const data::EventLog log = data::EventLog::Build(Events(static_cast<std::int32_t>(state.range(0))).raw()).value();
  for (auto _ : state) {
    const data::EventLog filtered = log.FilterToFixedPoint(5, 2);
    benchmark::DoNotOptimize(filtered.SplitByLastDays(7));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(log.size()));
}

void RegisterAll() {
  const bool large = std::getenv("COMPTOIR_BENCH_LARGE") != nullptr;
  for (auto* bench : {benchmark::RegisterBenchmark("BM_DataBuild", BM_DataBuild),
                      benchmark::RegisterBenchmark("BM_DataSessionize", BM_DataSessionize),
                      benchmark::RegisterBenchmark("BM_DataFilterAndSplit", BM_DataFilterAndSplit)}) {
    bench->Arg(20'000)->Unit(benchmark::kMillisecond)->UseRealTime();
    if (large) bench->Arg(190'000);  // about 10 million events
  }
}

const bool registered = (RegisterAll(), true);

}  // namespace
}  // namespace comptoir
