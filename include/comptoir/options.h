// Execution options shared by every long-running call.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "comptoir/progress.h"

namespace comptoir {

struct ExecutionOptions {
  // Worker threads for this call; 0 means all available cores.
  int num_threads = 0;
  // Seed for every random choice; results are bit-identical for a seed whatever num_threads is.
  std::uint64_t seed = 42;
  // Optional progress report / cancellation hook.
  ProgressCallback progress;

  absl::Status Validate() const {
    if (num_threads < 0) return absl::InvalidArgumentError("num_threads must be >= 0");
    return absl::OkStatus();
  }
};

}  // namespace comptoir
