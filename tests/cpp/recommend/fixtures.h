// Small synthetic data shared by the recommender tests.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "comptoir/embed/item2vec.h"
#include "comptoir/recommend/session_knn.h"
#include "internal/rng.h"

namespace comptoir::recommend::fixtures {

// Sessions walk along item "chains" of a group: item g*20+i is usually followed by g*20+i+1.
struct Log {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  std::vector<std::int64_t> times;
  std::vector<std::int32_t> users;
  data::SessionsView view() const { return {offsets, items, {}, {}, {}}; }
  TrainingSessions training() const { return {view(), times, users}; }
};

// 100 items in 5 groups; session s belongs to user s % 50.
inline Log ChainSessions(int sessions, std::uint64_t seed) {
  Log log;
  internal::CounterRng rng(seed, 0);
  for (int s = 0; s < sessions; ++s) {
    const auto group = static_cast<std::int32_t>(rng.UniformInt(5));
    auto position = static_cast<std::int32_t>(rng.UniformInt(15));
    const int length = 2 + static_cast<int>(rng.UniformInt(5));
    for (int i = 0; i < length && position < 20; ++i, ++position) log.items.push_back(group * 20 + position);
    log.offsets.push_back(static_cast<std::int64_t>(log.items.size()));
    log.times.push_back(1'000'000 + s * 60);
    log.users.push_back(s % 50);
  }
  return log;
}

// Two taste groups of 10 items (0-9, 10-19); item 20 is never seen.
inline std::shared_ptr<const embed::Item2Vec> GroupEmbeddings() {
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int32_t> items;
  internal::CounterRng rng(3, 0);
  for (int s = 0; s < 2000; ++s) {
    const auto group = static_cast<std::int32_t>(rng.UniformInt(2));
    for (int i = 0; i < 5; ++i) items.push_back(group * 10 + static_cast<std::int32_t>(rng.UniformInt(10)));
    offsets.push_back(static_cast<std::int64_t>(items.size()));
  }
  embed::Item2VecConfig config;
  config.dim = 8;
  config.epochs = 3;
  config.subsample = 0;
  return std::make_shared<const embed::Item2Vec>(embed::Item2Vec::Fit({offsets, items, {}, {}, {}}, 21, config, {}).value());
}

}  // namespace comptoir::recommend::fixtures
