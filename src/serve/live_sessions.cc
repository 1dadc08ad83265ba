#include "live_sessions.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace comptoir::serve {

absl::StatusOr<data::EventKind> ParseEventKind(const std::string& text) {
  static const char* const kNames[] = {"view", "cart", "purchase", "remove_from_cart", "return"};
  for (int code = 0; code < data::kNumEventKinds; ++code) {
    if (text == kNames[code] || text == std::to_string(code)) return static_cast<data::EventKind>(code);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown event kind '", text, "' (view, cart, purchase, remove_from_cart, return)"));
}

LiveSessions::LiveSessions(LiveSessionOptions options, std::function<void(EndedSession)> on_end)
    : options_(options), on_end_(std::move(on_end)) {
  sweeper_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(stop_mutex_);
    while (!stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
      lock.unlock();
      EndIdle(Clock::now());
      lock.lock();
    }
  });
}

LiveSessions::~LiveSessions() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  sweeper_.join();
}

EndedSession LiveSessions::Take(std::unordered_map<std::string, Live>::iterator it) {
  EndedSession ended;
  ended.items = std::move(it->second.events.items);
  ended.timestamp = it->second.events.timestamps.empty() ? 0 : it->second.events.timestamps.back();
  ended.user = std::move(it->second.events.user);
  lru_.erase(it->second.lru);
  sessions_.erase(it);
  return ended;
}

void LiveSessions::Deliver(std::vector<EndedSession> ended) {
  for (EndedSession& session : ended) {
    if (!session.items.empty()) on_end_(std::move(session));
  }
}

absl::Status LiveSessions::Record(const std::string& session_id, const std::string& user, const std::string& item,
                                  data::EventKind kind, std::int64_t timestamp) {
  std::vector<EndedSession> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) {
      while (sessions_.size() >= options_.max_sessions && !lru_.empty()) ended.push_back(Take(sessions_.find(lru_.front())));
      lru_.push_back(session_id);
      it = sessions_.emplace(session_id, Live{}).first;
      it->second.lru = std::prev(lru_.end());
      it->second.events.user = user;
    } else {
      if (!user.empty() && !it->second.events.user.empty() && user != it->second.events.user) {
        return absl::InvalidArgumentError(absl::StrCat("session '", session_id, "' belongs to another user"));
      }
      if (it->second.events.user.empty()) it->second.events.user = user;
      lru_.splice(lru_.end(), lru_, it->second.lru);
    }
    SessionSoFar& events = it->second.events;
    events.items.push_back(item);
    events.kinds.push_back(kind);
    events.timestamps.push_back(timestamp);
    if (events.items.size() > options_.max_events) {
      events.items.erase(events.items.begin());
      events.kinds.erase(events.kinds.begin());
      events.timestamps.erase(events.timestamps.begin());
    }
    it->second.last_seen = Clock::now();
  }
  Deliver(std::move(ended));
  return absl::OkStatus();
}

bool LiveSessions::End(const std::string& session_id) {
  std::vector<EndedSession> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return false;
    ended.push_back(Take(it));
  }
  Deliver(std::move(ended));
  return true;
}

absl::StatusOr<SessionSoFar> LiveSessions::Get(const std::string& session_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return absl::NotFoundError(absl::StrCat("no live session '", session_id, "'"));
  return it->second.events;
}

std::int64_t LiveSessions::Forget(const std::string& user) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::int64_t removed = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.events.user == user) {
      lru_.erase(it->second.lru);
      it = sessions_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

void LiveSessions::EndIdle(Clock::time_point now) {
  std::vector<EndedSession> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // The least recently seen come first: stop at the first one still active.
    while (!lru_.empty()) {
      const auto it = sessions_.find(lru_.front());
      if (now - it->second.last_seen < options_.idle_timeout) break;
      ended.push_back(Take(it));
    }
  }
  Deliver(std::move(ended));
}

std::size_t LiveSessions::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.size();
}

}  // namespace comptoir::serve
