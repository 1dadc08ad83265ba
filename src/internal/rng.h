// Counter-based random numbers: the n-th draw of stream (seed, stream_id) is a pure function of
// (seed, stream_id, n). Parallel work keys a stream by its chunk or entity index, so results are
// bit-identical whatever the thread count or scheduling. absl::BitGen is never used for seeded work.
#pragma once

#include <cmath>
#include <cstdint>

namespace comptoir::internal {

// SplitMix64's finaliser: a bijective avalanche mix of 64 bits.
inline constexpr std::uint64_t Mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Derives the key of an independent stream from a seed and any number of ids.
inline constexpr std::uint64_t StreamKey(std::uint64_t seed, std::uint64_t id) {
  return Mix64(Mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (id * 0xd1342543de82ef95ULL + 1));
}

// GCC and Clang provide 128-bit integers as an extension; __extension__ keeps -Wpedantic quiet.
__extension__ using Uint128 = unsigned __int128;

class CounterRng {
 public:
  constexpr CounterRng(std::uint64_t seed, std::uint64_t stream_id)
      : key_(StreamKey(seed, stream_id)) {}

  // The draw at position `counter`, without advancing.
  constexpr std::uint64_t At(std::uint64_t counter) const {
    return Mix64(key_ + counter * 0x9e3779b97f4a7c15ULL);
  }
  std::uint64_t NextU64() { return At(counter_++); }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  // Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject).
  std::uint64_t UniformInt(std::uint64_t n) {
    if (n == 0) return 0;
    Uint128 product = static_cast<Uint128>(NextU64()) * n;
    auto low = static_cast<std::uint64_t>(product);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        product = static_cast<Uint128>(NextU64()) * n;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

  bool Bernoulli(double p) { return Uniform() < p; }

  // Standard normal by Box-Muller; one draw per call keeps the counter arithmetic simple.
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }

  double Exponential(double rate) { return -std::log(1.0 - Uniform()) / rate; }

  std::uint64_t counter() const { return counter_; }

 private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

}  // namespace comptoir::internal
