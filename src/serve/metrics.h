// Request counters and latency histograms per endpoint, written in Prometheus' text format.
// Lock-free on the request path (atomics); the endpoint set is fixed at start-up.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace comptoir::serve {

class Metrics {
 public:
  explicit Metrics(const std::vector<std::string>& endpoints);

  // One answered request; `status` is its HTTP status (>= 400 counts as an error).
  void Observe(const std::string& endpoint, int status, double seconds);
  // The text exposition; `extra` (gauges the caller knows: sessions, models) is appended.
  std::string Render(const std::string& extra) const;

  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.0};

 private:
  struct Endpoint {
    std::atomic<std::int64_t> requests{0};
    std::atomic<std::int64_t> client_errors{0};
    std::atomic<std::int64_t> server_errors{0};
    std::array<std::atomic<std::int64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf
    std::atomic<std::int64_t> micros_sum{0};
  };
  std::map<std::string, std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace comptoir::serve
