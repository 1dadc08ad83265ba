// Version, logging, and the execution machinery (threads, cancellation) every area shares.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "comptoir/logging.h"
#include "comptoir/options.h"
#include "comptoir/status.h"
#include "comptoir/version.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "status_translation.h"

namespace comptoir::python {

void RegisterCore(py::module_& m) {
  m.attr("__version__") = kVersion;
  m.def("set_log_level", &InstallLogSink, py::arg("level"),
        "Forward comptoir's C++ log messages at or above `level` to the 'comptoir' logger.");
  m.def("flush_logs", &FlushLogs, "Emit buffered C++ log messages now.");
  m.def("default_num_threads", [] { return internal::ResolveNumThreads(0); });

  // A seeded parallel Monte-Carlo sum: the smallest real workload that exercises the arena, the
  // counter-based RNG, deterministic reduction, progress and cancellation from Python.
  m.def(
      "parallel_uniform_sum",
      [](std::int64_t n, std::uint64_t seed, int num_threads, const py::object& on_progress) {
        ExecutionOptions options;
        options.num_threads = num_threads;
        options.seed = seed;
        ThrowIfError(options.Validate());
        return RunReleasingGil(
            [&](ProgressCallback progress) -> absl::StatusOr<double> {
              ProgressReporter reporter(std::move(progress), n, "parallel_uniform_sum");
              constexpr std::int64_t kChunk = 1 << 16;
              std::vector<double> partials(static_cast<std::size_t>(internal::NumChunks(n, kChunk)));
              const absl::Status status = internal::ParallelForChunks(
                  options.num_threads, n, kChunk,
                  [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
                    internal::CounterRng rng(options.seed, static_cast<std::uint64_t>(chunk));
                    double sum = 0.0;
                    for (std::int64_t i = begin; i < end; ++i) sum += rng.Uniform();
                    partials[static_cast<std::size_t>(chunk)] = sum;
                  },
                  &reporter);
              if (!status.ok()) return status;
              Logf(LogLevel::kInfo, "parallel_uniform_sum: ", n, " draws on ",
                   internal::ResolveNumThreads(options.num_threads), " threads");
              double total = 0.0;
              for (double partial : partials) total += partial;
              reporter.Finish();
              return total;
            },
            on_progress);
      },
      py::arg("n"), py::arg("seed") = 42, py::arg("num_threads") = 0,
      py::arg("on_progress") = py::none(),
      "Sum of n seeded uniform draws; bit-identical for a seed whatever num_threads is.");

  // Lets the Python tests check every row of the Status -> exception table.
  py::module_ testing = m.def_submodule("_testing", "hooks for comptoir's own tests");
  testing.def(
      "raise_status",
      [](int code, const std::string& message, bool model_format) {
        absl::Status status(static_cast<absl::StatusCode>(code), message);
        ThrowIfError(model_format ? MarkModelFormatError(status) : status);
      },
      py::arg("code"), py::arg("message"), py::arg("model_format") = false);
}

}  // namespace comptoir::python
