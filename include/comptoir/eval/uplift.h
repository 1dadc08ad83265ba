// Uplift evaluation on randomised data: uplift (gain) and Qini curves, their areas under each
// normalisation other libraries use (named in the function, so numbers can be compared with
// theirs), uplift at k, bootstrap intervals and a cost-aware Qini (incremental profit vs spend).
// Rows are ranked by predicted uplift, best first; tied scores form one group, so a model gains
// nothing from the order of its ties.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/options.h"

namespace comptoir::eval {

// One point per group of tied scores, plus the origin.
struct UpliftCurves {
  std::vector<double> targeted;     // customers targeted so far (x), 0 .. n
  std::vector<double> qini;         // Y_t - Y_c * N_t / N_c: incremental responses among the targeted treated
  std::vector<double> uplift;       // (Y_t / N_t - Y_c / N_c) * (N_t + N_c): causalml's cumulative gain
};

// treatment: 1 treated, 0 control (other values are InvalidArgument); outcome: any finite number
// (conversion 0/1 or spend). Both groups must be present.
absl::StatusOr<UpliftCurves> ComputeUpliftCurves(absl::Span<const double> scores,
                                                 absl::Span<const std::int32_t> treatment,
                                                 absl::Span<const double> outcome);

// Areas with x scaled to [0, 1] (trapezoids), between the curve and the random-targeting line.
double QiniAreaRaw(const UpliftCurves& curves);
double AuucRaw(const UpliftCurves& curves);
// The raw area divided by the same area for a perfect ranking of the same rows (Radcliffe's Qini
// coefficient): 1 is perfect, 0 is random.
absl::StatusOr<double> QiniCoefficientVsPerfect(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                                absl::Span<const double> outcome);
absl::StatusOr<double> AuucVsPerfect(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                     absl::Span<const double> outcome);
// The area under the curve itself (not net of random) divided by the curve's last point, as
// causalml's auuc_score / qini_score with normalize=True compute it.
double QiniDivideByLast(const UpliftCurves& curves);
double AuucDivideByLast(const UpliftCurves& curves);

// Treated mean minus control mean among the top `fraction` by score (ties kept together).
absl::StatusOr<double> UpliftAtK(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                 absl::Span<const double> outcome, double fraction);

struct Interval {
  double estimate = 0;
  double lower = 0;  // 2.5th percentile of the bootstrap replicates
  double upper = 0;  // 97.5th
};

enum class UpliftMetric { kQiniCoefficientVsPerfect, kAuucVsPerfect, kQiniAreaRaw, kAuucRaw };

// Percentile bootstrap over rows (replicates keyed by options.seed, run in parallel).
absl::StatusOr<Interval> BootstrapUpliftMetric(UpliftMetric metric, absl::Span<const double> scores,
                                               absl::Span<const std::int32_t> treatment,
                                               absl::Span<const double> outcome, std::int32_t replicates,
                                               const ExecutionOptions& options);

// Cost-aware Qini: targeting customers in score order, the incremental value (value_if_converted
// x outcome, treated vs control) minus what the offers cost, against the cumulative spend.
struct ProfitCurve {
  std::vector<double> spend;
  std::vector<double> incremental_profit;
};
absl::StatusOr<ProfitCurve> ComputeProfitCurve(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                               absl::Span<const double> outcome, absl::Span<const double> value_per_outcome,
                                               absl::Span<const double> offer_cost);

}  // namespace comptoir::eval
