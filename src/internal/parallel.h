// All of comptoir's parallel work goes through here: a TBB arena per call sized by
// ExecutionOptions::num_threads, and fixed chunking so results never depend on the thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "absl/status/status.h"
#include "comptoir/progress.h"

namespace comptoir::internal {

// 0 means "all cores the process may use"; negative values are rejected by Validate() upstream.
inline int ResolveNumThreads(int num_threads) {
  const int available = tbb::this_task_arena::max_concurrency();
  return num_threads <= 0 ? available : num_threads;
}

// Runs `fn` inside an arena of exactly `num_threads` workers (0 = all cores).
template <typename Fn>
decltype(auto) RunInArena(int num_threads, Fn&& fn) {
  tbb::task_arena arena(ResolveNumThreads(num_threads));
  return arena.execute(std::forward<Fn>(fn));
}

inline std::int64_t NumChunks(std::int64_t n, std::int64_t chunk_size) {
  return n <= 0 ? 0 : (n + chunk_size - 1) / chunk_size;
}

// Calls fn(chunk_index, chunk_begin, chunk_end) for fixed chunks of [0, n), in parallel within an
// arena of `num_threads`. Chunk boundaries depend only on n and chunk_size, so per-chunk work
// seeded by chunk_index is identical for any thread count. If `progress` is given, each finished
// chunk advances it by its size and, once cancelled, remaining chunks are skipped; the return
// value is then CancelledError.
template <typename Fn>
absl::Status ParallelForChunks(int num_threads, std::int64_t n, std::int64_t chunk_size, Fn&& fn,
                               ProgressReporter* progress = nullptr) {
  chunk_size = std::max<std::int64_t>(chunk_size, 1);
  const std::int64_t chunks = NumChunks(n, chunk_size);
  if (chunks == 0) return absl::OkStatus();
  auto body = [&](std::int64_t chunk) {
    if (progress != nullptr && progress->Cancelled()) return;
    const std::int64_t begin = chunk * chunk_size;
    const std::int64_t end = std::min(n, begin + chunk_size);
    fn(chunk, begin, end);
    if (progress != nullptr) progress->Advance(end - begin);
  };
  const int threads = ResolveNumThreads(num_threads);
#ifdef COMPTOIR_TSAN_STD_THREADS
  // ThreadSanitizer cannot see the synchronisation inside libtbb (it is not instrumented) and
  // reports TBB's task pool itself as racing. Under TSan the same chunks run on std::threads,
  // whose start and join it understands, so that races in comptoir's own loop bodies still show.
  const auto run = [&] {
    std::atomic<std::int64_t> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < std::min<std::int64_t>(threads, chunks); ++t) {
      workers.emplace_back([&] {
        for (std::int64_t c = next++; c < chunks; c = next++) body(c);
      });
    }
    for (std::thread& worker : workers) worker.join();
  };
#else
  const auto run = [&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, chunks, 1),
                      [&](const tbb::blocked_range<std::int64_t>& r) {
                        for (std::int64_t c = r.begin(); c != r.end(); ++c) body(c);
                      });
  };
#endif
  if (threads == 1 || chunks == 1) {
    for (std::int64_t c = 0; c < chunks; ++c) body(c);
  } else if (threads == tbb::this_task_arena::max_concurrency()) {
    run();  // already inside an arena of the right size: creating one per call costs more than small loops
  } else {
    RunInArena(num_threads, run);
  }
  return progress != nullptr ? progress->status() : absl::OkStatus();
}

// Deterministic parallel reduction: map(begin, end) -> T per fixed chunk, then the partials are
// folded left to right with combine(T&, const T&), so floating-point sums are reproducible.
template <typename T, typename Map, typename Combine>
T DeterministicReduce(int num_threads, std::int64_t n, std::int64_t chunk_size, T identity,
                      Map&& map, Combine&& combine) {
  chunk_size = std::max<std::int64_t>(chunk_size, 1);
  std::vector<T> partials(static_cast<std::size_t>(NumChunks(n, chunk_size)), identity);
  // Without a reporter ParallelForChunks cannot fail.
  (void)ParallelForChunks(num_threads, n, chunk_size,
                          [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
                            partials[static_cast<std::size_t>(chunk)] = map(begin, end);
                          });
  T result = std::move(identity);
  for (const T& partial : partials) combine(result, partial);
  return result;
}

}  // namespace comptoir::internal
