// Bounding per-thread scratch buffers. A serving thread keeps its buffers between requests so the
// common case allocates nothing; but a thread that once served a large model (or one huge request)
// would otherwise hold that memory for its whole life, after the model was swapped out. A
// ScratchBound watches how much a thread's buffers hold against what the current request needs
// and says "release" once they have been far larger for many requests in a row: a thread that
// alternates between a large and a small model keeps its buffers (the large model is live), one
// whose large model is gone gives the memory back after kStreak requests.
#pragma once

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <vector>

namespace comptoir::internal {

class ScratchBound {
 public:
  // Buffers count as oversized past kRatio times the need, and only past kFloor elements, so
  // small models never churn.
  static constexpr std::size_t kRatio = 4;
  static constexpr std::size_t kFloor = std::size_t{1} << 16;
  static constexpr std::int32_t kStreak = 256;

  // Records one request; true when the caller should drop its buffers and size them afresh.
  bool Release(std::size_t held, std::size_t needed) {
    if (held <= kFloor || held <= kRatio * needed) {
      streak_ = 0;
      return false;
    }
    if (++streak_ < kStreak) return false;
    streak_ = 0;
    total_releases_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // Releases so far in the process, for tests and metrics.
  static std::int64_t TotalReleases() { return total_releases_.load(std::memory_order_relaxed); }

 private:
  static inline std::atomic<std::int64_t> total_releases_{0};
  std::int32_t streak_ = 0;
};

// Capacity in elements, summed over buffers, for ScratchBound::Release.
template <typename... Vectors>
std::size_t HeldElements(const Vectors&... vectors) {
  return (std::size_t{0} + ... + vectors.capacity());
}

}  // namespace comptoir::internal
