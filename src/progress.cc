#include "comptoir/progress.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace comptoir {

ProgressReporter::ProgressReporter(ProgressCallback callback, std::int64_t total, std::string stage)
    : callback_(std::move(callback)),
      total_(std::max<std::int64_t>(total, 0)),
      stage_(std::move(stage)),
      step_(std::max<std::int64_t>(1, total_ / 100)),
      next_report_(step_) {}

void ProgressReporter::Advance(std::int64_t units) {
  const std::int64_t done = done_.fetch_add(units, std::memory_order_relaxed) + units;
  if (!callback_ || Cancelled()) return;
  std::int64_t expected = next_report_.load(std::memory_order_relaxed);
  if (done < expected) return;
  // One thread wins the right to report this step; the others carry on working.
  if (!next_report_.compare_exchange_strong(expected, done + step_)) return;
  Call(std::min(done, total_));
}

void ProgressReporter::Call(std::int64_t done) {
  std::lock_guard<std::mutex> lock(call_mutex_);
  if (Cancelled()) return;
  if (!callback_(done, total_, stage_)) cancelled_.store(true, std::memory_order_relaxed);
}

absl::Status ProgressReporter::status() const {
  if (Cancelled()) return absl::CancelledError(absl::StrCat("cancelled during ", stage_));
  return absl::OkStatus();
}

void ProgressReporter::Finish() {
  if (callback_ && !Cancelled()) Call(total_);
}

}  // namespace comptoir
