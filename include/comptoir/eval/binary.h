// Metrics for probability scores against 0/1 outcomes.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace comptoir::eval {

// Area under the ROC curve; tied scores count half (the Mann-Whitney statistic).
absl::StatusOr<double> RocAuc(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels);
// Average precision: the step-wise area under the precision-recall curve, ties grouped.
absl::StatusOr<double> AveragePrecision(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels);
// Mean negative log-likelihood; probabilities are clipped to [1e-15, 1 - 1e-15].
absl::StatusOr<double> LogLoss(absl::Span<const double> probabilities, absl::Span<const std::uint8_t> labels);
absl::StatusOr<double> BrierScore(absl::Span<const double> probabilities, absl::Span<const std::uint8_t> labels);

struct ReliabilityCurve {
  std::vector<double> mean_predicted;  // per non-empty bin
  std::vector<double> observed_rate;
  std::vector<std::int64_t> count;
  double expected_calibration_error = 0;  // count-weighted mean |observed - predicted|
};
// Equal-width bins over [0, 1].
absl::StatusOr<ReliabilityCurve> Reliability(absl::Span<const double> probabilities,
                                             absl::Span<const std::uint8_t> labels, std::int32_t bins = 10);

// Per decile of score (best first): the positive rate's lift over the base rate and the
// cumulative share of positives captured.
struct GainTable {
  std::vector<double> lift;
  std::vector<double> cumulative_gain;
};
absl::StatusOr<GainTable> LiftAndGain(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels,
                                      std::int32_t groups = 10);

}  // namespace comptoir::eval
