// Long calls (training, batch scoring, simulation) report progress and can be cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace comptoir {

// Called with the work done so far out of `total` units for `stage`. Returning false asks the
// computation to stop; it then returns absl::CancelledError. May be called from worker threads,
// but never concurrently: the reporter serialises calls.
using ProgressCallback =
    std::function<bool(std::int64_t done, std::int64_t total, std::string_view stage)>;

// Thread-safe accumulator that throttles calls to a ProgressCallback. Workers call Advance();
// a cancellation request is sticky and observed by Cancelled() from every thread.
class ProgressReporter {
 public:
  ProgressReporter(ProgressCallback callback, std::int64_t total, std::string stage);

  // Adds `units` of finished work; invokes the callback at most ~100 times over the run.
  void Advance(std::int64_t units);
  bool Cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // OK, or CancelledError naming the stage once the callback asked to stop.
  absl::Status status() const;
  // Reports completion (done == total) unless cancelled.
  void Finish();

 private:
  void Call(std::int64_t done);

  ProgressCallback callback_;
  std::int64_t total_;
  std::string stage_;
  std::int64_t step_;
  std::atomic<std::int64_t> done_{0};
  std::atomic<std::int64_t> next_report_;
  std::atomic<bool> cancelled_{false};
  std::mutex call_mutex_;
};

}  // namespace comptoir
