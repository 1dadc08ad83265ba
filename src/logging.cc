#include "comptoir/logging.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

namespace comptoir {
namespace {

struct SinkState {
  LogSink sink;
  LogLevel min_level;
};

std::mutex& SinkMutex() {
  static std::mutex mutex;
  return mutex;
}

// The sink is swapped as a whole so that Log() never sees a half-installed sink; the level is
// mirrored in an atomic so that disabled logging costs one load.
std::shared_ptr<const SinkState>& CurrentSink() {
  static std::shared_ptr<const SinkState> state;
  return state;
}
std::atomic<int> g_min_level{1 << 20};

}  // namespace

void SetLogSink(LogSink sink, LogLevel min_level) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  const bool enabled = static_cast<bool>(sink);
  CurrentSink() = enabled ? std::make_shared<const SinkState>(SinkState{std::move(sink), min_level})
                          : nullptr;
  g_min_level.store(enabled ? static_cast<int>(min_level) : (1 << 20), std::memory_order_release);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_acquire);
}

void Log(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::shared_ptr<const SinkState> state;
  {
    std::lock_guard<std::mutex> lock(SinkMutex());
    state = CurrentSink();
  }
  if (state && static_cast<int>(level) >= static_cast<int>(state->min_level)) {
    state->sink(level, message);
  }
}

}  // namespace comptoir
