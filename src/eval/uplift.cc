#include "comptoir/eval/uplift.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"
#include "internal/rng.h"

namespace comptoir::eval {
namespace {

absl::Status ValidateRows(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                          absl::Span<const double> outcome) {
  if (scores.size() != treatment.size() || scores.size() != outcome.size()) {
    return absl::InvalidArgumentError(absl::StrCat("scores, treatment and outcome have ", scores.size(), ", ",
                                                   treatment.size(), " and ", outcome.size(), " rows"));
  }
  bool treated = false, control = false;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (treatment[i] != 0 && treatment[i] != 1) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, " has treatment ", treatment[i], "; expected 0 (control) or 1"));
    }
    if (!std::isfinite(scores[i])) return absl::InvalidArgumentError(absl::StrCat("row ", i, " has a non-finite score"));
    if (!std::isfinite(outcome[i])) return absl::InvalidArgumentError(absl::StrCat("row ", i, " has a non-finite outcome"));
    (treatment[i] == 1 ? treated : control) = true;
  }
  if (!treated || !control) return absl::InvalidArgumentError("uplift evaluation needs both treated and control rows");
  return absl::OkStatus();
}

UpliftCurves Curves(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                    absl::Span<const double> outcome, std::vector<std::int64_t>& order) {
  order.resize(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });
  UpliftCurves curves;
  curves.targeted.push_back(0), curves.qini.push_back(0), curves.uplift.push_back(0);
  double n_t = 0, n_c = 0, y_t = 0, y_c = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::int64_t i = order[k];
    if (treatment[i] == 1) n_t += 1, y_t += outcome[i];
    else n_c += 1, y_c += outcome[i];
    // A point only where the score changes: tied rows are targeted together.
    if (k + 1 < order.size() && scores[order[k + 1]] == scores[i]) continue;
    curves.targeted.push_back(n_t + n_c);
    curves.qini.push_back(n_c > 0 ? y_t - y_c * n_t / n_c : y_t);
    const double mean_t = n_t > 0 ? y_t / n_t : 0.0, mean_c = n_c > 0 ? y_c / n_c : 0.0;
    curves.uplift.push_back((mean_t - mean_c) * (n_t + n_c));
  }
  return curves;
}

// Area between the curve and the straight line from the origin to its last point, x in [0, 1].
double AreaOverRandom(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = x.back();
  if (n <= 0) return 0.0;
  double area = 0;
  for (std::size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) / n * (y[i] + y[i - 1]) / 2;
  return area - y.back() / 2;
}

double AreaDividedByLast(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = x.back();
  if (n <= 0 || y.back() == 0) return 0.0;
  double area = 0;
  for (std::size_t i = 1; i < x.size(); ++i) area += (x[i] - x[i - 1]) / n * (y[i] + y[i - 1]) / 2;
  return area / std::abs(y.back());
}

// The ranking an oracle would use on these rows: treated outcomes high to low first, control
// outcomes low to high last.
std::vector<double> PerfectScores(absl::Span<const std::int32_t> treatment, absl::Span<const double> outcome) {
  std::vector<double> perfect(outcome.size());
  for (std::size_t i = 0; i < outcome.size(); ++i) perfect[i] = treatment[i] == 1 ? outcome[i] : -outcome[i];
  return perfect;
}

double MetricOf(UpliftMetric metric, absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                absl::Span<const double> outcome, std::vector<std::int64_t>& order) {
  const UpliftCurves curves = Curves(scores, treatment, outcome, order);
  const bool qini = metric == UpliftMetric::kQiniCoefficientVsPerfect || metric == UpliftMetric::kQiniAreaRaw;
  const double area = AreaOverRandom(curves.targeted, qini ? curves.qini : curves.uplift);
  if (metric == UpliftMetric::kQiniAreaRaw || metric == UpliftMetric::kAuucRaw) return area;
  const std::vector<double> perfect_scores = PerfectScores(treatment, outcome);
  const UpliftCurves perfect = Curves(perfect_scores, treatment, outcome, order);
  const double best = AreaOverRandom(perfect.targeted, qini ? perfect.qini : perfect.uplift);
  return best != 0 ? area / best : 0.0;
}

}  // namespace

absl::StatusOr<UpliftCurves> ComputeUpliftCurves(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                                 absl::Span<const double> outcome) {
  COMPTOIR_RETURN_IF_ERROR(ValidateRows(scores, treatment, outcome));
  std::vector<std::int64_t> order;
  return Curves(scores, treatment, outcome, order);
}

double QiniAreaRaw(const UpliftCurves& curves) { return AreaOverRandom(curves.targeted, curves.qini); }
double AuucRaw(const UpliftCurves& curves) { return AreaOverRandom(curves.targeted, curves.uplift); }
double QiniDivideByLast(const UpliftCurves& curves) { return AreaDividedByLast(curves.targeted, curves.qini); }
double AuucDivideByLast(const UpliftCurves& curves) { return AreaDividedByLast(curves.targeted, curves.uplift); }

absl::StatusOr<double> QiniCoefficientVsPerfect(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                                absl::Span<const double> outcome) {
  COMPTOIR_RETURN_IF_ERROR(ValidateRows(scores, treatment, outcome));
  std::vector<std::int64_t> order;
  return MetricOf(UpliftMetric::kQiniCoefficientVsPerfect, scores, treatment, outcome, order);
}

absl::StatusOr<double> AuucVsPerfect(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                     absl::Span<const double> outcome) {
  COMPTOIR_RETURN_IF_ERROR(ValidateRows(scores, treatment, outcome));
  std::vector<std::int64_t> order;
  return MetricOf(UpliftMetric::kAuucVsPerfect, scores, treatment, outcome, order);
}

absl::StatusOr<double> UpliftAtK(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                 absl::Span<const double> outcome, double fraction) {
  COMPTOIR_RETURN_IF_ERROR(ValidateRows(scores, treatment, outcome));
  if (!(fraction > 0 && fraction <= 1)) return absl::InvalidArgumentError("fraction must be in (0, 1]");
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });
  auto cut = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(order.size())));
  while (cut < order.size() && scores[order[cut]] == scores[order[cut - 1]]) ++cut;  // keep ties together
  double n_t = 0, n_c = 0, y_t = 0, y_c = 0;
  for (std::size_t k = 0; k < cut; ++k) {
    const std::int64_t i = order[k];
    if (treatment[i] == 1) n_t += 1, y_t += outcome[i];
    else n_c += 1, y_c += outcome[i];
  }
  if (n_t == 0 || n_c == 0) return absl::FailedPreconditionError("the top fraction holds only one group: widen it");
  return y_t / n_t - y_c / n_c;
}

absl::StatusOr<Interval> BootstrapUpliftMetric(UpliftMetric metric, absl::Span<const double> scores,
                                               absl::Span<const std::int32_t> treatment,
                                               absl::Span<const double> outcome, std::int32_t replicates,
                                               const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(ValidateRows(scores, treatment, outcome));
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (replicates < 10) return absl::InvalidArgumentError("use at least 10 bootstrap replicates");
  Interval interval;
  std::vector<std::int64_t> order;
  interval.estimate = MetricOf(metric, scores, treatment, outcome, order);
  const std::size_t n = scores.size();
  std::vector<double> values(static_cast<std::size_t>(replicates), 0.0);
  ProgressReporter progress(options.progress, replicates, "bootstrap");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, replicates, 1,
      [&](std::int64_t r, std::int64_t, std::int64_t) {
        internal::CounterRng rng(options.seed, static_cast<std::uint64_t>(r));
        std::vector<double> s(n), y(n);
        std::vector<std::int32_t> t(n);
        bool treated = false, control = false;
        for (std::size_t i = 0; i < n; ++i) {
          const auto j = static_cast<std::size_t>(rng.UniformInt(n));
          s[i] = scores[j], t[i] = treatment[j], y[i] = outcome[j];
          (t[i] == 1 ? treated : control) = true;
        }
        std::vector<std::int64_t> replicate_order;
        values[r] = treated && control ? MetricOf(metric, s, t, y, replicate_order) : interval.estimate;
      },
      &progress));
  std::sort(values.begin(), values.end());
  auto percentile = [&](double q) { return values[static_cast<std::size_t>(std::floor(q * (values.size() - 1)))]; };
  interval.lower = percentile(0.025);
  interval.upper = percentile(0.975);
  return interval;
}

absl::StatusOr<ProfitCurve> ComputeProfitCurve(absl::Span<const double> scores, absl::Span<const std::int32_t> treatment,
                                               absl::Span<const double> outcome, absl::Span<const double> value_per_outcome,
                                               absl::Span<const double> offer_cost) {
  COMPTOIR_RETURN_IF_ERROR(ValidateRows(scores, treatment, outcome));
  if (value_per_outcome.size() != scores.size() || offer_cost.size() != scores.size()) {
    return absl::InvalidArgumentError("value_per_outcome and offer_cost need one entry per row");
  }
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!(offer_cost[i] >= 0) || !std::isfinite(value_per_outcome[i])) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, " has a negative cost or a non-finite value"));
    }
  }
  std::vector<std::int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });
  ProfitCurve curve;
  curve.spend.push_back(0), curve.incremental_profit.push_back(0);
  double n_t = 0, n_c = 0, v_t = 0, v_c = 0, spend = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::int64_t i = order[k];
    const double value = outcome[i] * value_per_outcome[i];
    if (treatment[i] == 1) n_t += 1, v_t += value;
    else n_c += 1, v_c += value;
    spend += offer_cost[i];  // targeting a customer costs the offer whichever group they were in
    if (k + 1 < order.size() && scores[order[k + 1]] == scores[i]) continue;
    const double per_customer = (n_t > 0 ? v_t / n_t : 0.0) - (n_c > 0 ? v_c / n_c : 0.0);
    curve.spend.push_back(spend);
    curve.incremental_profit.push_back(per_customer * (n_t + n_c) - spend);
  }
  return curve;
}

}  // namespace comptoir::eval
