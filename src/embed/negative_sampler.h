// Negative sampling for skip-gram: items drawn with probability proportional to count^exponent.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "internal/rng.h"

namespace comptoir::embed {

// Walker's alias method over counts^ns_exponent: one 64-bit draw gives a bucket and a coin, and
// the table is 8 bytes an item (a third of a megabyte at 43k items: it stays in L2), where a
// fixed-slot table needs tens of slots an item and misses the cache on every negative.
class NegativeSampler {
 public:
  // counts[i] is item i's frequency; at least one must be positive.
  void Build(const std::vector<std::int64_t>& counts, double exponent) {
    const std::size_t n = counts.size();
    std::vector<double> scaled(n, 0.0);
    double total = 0;
    std::size_t heaviest = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // Items never seen are never drawn (pow(0, 0) would make them as likely as any other).
      if (counts[i] > 0) total += scaled[i] = std::pow(static_cast<double>(counts[i]), exponent);
      if (scaled[i] > scaled[heaviest]) heaviest = i;
    }
    for (double& w : scaled) w *= static_cast<double>(n) / total;
    buckets_.assign(n, Bucket{0, 0});
    std::vector<std::int32_t> small, large;
    for (std::size_t i = 0; i < n; ++i) (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::int32_t>(i));
    while (!small.empty() && !large.empty()) {
      const std::int32_t light = small.back();
      small.pop_back();
      const std::int32_t heavy = large.back();
      buckets_[light] = {Threshold(scaled[light]), heavy};
      scaled[heavy] = (scaled[heavy] + scaled[light]) - 1.0;
      if (scaled[heavy] < 1.0) {
        large.pop_back();
        small.push_back(heavy);
      }
    }
    // What is left holds (up to rounding) a whole bucket of its own, except an unseen item that
    // rounding stranded: that bucket goes to the heaviest item.
    for (const std::vector<std::int32_t>* rest : {&small, &large}) {
      for (std::int32_t i : *rest) {
        buckets_[i] = counts[i] > 0 ? Bucket{0, i} : Bucket{0, static_cast<std::int32_t>(heaviest)};
      }
    }
  }

  std::int32_t Draw(internal::CounterRng& rng) const {
    const std::uint64_t bits = rng.NextU64();
    const auto bucket = static_cast<std::size_t>(((bits >> 32) * buckets_.size()) >> 32);
    const Bucket& b = buckets_[bucket];
    // The coin is a fair random bit pattern, so a branch on it mispredicts about as often as the
    // threshold is far from 0 and 1, and each miss throws away the draws behind it: select by mask.
    const std::uint32_t alias_mask = 0u - static_cast<std::uint32_t>(static_cast<std::uint32_t>(bits) >= b.threshold);
    return static_cast<std::int32_t>((static_cast<std::uint32_t>(bucket) & ~alias_mask) |
                                     (static_cast<std::uint32_t>(b.alias) & alias_mask));
  }

 private:
  struct Bucket {
    std::uint32_t threshold;  // keep the bucket's own item when the coin's 32 bits are below this
    std::int32_t alias;
  };

  static std::uint32_t Threshold(double probability) {
    return static_cast<std::uint32_t>(std::min(probability * 0x1.0p32, 0x1.0p32 - 1));
  }

  std::vector<Bucket> buckets_;
};

}  // namespace comptoir::embed
