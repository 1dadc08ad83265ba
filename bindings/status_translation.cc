#include "status_translation.h"

#include <deque>
#include <string>
#include <utility>

#include "comptoir/logging.h"
#include "comptoir/status.h"

namespace comptoir::python {
namespace {

// absl::Status code -> name of the exception class in comptoir.exceptions. Every class there
// derives from comptoir.ComptoirError and from the matching built-in exception.
const char* ExceptionName(const absl::Status& status) {
  if (IsModelFormatError(status)) return "ModelFormatError";
  if (IsInfeasible(status)) return "InfeasibleError";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "InvalidArgumentError";     // ValueError
    case absl::StatusCode::kNotFound:
      return "NotFoundError";            // KeyError and FileNotFoundError
    case absl::StatusCode::kFailedPrecondition:
      return "NotFittedError";           // ValueError and AttributeError, as in scikit-learn
    case absl::StatusCode::kDataLoss:
      return "ModelFormatError";         // ValueError
    case absl::StatusCode::kAlreadyExists:
      return "AlreadyExistsError";       // ValueError
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnavailable:
      return "ComptoirOSError";          // OSError
    case absl::StatusCode::kUnimplemented:
      return "NotImplementedComptoirError";  // NotImplementedError
    case absl::StatusCode::kResourceExhausted:
      return "ResourceExhaustedError";   // MemoryError
    default:
      return "ComptoirError";
  }
}

struct LogRecord {
  int level;
  std::string message;
};

std::mutex g_log_mutex;
std::deque<LogRecord> g_log_buffer;
constexpr std::size_t kMaxBufferedLogs = 10'000;

}  // namespace

void ThrowStatus(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) {
    PyErr_SetString(PyExc_KeyboardInterrupt, std::string(status.message()).c_str());
    throw py::error_already_set();
  }
  py::object exceptions = py::module_::import("comptoir.exceptions");
  py::object type = exceptions.attr(ExceptionName(status));
  PyErr_SetString(type.ptr(), std::string(status.message()).c_str());
  throw py::error_already_set();
}

void InstallLogSink(int level) {
  SetLogSink(
      [](LogLevel log_level, std::string_view message) {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        // A runaway producer must not grow memory without bound while Python is not draining.
        if (g_log_buffer.size() >= kMaxBufferedLogs) g_log_buffer.pop_front();
        g_log_buffer.push_back({static_cast<int>(log_level), std::string(message)});
      },
      static_cast<LogLevel>(level <= 10 ? 10 : level <= 20 ? 20 : level <= 30 ? 30 : 40));
}

void FlushLogs() {
  std::deque<LogRecord> records;
  {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    records.swap(g_log_buffer);
  }
  if (records.empty()) return;
  py::object logger = py::module_::import("logging").attr("getLogger")("comptoir");
  for (const LogRecord& record : records) logger.attr("log")(record.level, record.message);
}

}  // namespace comptoir::python
