// Live sessions in bounded memory: what each shopper did so far, by session id, so that a
// recommendation can name only the session. A session ends when told so, after `idle_timeout` of
// silence, or when the oldest must make room; an ended session goes to `on_end` (the model store
// adds it to the session kNNs). Users' events are personal data: Forget drops them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/data/events.h"
#include "model_store.h"

namespace comptoir::serve {

struct LiveSessionOptions {
  std::chrono::seconds idle_timeout{1800};
  std::size_t max_sessions = 100'000;
  std::size_t max_events = 200;  // per session, the most recent kept
};

struct SessionSoFar {
  std::vector<std::string> items;
  std::vector<data::EventKind> kinds;
  std::vector<std::int64_t> timestamps;
  std::string user;
};

class LiveSessions {
 public:
  using Clock = std::chrono::steady_clock;

  LiveSessions(LiveSessionOptions options, std::function<void(EndedSession)> on_end);
  ~LiveSessions();
  LiveSessions(const LiveSessions&) = delete;
  LiveSessions& operator=(const LiveSessions&) = delete;

  // Appends an event (InvalidArgument when the session belongs to another user).
  absl::Status Record(const std::string& session_id, const std::string& user, const std::string& item,
                      data::EventKind kind, std::int64_t timestamp);
  // Ends a session now; false when it is not live.
  bool End(const std::string& session_id);
  // The session's events so far; NotFound when it is not live.
  absl::StatusOr<SessionSoFar> Get(const std::string& session_id) const;
  // Drops every live session of `user` without learning from them; returns how many.
  std::int64_t Forget(const std::string& user);
  // Ends the sessions idle for longer than the timeout (the sweeper calls it every second).
  void EndIdle(Clock::time_point now);
  std::size_t size() const;

 private:
  struct Live {
    SessionSoFar events;
    Clock::time_point last_seen;
    std::list<std::string>::iterator lru;  // position in lru_ (most recent at the back)
  };
  // Removes `it` and returns what ends with it (handed to on_end outside the lock).
  EndedSession Take(std::unordered_map<std::string, Live>::iterator it);
  void Deliver(std::vector<EndedSession> ended);

  const LiveSessionOptions options_;
  const std::function<void(EndedSession)> on_end_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Live> sessions_;
  std::list<std::string> lru_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

// "view", "cart", "purchase", "remove_from_cart", "return" (or their codes 0..4).
absl::StatusOr<data::EventKind> ParseEventKind(const std::string& text);

}  // namespace comptoir::serve
