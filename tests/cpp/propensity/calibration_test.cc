// Logistic regression and calibrated classifier model files through the registry.
#include "comptoir/propensity/calibration.h"

#include <cmath>
#include <memory>
#include <string>

#include "comptoir/model.h"
#include "comptoir/propensity/logistic.h"
#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "comptoir/v1/propensity.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::propensity {
namespace {

using ::testing::HasSubstr;

struct Data {
  RowMatrix X;
  std::vector<std::uint8_t> y;
};

Data Synthetic(Eigen::Index n, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  Data d{RowMatrix(n, 3), std::vector<std::uint8_t>(static_cast<std::size_t>(n))};
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) d.X(i, j) = rng.Normal();
    const double z = 2 * d.X(i, 0) - d.X(i, 1) + 0.5 * d.X(i, 2) * d.X(i, 2);
    d.y[static_cast<std::size_t>(i)] = rng.Uniform() < 1 / (1 + std::exp(-z));
  }
  return d;
}

std::unique_ptr<Model> RoundTrip(const Scorer& scorer) {
  const std::string bytes = io::SerializeModelFile(scorer.ToModelFile().value()).value();
  absl::StatusOr<std::unique_ptr<Model>> model = LoadModelFromBytes(bytes);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

void ExpectSameScorer(const Scorer& loaded, const Scorer& fitted, const RowMatrix& X) {
  EXPECT_EQ(loaded.Score(X).value(), fitted.Score(X).value());
  EXPECT_EQ(loaded.Contributions(X).value(), fitted.Contributions(X).value());
  EXPECT_EQ(loaded.schema().Serialize(), fitted.schema().Serialize());
}

FeatureSchema Schema() {
  FeatureSchema schema;
  schema.feature_names = {"recency", "frequency", "basket"};
  schema.class_labels = {TypedValues::Type::kBool, {"false", "true"}};
  return schema;
}

TEST(LogisticRegressionModelFile, ComesBackBitIdenticalWithItsConfig) {
  const Data d = Synthetic(2000, 1);
  LogisticRegressionConfig config;
  config.C = 0.3;
  config.penalty = LogisticRegressionConfig::Penalty::kL1;
  config.max_iter = 50;
  config.tol = 1e-8;
  LogisticRegression model = LogisticRegression::Fit(d.X, d.y, {}, config, {}).value();
  ASSERT_TRUE(model.set_schema(Schema()).ok());
  const std::unique_ptr<Model> loaded = RoundTrip(model);
  ASSERT_NE(loaded->AsScorer(), nullptr);
  ExpectSameScorer(*loaded->AsScorer(), model, d.X);
  const auto& c = dynamic_cast<const LogisticRegression&>(*loaded->AsScorer()).config();
  EXPECT_EQ(c.C, 0.3);
  EXPECT_EQ(c.penalty, LogisticRegressionConfig::Penalty::kL1);
  EXPECT_EQ(c.max_iter, 50);
  EXPECT_EQ(c.tol, 1e-8);
}

TEST(LogisticRegressionModelFile, OldConfigsWithPenaltyStrengthsStillLoad) {
  const Data d = Synthetic(500, 2);
  const LogisticRegression model = LogisticRegression::Fit(d.X, d.y, {}, {}, {}).value();
  io::ModelFile file = model.ToModelFile().value();
  v1::LogisticRegressionConfig old;
  old.set_legacy_l1(0.01);
  old.set_fit_intercept(true);
  old.set_max_iter(100);
  old.set_tol(1e-10);
  file.set_config(old.SerializeAsString());
  const LogisticRegression loaded = LogisticRegression::FromModelFile(file).value();
  EXPECT_EQ(loaded.config().penalty, LogisticRegressionConfig::Penalty::kL1);
  EXPECT_EQ(loaded.config().C, 100.0);
  EXPECT_EQ(loaded.Score(d.X).value(), model.Score(d.X).value());
}

TEST(CalibratedClassifier, GradientBoostingAndLogisticBasesComeBackBitIdentical) {
  const Data train = Synthetic(3000, 3), held = Synthetic(2000, 4);
  trees::GradientBoostingConfig gb_config;
  gb_config.n_estimators = 20;
  const std::vector<double> y(train.y.begin(), train.y.end());
  trees::GradientBoosting gb = trees::GradientBoosting::Fit(train.X, y, {}, RowMatrix(0, 3), {}, gb_config, {}).value();
  ASSERT_TRUE(gb.set_schema(Schema()).ok());
  LogisticRegression lr = LogisticRegression::Fit(train.X, train.y, {}, {}, {}).value();
  ASSERT_TRUE(lr.set_schema(Schema()).ok());
  const std::vector<std::shared_ptr<const Scorer>> bases = {std::make_shared<trees::GradientBoosting>(gb),
                                                            std::make_shared<LogisticRegression>(lr)};
  for (const auto& base : bases) {
    for (const auto method : {CalibratedClassifier::Method::kIsotonic, CalibratedClassifier::Method::kSigmoid}) {
      const CalibratedClassifier calibrated = CalibratedClassifier::Fit(base, held.X, held.y, method).value();
      EXPECT_EQ(calibrated.method(), method);
      const std::vector<double> raw = base->Score(held.X).value(), p = calibrated.Score(held.X).value();
      for (std::size_t i = 0; i < p.size(); ++i) {
        ASSERT_GE(p[i], 0.0);
        ASSERT_LE(p[i], 1.0);
        ASSERT_EQ(p[i], calibrated.Calibrate(raw[i]));
      }
      // Explanations are the base model's: the same reasons, in raw-score units.
      EXPECT_EQ(calibrated.Contributions(held.X).value(), base->Contributions(held.X).value());

      const std::unique_ptr<Model> loaded = RoundTrip(calibrated);
      ASSERT_NE(loaded->AsScorer(), nullptr);
      EXPECT_EQ(loaded->kind(), CalibratedClassifier::kModelKind);
      ExpectSameScorer(*loaded->AsScorer(), calibrated, held.X);
      EXPECT_EQ(loaded->AsScorer()->schema().Serialize(), Schema().Serialize());
    }
  }
}

TEST(CalibratedClassifier, RefusesRegressorsAndDamagedCalibrators) {
  const Data d = Synthetic(1000, 5);
  trees::GradientBoostingConfig config;
  config.objective = trees::Objective::kSquaredError;
  config.n_estimators = 3;
  const std::vector<double> y(d.y.begin(), d.y.end());
  auto regressor = std::make_shared<trees::GradientBoosting>(
      trees::GradientBoosting::Fit(d.X, y, {}, RowMatrix(0, 3), {}, config, {}).value());
  EXPECT_THAT(CalibratedClassifier::Fit(regressor, d.X, d.y, CalibratedClassifier::Method::kIsotonic).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("regressor")));

  auto lr = std::make_shared<LogisticRegression>(LogisticRegression::Fit(d.X, d.y, {}, {}, {}).value());
  const CalibratedClassifier calibrated = CalibratedClassifier::Fit(lr, d.X, d.y, CalibratedClassifier::Method::kIsotonic).value();
  io::ModelFile file = calibrated.ToModelFile().value();
  v1::IsotonicCalibration decreasing;
  decreasing.add_thresholds(0.2), decreasing.add_thresholds(0.8);
  decreasing.add_values(0.9), decreasing.add_values(0.1);
  file.SetBlob("calibrator", decreasing.SerializeAsString());
  EXPECT_TRUE(IsModelFormatError(LoadModelFromBytes(io::SerializeModelFile(file).value()).status()));

  // A regressor nested where the classifier belongs.
  io::ModelFile wrong = calibrated.ToModelFile().value();
  wrong.SetBlob("base_model", io::SerializeModelFile(regressor->ToModelFile().value()).value());
  const absl::Status status = LoadModelFromBytes(io::SerializeModelFile(wrong).value()).status();
  EXPECT_TRUE(IsModelFormatError(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("regressor"));

  // NaN scores stay NaN rather than indexing past the map.
  EXPECT_TRUE(std::isnan(std::get<IsotonicCalibration>(calibrated.calibrator()).Calibrate(std::nan(""))));
}

}  // namespace
}  // namespace comptoir::propensity
