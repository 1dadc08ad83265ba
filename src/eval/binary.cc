#include "comptoir/eval/binary.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"

namespace comptoir::eval {
namespace {

absl::Status Validate(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels, bool probabilities,
                      bool need_both_classes) {
  if (scores.size() != labels.size()) {
    return absl::InvalidArgumentError(absl::StrCat(scores.size(), " scores for ", labels.size(), " labels"));
  }
  if (scores.empty()) return absl::InvalidArgumentError("no rows to evaluate");
  bool positive = false, negative = false;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) return absl::InvalidArgumentError(absl::StrCat("row ", i, " has a non-finite score"));
    if (probabilities && (scores[i] < 0 || scores[i] > 1)) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, " has probability ", scores[i], " outside [0, 1]"));
    }
    if (labels[i] > 1) return absl::InvalidArgumentError(absl::StrCat("row ", i, " has label ", static_cast<int>(labels[i]), "; expected 0 or 1"));
    (labels[i] ? positive : negative) = true;
  }
  if (need_both_classes && !(positive && negative)) return absl::InvalidArgumentError("labels hold a single class");
  return absl::OkStatus();
}

std::vector<std::size_t> ByScoreDescending(absl::Span<const double> scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  return order;
}

}  // namespace

absl::StatusOr<double> RocAuc(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels) {
  COMPTOIR_RETURN_IF_ERROR(Validate(scores, labels, false, true));
  const std::vector<std::size_t> order = ByScoreDescending(scores);
  double positives = 0, negatives = 0, area = 0;
  for (std::size_t k = 0; k < order.size();) {
    std::size_t j = k;
    double group_positive = 0, group_negative = 0;
    while (j < order.size() && scores[order[j]] == scores[order[k]]) (labels[order[j++]] ? group_positive : group_negative) += 1;
    // Negatives in this group rank below every positive seen before and tie with the group's.
    area += group_negative * (positives + group_positive / 2);
    positives += group_positive, negatives += group_negative;
    k = j;
  }
  return area / (positives * negatives);
}

absl::StatusOr<double> AveragePrecision(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels) {
  COMPTOIR_RETURN_IF_ERROR(Validate(scores, labels, false, true));
  const std::vector<std::size_t> order = ByScoreDescending(scores);
  const double total_positive = std::count(labels.begin(), labels.end(), 1);
  double true_positive = 0, seen = 0, previous_recall = 0, ap = 0;
  for (std::size_t k = 0; k < order.size();) {
    std::size_t j = k;
    while (j < order.size() && scores[order[j]] == scores[order[k]]) true_positive += labels[order[j++]], seen += 1;
    const double recall = true_positive / total_positive;
    ap += (recall - previous_recall) * (true_positive / seen);
    previous_recall = recall;
    k = j;
  }
  return ap;
}

absl::StatusOr<double> LogLoss(absl::Span<const double> probabilities, absl::Span<const std::uint8_t> labels) {
  COMPTOIR_RETURN_IF_ERROR(Validate(probabilities, labels, true, false));
  double loss = 0;
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double p = std::clamp(probabilities[i], 1e-15, 1 - 1e-15);
    loss -= labels[i] ? std::log(p) : std::log1p(-p);
  }
  return loss / static_cast<double>(probabilities.size());
}

absl::StatusOr<double> BrierScore(absl::Span<const double> probabilities, absl::Span<const std::uint8_t> labels) {
  COMPTOIR_RETURN_IF_ERROR(Validate(probabilities, labels, true, false));
  double sum = 0;
  for (std::size_t i = 0; i < probabilities.size(); ++i) sum += (probabilities[i] - labels[i]) * (probabilities[i] - labels[i]);
  return sum / static_cast<double>(probabilities.size());
}

absl::StatusOr<ReliabilityCurve> Reliability(absl::Span<const double> probabilities,
                                             absl::Span<const std::uint8_t> labels, std::int32_t bins) {
  COMPTOIR_RETURN_IF_ERROR(Validate(probabilities, labels, true, false));
  if (bins < 1) return absl::InvalidArgumentError("bins must be >= 1");
  std::vector<double> predicted(static_cast<std::size_t>(bins), 0), observed(static_cast<std::size_t>(bins), 0);
  std::vector<std::int64_t> count(static_cast<std::size_t>(bins), 0);
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const auto b = std::min<std::int32_t>(bins - 1, static_cast<std::int32_t>(probabilities[i] * bins));
    predicted[b] += probabilities[i], observed[b] += labels[i], ++count[b];
  }
  ReliabilityCurve curve;
  for (std::int32_t b = 0; b < bins; ++b) {
    if (count[b] == 0) continue;
    const double n = static_cast<double>(count[b]);
    curve.mean_predicted.push_back(predicted[b] / n);
    curve.observed_rate.push_back(observed[b] / n);
    curve.count.push_back(count[b]);
    curve.expected_calibration_error += n * std::abs(observed[b] / n - predicted[b] / n);
  }
  curve.expected_calibration_error /= static_cast<double>(probabilities.size());
  return curve;
}

absl::StatusOr<GainTable> LiftAndGain(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels,
                                      std::int32_t groups) {
  COMPTOIR_RETURN_IF_ERROR(Validate(scores, labels, false, true));
  if (groups < 1) return absl::InvalidArgumentError("groups must be >= 1");
  const std::vector<std::size_t> order = ByScoreDescending(scores);
  const double n = static_cast<double>(order.size());
  const double total_positive = std::count(labels.begin(), labels.end(), 1);
  GainTable table;
  double captured = 0;
  std::size_t start = 0;
  for (std::int32_t g = 0; g < groups; ++g) {
    const auto end = static_cast<std::size_t>(std::llround(n * (g + 1) / groups));
    double positive = 0;
    for (std::size_t k = start; k < end; ++k) positive += labels[order[k]];
    const double size = static_cast<double>(end - start);
    table.lift.push_back(size > 0 ? (positive / size) / (total_positive / n) : 0.0);
    captured += positive;
    table.cumulative_gain.push_back(captured / total_positive);
    start = end;
  }
  return table;
}

}  // namespace comptoir::eval
