// The one place where absl::Status becomes a Python exception, and where long C++ calls run with
// the GIL released while the calling thread forwards logs, progress and Ctrl-C.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comptoir/progress.h"

namespace comptoir::python {

namespace py = pybind11;

// Raises the Python exception for a non-OK status (see the table in status_translation.cc).
[[noreturn]] void ThrowStatus(const absl::Status& status);

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) ThrowStatus(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> status_or) {
  if (!status_or.ok()) ThrowStatus(status_or.status());
  return std::move(status_or).value();
}

// Sends comptoir's buffered log messages to Python's `logging` (logger "comptoir"). Must be called
// with the GIL held; C++ threads only ever append to the buffer.
void FlushLogs();

// Installs the buffering log sink at `level` (a Python logging level).
void InstallLogSink(int level);

// Runs fn(ProgressCallback) -> absl::Status or absl::StatusOr<T> on a worker thread with the GIL
// released. Meanwhile the calling thread wakes every 50 ms to forward logs, report progress to
// `on_progress` (a Python callable(done, total, stage) or None) and check for Ctrl-C, which asks
// the C++ call to stop and re-raises KeyboardInterrupt once it has. The result is translated.
template <typename Fn>
auto RunReleasingGil(Fn&& fn, const py::object& on_progress = py::none()) {
  struct Shared {
    std::atomic<bool> cancel{false};
    std::mutex mutex;
    std::int64_t done = 0;
    std::int64_t total = 0;
    std::string stage;
    bool reported = true;
  } shared;
  ProgressCallback callback = [&shared](std::int64_t done, std::int64_t total,
                                        std::string_view stage) {
    std::lock_guard<std::mutex> lock(shared.mutex);
    shared.done = done;
    shared.total = total;
    shared.stage.assign(stage.data(), stage.size());
    shared.reported = false;
    return !shared.cancel.load();
  };
  auto future = std::async(std::launch::async, [&] { return fn(callback); });
  // A Python exception raised meanwhile (Ctrl-C, or by on_progress) cancels the C++ call and is
  // re-raised once the call has stopped, so no C++ work outlives the Python frame.
  std::optional<py::error_already_set> pending;
  for (;;) {
    bool ready;
    {
      py::gil_scoped_release release;
      ready = future.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready;
    }
    // Forwarding logs runs Python code, where a pending Ctrl-C can surface: it must cancel too.
    try {
      FlushLogs();
    } catch (py::error_already_set& error) {
      if (!pending) pending.emplace(std::move(error));
      shared.cancel = true;
    }
    if (!on_progress.is_none() && !pending) {
      std::int64_t done = 0, total = 0;
      std::string stage;
      bool fresh;
      {
        std::lock_guard<std::mutex> lock(shared.mutex);
        done = shared.done, total = shared.total, stage = shared.stage, fresh = !shared.reported;
        shared.reported = true;
      }
      if (fresh) {
        try {
          on_progress(done, total, stage);
        } catch (py::error_already_set& error) {
          pending.emplace(std::move(error));
          shared.cancel = true;
        }
      }
    }
    if (ready) break;
    if (!pending && PyErr_CheckSignals() != 0) {
      pending.emplace();
      shared.cancel = true;
    }
  }
  auto result = future.get();
  FlushLogs();
  if (pending) throw std::move(*pending);
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    ThrowIfError(result);
  } else {
    return ValueOrThrow(std::move(result));
  }
}

}  // namespace comptoir::python
