#include "comptoir/propensity/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/propensity/logistic.h"
#include "comptoir/status.h"
#include "comptoir/v1/propensity.pb.h"
#include "internal/registry.h"
#include "internal/strings.h"

namespace comptoir::propensity {
namespace {

double Sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

absl::Status Corrupt(std::string_view what) {
  return MarkModelFormatError(absl::DataLossError(absl::StrCat("calibrated classifier: ", internal::Sv(what))));
}

}  // namespace

absl::StatusOr<PlattScaling> PlattScaling::Fit(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels) {
  if (scores.size() != labels.size() || scores.empty()) return absl::InvalidArgumentError("need one label per score");
  RowMatrix X(static_cast<Eigen::Index>(scores.size()), 1);
  for (std::size_t i = 0; i < scores.size(); ++i) X(static_cast<Eigen::Index>(i), 0) = scores[i];
  LogisticRegressionConfig config;
  config.C = 1e9 / static_cast<double>(scores.size());  // a penalty strength of 1e-9: next to none
  COMPTOIR_ASSIGN_OR_RETURN(const LogisticRegression fit, LogisticRegression::Fit(X, labels, {}, config, {}));
  PlattScaling platt;
  platt.a_ = fit.coefficients()[0];
  platt.b_ = fit.intercept();
  return platt;
}

double PlattScaling::Calibrate(double score) const { return Sigmoid(a_ * score + b_); }

absl::StatusOr<IsotonicCalibration> IsotonicCalibration::Fit(absl::Span<const double> scores, absl::Span<const std::uint8_t> labels) {
  if (scores.size() != labels.size() || scores.empty()) return absl::InvalidArgumentError("need one label per score");
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Blocks of (score sum, label sum, count), merged while they violate monotonicity.
  struct Block { double score, label, count; };
  std::vector<Block> blocks;
  for (std::size_t k = 0; k < order.size();) {
    Block block{0, 0, 0};
    const double s = scores[order[k]];
    while (k < order.size() && scores[order[k]] == s) block.score += s, block.label += labels[order[k]], block.count += 1, ++k;
    blocks.push_back(block);
    while (blocks.size() >= 2 && blocks[blocks.size() - 2].label / blocks[blocks.size() - 2].count >= blocks.back().label / blocks.back().count) {
      const Block last = blocks.back();
      blocks.pop_back();
      blocks.back().score += last.score, blocks.back().label += last.label, blocks.back().count += last.count;
    }
  }
  IsotonicCalibration iso;
  for (const Block& block : blocks) {
    iso.thresholds_.push_back(block.score / block.count);
    iso.values_.push_back(block.label / block.count);
  }
  return iso;
}

double IsotonicCalibration::Calibrate(double score) const {
  if (std::isnan(score)) return score;
  if (score <= thresholds_.front()) return values_.front();
  if (score >= thresholds_.back()) return values_.back();
  const auto it = std::upper_bound(thresholds_.begin(), thresholds_.end(), score);
  const std::size_t i = static_cast<std::size_t>(it - thresholds_.begin());
  const double t = (score - thresholds_[i - 1]) / (thresholds_[i] - thresholds_[i - 1]);
  return values_[i - 1] + t * (values_[i] - values_[i - 1]);
}

std::string PlattScaling::Serialize() const {
  v1::PlattScaling proto;
  proto.set_a(a_);
  proto.set_b(b_);
  return proto.SerializeAsString();
}

absl::StatusOr<PlattScaling> PlattScaling::Parse(std::string_view bytes) {
  v1::PlattScaling proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || !std::isfinite(proto.a()) || !std::isfinite(proto.b())) {
    return Corrupt("the Platt scaling is corrupted");
  }
  PlattScaling platt;
  platt.a_ = proto.a();
  platt.b_ = proto.b();
  return platt;
}

std::string IsotonicCalibration::Serialize() const {
  v1::IsotonicCalibration proto;
  proto.mutable_thresholds()->Add(thresholds_.begin(), thresholds_.end());
  proto.mutable_values()->Add(values_.begin(), values_.end());
  return proto.SerializeAsString();
}

absl::StatusOr<IsotonicCalibration> IsotonicCalibration::Parse(std::string_view bytes) {
  v1::IsotonicCalibration proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Corrupt("the isotonic map does not parse");
  const int n = proto.thresholds_size();
  if (n == 0 || proto.values_size() != n) return Corrupt("the isotonic map is empty or its arrays disagree");
  for (int i = 0; i < n; ++i) {
    const bool ok = std::isfinite(proto.thresholds(i)) && proto.values(i) >= 0 && proto.values(i) <= 1 &&
                    (i == 0 || (proto.thresholds(i) > proto.thresholds(i - 1) && proto.values(i) >= proto.values(i - 1)));
    if (!ok) return Corrupt("the isotonic map is not increasing");
  }
  IsotonicCalibration iso;
  iso.thresholds_.assign(proto.thresholds().begin(), proto.thresholds().end());
  iso.values_.assign(proto.values().begin(), proto.values().end());
  return iso;
}

absl::StatusOr<CalibratedClassifier> CalibratedClassifier::Create(std::shared_ptr<const Scorer> base, Calibrator calibrator) {
  if (base == nullptr) return absl::InvalidArgumentError("a calibrated classifier needs a base model");
  if (base->output() != Output::kProbability) {
    return absl::InvalidArgumentError("only a classifier's probabilities can be calibrated: the base model is a regressor");
  }
  return CalibratedClassifier(std::move(base), std::move(calibrator));
}

absl::StatusOr<CalibratedClassifier> CalibratedClassifier::Fit(std::shared_ptr<const Scorer> base,
                                                               const Eigen::Ref<const RowMatrix>& X,
                                                               absl::Span<const std::uint8_t> y, Method method,
                                                               const ExecutionOptions& options) {
  if (base == nullptr) return absl::InvalidArgumentError("a calibrated classifier needs a base model");
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> scores, base->Score(X, options));
  if (method == Method::kIsotonic) {
    COMPTOIR_ASSIGN_OR_RETURN(IsotonicCalibration iso, IsotonicCalibration::Fit(scores, y));
    return Create(std::move(base), std::move(iso));
  }
  COMPTOIR_ASSIGN_OR_RETURN(PlattScaling platt, PlattScaling::Fit(scores, y));
  return Create(std::move(base), platt);
}

double CalibratedClassifier::Calibrate(double probability) const {
  return std::visit([probability](const auto& map) { return map.Calibrate(probability); }, calibrator_);
}

absl::StatusOr<std::vector<double>> CalibratedClassifier::Score(const Eigen::Ref<const RowMatrix>& X,
                                                                const ExecutionOptions& options) const {
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<double> scores, base_->Score(X, options));
  for (double& p : scores) p = Calibrate(p);
  return scores;
}

absl::StatusOr<io::ModelFile> CalibratedClassifier::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::CalibratedClassifierConfig config;
  config.set_method(static_cast<v1::CalibratedClassifierConfig::Method>(method()));
  file.set_config(config.SerializeAsString());
  COMPTOIR_ASSIGN_OR_RETURN(std::string base_bytes, internal::SerializePart(base_->ToModelFile()));
  COMPTOIR_RETURN_IF_ERROR(file.AddBlob("base_model", std::move(base_bytes)));
  COMPTOIR_RETURN_IF_ERROR(
      file.AddBlob("calibrator", std::visit([](const auto& map) { return map.Serialize(); }, calibrator_)));
  COMPTOIR_RETURN_IF_ERROR(schema().AppendTo(file));
  return file;
}

absl::StatusOr<CalibratedClassifier> CalibratedClassifier::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  v1::CalibratedClassifierConfig config;
  if (!config.ParseFromString(file.config()) || !v1::CalibratedClassifierConfig::Method_IsValid(config.method())) {
    return Corrupt("the config does not parse");
  }
  COMPTOIR_ASSIGN_OR_RETURN(const std::string_view base_bytes, file.Blob("base_model"));
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<Scorer> base, internal::LoadNestedScorer(base_bytes, "calibrated base model"));
  if (base->output() != Output::kProbability) return Corrupt("the base model is a regressor, not a classifier");
  COMPTOIR_ASSIGN_OR_RETURN(const std::string_view calibrator_bytes, file.Blob("calibrator"));
  if (config.method() == v1::CalibratedClassifierConfig::METHOD_ISOTONIC) {
    COMPTOIR_ASSIGN_OR_RETURN(IsotonicCalibration iso, IsotonicCalibration::Parse(calibrator_bytes));
    return CalibratedClassifier(std::move(base), std::move(iso));
  }
  COMPTOIR_ASSIGN_OR_RETURN(PlattScaling platt, PlattScaling::Parse(calibrator_bytes));
  return CalibratedClassifier(std::move(base), platt);
}

}  // namespace comptoir::propensity
