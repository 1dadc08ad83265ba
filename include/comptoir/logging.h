// comptoir never prints: diagnostics go to one process-wide sink that the host application
// (or the Python module, which forwards to `logging`) installs.
#pragma once

#include <functional>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace comptoir {

enum class LogLevel { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40 };

// Receives every message at or above the sink's level. Called from any thread, so it must be
// thread-safe; it must not call back into comptoir.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

// Installs `sink` (an empty function silences comptoir, the default) for messages >= `min_level`.
void SetLogSink(LogSink sink, LogLevel min_level = LogLevel::kInfo);

// True if a message at `level` would reach the sink: lets callers skip formatting.
bool LogEnabled(LogLevel level);

void Log(LogLevel level, std::string_view message);

template <typename... Args>
void Logf(LogLevel level, const Args&... args) {
  if (LogEnabled(level)) Log(level, absl::StrCat(args...));
}

}  // namespace comptoir
