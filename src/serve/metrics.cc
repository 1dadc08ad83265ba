#include "metrics.h"

#include <cstdio>

namespace comptoir::serve {

Metrics::Metrics(const std::vector<std::string>& endpoints) {
  for (const std::string& name : endpoints) endpoints_.emplace(name, std::make_unique<Endpoint>());
  endpoints_.emplace("other", std::make_unique<Endpoint>());
}

void Metrics::Observe(const std::string& endpoint, int status, double seconds) {
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) it = endpoints_.find("other");
  Endpoint& e = *it->second;
  e.requests.fetch_add(1, std::memory_order_relaxed);
  if (status >= 500) {
    e.server_errors.fetch_add(1, std::memory_order_relaxed);
  } else if (status >= 400) {
    e.client_errors.fetch_add(1, std::memory_order_relaxed);
  }
  std::size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  e.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  e.micros_sum.fetch_add(static_cast<std::int64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string Metrics::Render(const std::string& extra) const {
  std::string out;
  char line[256];
  out += "# HELP comptoir_requests_total Requests answered, per endpoint.\n# TYPE comptoir_requests_total counter\n";
  for (const auto& [name, e] : endpoints_) {
    std::snprintf(line, sizeof line, "comptoir_requests_total{endpoint=\"%s\"} %lld\n", name.c_str(),
                  static_cast<long long>(e->requests.load()));
    out += line;
  }
  out += "# HELP comptoir_errors_total Requests answered with an error, per endpoint and class.\n"
         "# TYPE comptoir_errors_total counter\n";
  for (const auto& [name, e] : endpoints_) {
    std::snprintf(line, sizeof line, "comptoir_errors_total{endpoint=\"%s\",class=\"4xx\"} %lld\n", name.c_str(),
                  static_cast<long long>(e->client_errors.load()));
    out += line;
    std::snprintf(line, sizeof line, "comptoir_errors_total{endpoint=\"%s\",class=\"5xx\"} %lld\n", name.c_str(),
                  static_cast<long long>(e->server_errors.load()));
    out += line;
  }
  out += "# HELP comptoir_request_seconds Request latency in the handler, per endpoint.\n"
         "# TYPE comptoir_request_seconds histogram\n";
  for (const auto& [name, e] : endpoints_) {
    std::int64_t cumulative = 0;
    for (std::size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += e->buckets[b].load();
      if (b < kBuckets.size()) {
        std::snprintf(line, sizeof line, "comptoir_request_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %lld\n",
                      name.c_str(), kBuckets[b], static_cast<long long>(cumulative));
      } else {
        std::snprintf(line, sizeof line, "comptoir_request_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %lld\n",
                      name.c_str(), static_cast<long long>(cumulative));
      }
      out += line;
    }
    std::snprintf(line, sizeof line, "comptoir_request_seconds_sum{endpoint=\"%s\"} %.6f\n", name.c_str(),
                  static_cast<double>(e->micros_sum.load()) * 1e-6);
    out += line;
    std::snprintf(line, sizeof line, "comptoir_request_seconds_count{endpoint=\"%s\"} %lld\n", name.c_str(),
                  static_cast<long long>(cumulative));
    out += line;
  }
  out += extra;
  return out;
}

}  // namespace comptoir::serve
