// Top-k selection kernels shared by every scorer: small, header-only, allocation-free after the
// first call. Ties are broken by the smaller id so results never depend on scan order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace comptoir::retrieval {

struct ScoredId {
  std::int32_t id;
  float score;
};

// True if a ranks strictly before b: higher score first, then smaller id.
inline bool RanksBefore(const ScoredId& a, const ScoredId& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// Keeps the k best candidates pushed so far in a heap whose top is the worst kept candidate.
// Reuse one selector per thread: Reset() keeps the buffer's capacity.
class TopKSelector {
 public:
  explicit TopKSelector(std::size_t k = 0) { Reset(k); }

  void Reset(std::size_t k) {
    k_ = k;
    heap_.clear();
    heap_.reserve(k);
  }

  std::size_t k() const { return k_; }
  std::size_t size() const { return heap_.size(); }

  // The score a candidate must beat to enter (lowest float when not yet full).
  float Threshold() const { return Full() ? heap_.front().score : -std::numeric_limits<float>::infinity(); }
  bool Full() const { return heap_.size() == k_; }

  void Push(std::int32_t id, float score) {
    const ScoredId candidate{id, score};
    if (!Full()) {
      heap_.push_back(candidate);
      std::push_heap(heap_.begin(), heap_.end(), RanksBefore);
    } else if (k_ > 0 && RanksBefore(candidate, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), RanksBefore);
      heap_.back() = candidate;
      std::push_heap(heap_.begin(), heap_.end(), RanksBefore);
    }
  }

  // Moves the kept candidates, best first, into `out` (cleared first) and empties the selector.
  void TakeSorted(std::vector<ScoredId>& out) {
    std::sort_heap(heap_.begin(), heap_.end(), RanksBefore);
    out.assign(heap_.begin(), heap_.end());
    heap_.clear();
  }

 private:
  std::size_t k_ = 0;
  std::vector<ScoredId> heap_;
};

}  // namespace comptoir::retrieval
