#include "comptoir/propensity/logistic.h"

#include <cmath>
#include <limits>

#include "comptoir/eval/binary.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::propensity {
namespace {

using ::comptoir::testing::StatusIs;

struct Data {
  RowMatrix X;
  std::vector<std::uint8_t> y;
};

Data Synthetic(Eigen::Index n, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  Data d{RowMatrix(n, 4), std::vector<std::uint8_t>(static_cast<std::size_t>(n))};
  const double truth[] = {1.5, -2.0, 0.0, 0.5};
  for (Eigen::Index i = 0; i < n; ++i) {
    double z = -0.3;
    for (int j = 0; j < 4; ++j) z += truth[j] * (d.X(i, j) = rng.Normal());
    d.y[static_cast<std::size_t>(i)] = rng.Uniform() < 1.0 / (1.0 + std::exp(-z));
  }
  return d;
}

// At the optimum the gradient of the objective vanishes (L2) or satisfies the L1 subgradient
// conditions: the KKT conditions, checked directly.
Eigen::VectorXd Gradient(const LogisticRegression& m, const Data& d, double* intercept_gradient) {
  const auto p = m.PredictProbability(d.X).value();
  Eigen::VectorXd g = Eigen::VectorXd::Zero(d.X.cols());
  *intercept_gradient = 0;
  for (Eigen::Index i = 0; i < d.X.rows(); ++i) {
    const double r = (p[i] - d.y[i]) / static_cast<double>(d.X.rows());
    g += r * d.X.row(i).transpose();
    *intercept_gradient += r;
  }
  return g;
}

TEST(LogisticRegression, L2OptimumSatisfiesKkt) {
  const Data d = Synthetic(5000, 1);
  LogisticRegressionConfig config;
  const double l2 = 1e-4;  // the penalty on the mean log loss: 1 / (C * rows)
  config.C = 1 / (l2 * 5000);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression m, LogisticRegression::Fit(d.X, d.y, {}, config, {}));
  double gb;
  const Eigen::VectorXd g = Gradient(m, d, &gb) + l2 * m.coefficients();
  EXPECT_LT(g.lpNorm<Eigen::Infinity>(), 1e-7);
  EXPECT_LT(std::abs(gb), 1e-7);
  EXPECT_NEAR(m.coefficients()[0], 1.5, 0.2);
  EXPECT_NEAR(m.coefficients()[1], -2.0, 0.2);
}

TEST(LogisticRegression, L1ZeroesTheUselessFeatureAndSatisfiesKkt) {
  const Data d = Synthetic(5000, 2);
  LogisticRegressionConfig config;
  const double l1 = 0.02;
  config.penalty = LogisticRegressionConfig::Penalty::kL1;
  config.C = 1 / (l1 * 5000);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression m, LogisticRegression::Fit(d.X, d.y, {}, config, {}));
  double gb;
  const Eigen::VectorXd g = Gradient(m, d, &gb);
  for (Eigen::Index j = 0; j < 4; ++j) {
    if (m.coefficients()[j] == 0) {
      EXPECT_LE(std::abs(g[j]), l1 + 1e-7);
    } else {
      EXPECT_NEAR(g[j], -l1 * (m.coefficients()[j] > 0 ? 1 : -1), 1e-7);
    }
  }
  EXPECT_EQ(m.coefficients()[2], 0.0);
}

TEST(LogisticRegression, BitIdenticalAcrossThreadsAndContributionsAddUp) {
  const Data d = Synthetic(20000, 3);
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression a, LogisticRegression::Fit(d.X, d.y, {}, {}, one));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression b, LogisticRegression::Fit(d.X, d.y, {}, {}, two));
  EXPECT_EQ(a.coefficients(), b.coefficients());
  EXPECT_EQ(a.intercept(), b.intercept());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix contributions, a.Contributions(d.X.topRows(50)));
  const auto logits = a.DecisionFunction(d.X.topRows(50)).value();
  for (Eigen::Index i = 0; i < 50; ++i) EXPECT_NEAR(contributions.row(i).sum(), logits[i], 1e-12);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, a.ToModelFile());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression loaded, LogisticRegression::FromModelFile(file));
  EXPECT_EQ(loaded.PredictProbability(d.X.topRows(10)).value(), a.PredictProbability(d.X.topRows(10)).value());
  EXPECT_THAT(LogisticRegression::FromModelFile(io::ModelFile("gradient_boosting")), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(LogisticRegression, BadInputIsNamed) {
  Data d = Synthetic(100, 4);
  d.X(7, 2) = std::nan("");
  EXPECT_THAT(LogisticRegression::Fit(d.X, d.y, {}, {}, {}), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("feature 2 of row 7")));
  d = Synthetic(100, 4);
  std::vector<std::uint8_t> ones(100, 1);
  EXPECT_THAT(LogisticRegression::Fit(d.X, ones, {}, {}, {}), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("single class")));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression m, LogisticRegression::Fit(d.X, d.y, {}, {}, {}));
  const RowMatrix narrow(3, 2);
  EXPECT_THAT(m.PredictProbability(narrow), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("2 features")));
  EXPECT_THAT(LogisticRegression::Fit(RowMatrix(0, 3), {}, {}, {}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Calibration, PlattAndIsotonicFixAMiscalibratedScore) {
  internal::CounterRng rng(5, 0);
  std::vector<double> raw;
  std::vector<std::uint8_t> y;
  for (int i = 0; i < 20000; ++i) {
    const double p = rng.Uniform(0.05, 0.95);
    y.push_back(rng.Uniform() < p);
    raw.push_back(std::pow(p, 3));  // overconfident toward 0
  }
  const double before = eval::Reliability(raw, y).value().expected_calibration_error;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const IsotonicCalibration iso, IsotonicCalibration::Fit(raw, y));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const PlattScaling platt, PlattScaling::Fit(raw, y));
  std::vector<double> isotonic, sigmoid;
  for (double s : raw) isotonic.push_back(iso.Calibrate(s)), sigmoid.push_back(platt.Calibrate(s));
  EXPECT_GT(before, 0.15);
  EXPECT_LT(eval::Reliability(isotonic, y).value().expected_calibration_error, 0.02);
  EXPECT_LT(eval::Reliability(sigmoid, y).value().expected_calibration_error, before / 2);
  // Monotone calibration keeps the ranking.
  EXPECT_NEAR(eval::RocAuc(isotonic, y).value(), eval::RocAuc(raw, y).value(), 0.01);
}

// A finite feature past 1.3e154 overflows its square: the fit must still find the model, which is
// the one for the unscaled feature with its coefficient divided by the scale.
TEST(LogisticRegression, HugeFiniteFeaturesFitTheSameModel) {
  const Data d = Synthetic(3000, 5);
  LogisticRegressionConfig config;
  config.C = 1e12;  // all but unpenalised, so that both problems have the same optimum
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression plain, LogisticRegression::Fit(d.X, d.y, {}, config, {}));
  for (const double scale : {0x1p600, 0x1p1000}) {
    Data huge = d;
    huge.X.col(1) *= scale;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression m, LogisticRegression::Fit(huge.X, huge.y, {}, config, {}));
    EXPECT_GT(m.iterations(), 0);
    EXPECT_NEAR(m.coefficients()[0], plain.coefficients()[0], 1e-6);
    EXPECT_NEAR(m.coefficients()[1] * scale, plain.coefficients()[1], 1e-6);
    EXPECT_NEAR(m.intercept(), plain.intercept(), 1e-6);
    const auto p_huge = m.PredictProbability(huge.X.topRows(20)).value();
    const auto p_plain = plain.PredictProbability(d.X.topRows(20)).value();
    for (std::size_t i = 0; i < 20; ++i) EXPECT_NEAR(p_huge[i], p_plain[i], 1e-9);
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix contributions, m.Contributions(huge.X.topRows(5)));
    EXPECT_TRUE(contributions.allFinite());
  }
}

// Found by fuzz_load_model: an iteration count past int's range was cast (undefined behaviour).
TEST(LogisticRegression, DamagedScalarsAreModelFormatErrors) {
  const Data d = Synthetic(200, 7);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression m, LogisticRegression::Fit(d.X, d.y, {}, {}, {}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(io::ModelFile file, m.ToModelFile());
  for (const std::vector<double>& scalars : std::vector<std::vector<double>>{
           {0.5, 0.1, 5.25e170}, {0.5, 0.1, -1}, {0.5, 0.1, std::nan("")}, {std::nan(""), 0.1, 3}}) {
    file.SetBlob("scalars", std::string(reinterpret_cast<const char*>(scalars.data()), scalars.size() * sizeof(double)));
    const auto loaded = LogisticRegression::FromModelFile(file);
    EXPECT_TRUE(IsModelFormatError(loaded.status())) << loaded.status();
  }
}

// Finite features whose score overflows a double saturate; only NaN or infinity is refused.
TEST(LogisticRegression, FiniteFeaturesNeverReadAsNaN) {
  const Data d = Synthetic(500, 6);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const LogisticRegression m, LogisticRegression::Fit(d.X, d.y, {}, {}, {}));
  ASSERT_GT(m.coefficients()[0], 0);
  ASSERT_LT(m.coefficients()[1], 0);
  RowMatrix X = RowMatrix::Zero(3, 4);
  X(0, 0) = 1e308;
  X(0, 3) = m.coefficients()[3] > 0 ? 1e308 : -1e308;  // both terms push the sum past the largest double
  X(1, 0) = 1.7e308;
  X(1, 1) = 1e308;  // opposite signs: a finite sum although each product may not be
  X(2, 1) = 1e308;
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> z, m.DecisionFunction(X));
  EXPECT_EQ(z[0], std::numeric_limits<double>::max());
  EXPECT_TRUE(std::isfinite(z[1]));
  EXPECT_EQ(z[2], -std::numeric_limits<double>::max());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> p, m.PredictProbability(X));
  EXPECT_EQ(p[0], 1.0);
  EXPECT_EQ(p[2], 0.0);
  X(1, 2) = std::numeric_limits<double>::infinity();
  EXPECT_THAT(m.PredictProbability(X), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("feature 2 of row 1")));
}

}  // namespace
}  // namespace comptoir::propensity
