#include "comptoir/trees/gradient_boosting.h"

#include <cmath>
#include <limits>

#include "comptoir/eval/binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::trees {
namespace {

using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Data {
  RowMatrix X;
  std::vector<double> y;
};

// Interactions and a threshold effect that a linear model cannot express; 10% of x2 missing, and
// missing x2 raises the odds.
Data Binary(Eigen::Index n, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  Data d{RowMatrix(n, 4), std::vector<double>(static_cast<std::size_t>(n))};
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int j = 0; j < 4; ++j) d.X(i, j) = rng.Normal();
    const bool missing = rng.Uniform() < 0.1;
    const double z = 1.5 * std::sin(2 * d.X(i, 0)) + 2.0 * (d.X(i, 1) > 0.5) * d.X(i, 3) + (missing ? 1.5 : 0.5 * d.X(i, 2)) - 0.5;
    if (missing) d.X(i, 2) = kNaN;
    d.y[static_cast<std::size_t>(i)] = rng.Uniform() < 1.0 / (1.0 + std::exp(-z));
  }
  return d;
}

std::vector<std::uint8_t> Labels(const std::vector<double>& y) { return {y.begin(), y.end()}; }

GradientBoosting FitDefault(const Data& d, GradientBoostingConfig config = {}, ExecutionOptions options = {}) {
  return GradientBoosting::Fit(d.X, d.y, {}, RowMatrix(0, d.X.cols()), {}, config, options).value();
}

TEST(GradientBoostingTest, LearnsNonLinearBinaryOddsAndMissingness) {
  const Data train = Binary(20000, 1), test = Binary(10000, 2);
  GradientBoostingConfig config;
  config.n_estimators = 150;
  const GradientBoosting model = GradientBoosting::Fit(train.X, train.y, {}, test.X, test.y, config, {}).value();
  const std::vector<double> p = model.Predict(test.X).value();
  EXPECT_GT(eval::RocAuc(p, Labels(test.y)).value(), 0.80);
  // The held-out loss falls well below the first tree's.
  ASSERT_EQ(model.validation_loss().size(), 150u);
  EXPECT_LT(model.validation_loss().back(), model.validation_loss().front() - 0.05);
  // Missing x2 raises the odds: the contribution of feature 2 is positive on missing rows on average.
  const RowMatrix phi = model.Contributions(test.X).value();
  double missing = 0, count = 0;
  for (Eigen::Index i = 0; i < test.X.rows(); ++i) {
    if (std::isnan(test.X(i, 2))) missing += phi(i, 2), ++count;
  }
  EXPECT_GT(missing / count, 0.3);
}

TEST(GradientBoostingTest, RegressionObjectivesFitTheirTargets) {
  internal::CounterRng rng(3, 0);
  const Eigen::Index n = 8000;
  Data d{RowMatrix(n, 2), std::vector<double>(static_cast<std::size_t>(n))};
  Data counts = d;
  for (Eigen::Index i = 0; i < n; ++i) {
    d.X(i, 0) = counts.X(i, 0) = rng.Uniform(-2, 2);
    d.X(i, 1) = counts.X(i, 1) = rng.Uniform(-2, 2);
    d.y[static_cast<std::size_t>(i)] = d.X(i, 0) * d.X(i, 0) + 0.1 * rng.Normal();
    // Spend-like: zero for most, a lognormal amount whose mean grows with x0.
    counts.y[static_cast<std::size_t>(i)] = rng.Uniform() < 0.3 ? std::exp(1 + d.X(i, 0) + 0.3 * rng.Normal()) : 0.0;
  }
  GradientBoostingConfig config;
  config.objective = Objective::kSquaredError;
  const std::vector<double> fit = FitDefault(d, config).Predict(d.X).value();
  double sse = 0, sst = 0, mean = 0;
  for (double v : d.y) mean += v / static_cast<double>(n);
  for (std::size_t i = 0; i < d.y.size(); ++i) sse += (fit[i] - d.y[i]) * (fit[i] - d.y[i]), sst += (d.y[i] - mean) * (d.y[i] - mean);
  EXPECT_GT(1 - sse / sst, 0.95);

  for (Objective objective : {Objective::kPoisson, Objective::kTweedie}) {
    config.objective = objective;
    const GradientBoosting model = FitDefault(counts, config);
    const std::vector<double> mu = model.Predict(counts.X).value();
    // Near the optimum the gradient sums vanish: sum y mu^(1-rho) = sum mu^(2-rho), which for
    // Poisson (rho = 1) says predicted and observed totals agree.
    const double rho = objective == Objective::kPoisson ? 1.0 : config.power;
    double predicted = 0, observed = 0;
    for (std::size_t i = 0; i < mu.size(); ++i) {
      predicted += std::pow(mu[i], 2 - rho);
      observed += counts.y[i] * std::pow(mu[i], 1 - rho);
    }
    EXPECT_NEAR(predicted / observed, 1.0, 0.05) << static_cast<int>(objective);
    // The mean grows with x0: a monotone relation the log-link model must find.
    RowMatrix probe(2, 2);
    probe << -1.5, 0, 1.5, 0;
    const std::vector<double> ends = model.Predict(probe).value();
    EXPECT_GT(ends[1], 5 * ends[0]);
  }
}

TEST(GradientBoostingTest, CategoricalSplitsFindASetOfCategories) {
  internal::CounterRng rng(4, 0);
  const Eigen::Index n = 5000;
  Data d{RowMatrix(n, 2), std::vector<double>(static_cast<std::size_t>(n))};
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto category = static_cast<int>(rng.UniformInt(12));
    d.X(i, 0) = category;
    d.X(i, 1) = rng.Normal();
    const bool good = category == 1 || category == 4 || category == 7 || category == 10;
    d.y[static_cast<std::size_t>(i)] = rng.Uniform() < (good ? 0.8 : 0.2);
  }
  GradientBoostingConfig config;
  config.binning.categorical_features = {0};
  config.n_estimators = 1;
  config.num_leaves = 2;
  config.learning_rate = 1;
  const GradientBoosting model = FitDefault(d, config);
  ASSERT_EQ(model.trees().size(), 1u);
  EXPECT_EQ(model.trees()[0].feature[0], 0);
  RowMatrix probe(13, 2);
  for (int c = 0; c < 13; ++c) probe.row(c) << c, 0;  // 12 was never seen: "other"
  const std::vector<double> p = model.Predict(probe).value();
  for (int c = 0; c < 12; ++c) {
    const bool good = c == 1 || c == 4 || c == 7 || c == 10;
    EXPECT_EQ(p[static_cast<std::size_t>(c)] > 0.5, good) << c;
  }
  EXPECT_THAT(GradientBoosting::Fit(RowMatrix::Constant(3, 2, -1.0), {0, 1, 0}, {}, RowMatrix(0, 2), {}, config, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("categorical feature 0")));
}

TEST(GradientBoostingTest, BitIdenticalForAnyThreadCount) {
  const Data d = Binary(40000, 5);  // big enough for several histogram chunks per node
  GradientBoostingConfig config;
  config.n_estimators = 20;
  config.subsample = 0.7;
  config.colsample = 0.75;
  ExecutionOptions one, two;
  one.num_threads = 1;
  two.num_threads = 2;
  for (const auto layout : {GradientBoostingConfig::HistogramLayout::kDense, GradientBoostingConfig::HistogramLayout::kSparse}) {
    config.histogram_layout = layout;
    const GradientBoosting a = FitDefault(d, config, one), b = FitDefault(d, config, two);
    EXPECT_EQ(a.PredictRaw(d.X, one).value(), b.PredictRaw(d.X, two).value());
  }
  config.histogram_layout = GradientBoostingConfig::HistogramLayout::kAuto;
  const GradientBoosting a = FitDefault(d, config, one);
  two.seed = 7;
  EXPECT_NE(a.PredictRaw(d.X).value(), FitDefault(d, config, two).PredictRaw(d.X).value());
}

// Behaviour-like columns: mostly zero counts, a flag, a column that is mostly missing, a constant
// and a categorical one; the sparse layout fills each feature's most frequent bin from node totals.
TEST(GradientBoostingTest, SparseAndDenseHistogramsGrowTheSameTrees) {
  internal::CounterRng rng(9, 0);
  const Eigen::Index n = 30000;
  Data d{RowMatrix(n, 6), std::vector<double>(static_cast<std::size_t>(n))};
  for (Eigen::Index i = 0; i < n; ++i) {
    const double visits = rng.Uniform() < 0.7 ? 0 : std::floor(-3 * std::log(rng.Uniform()));
    const double flag = rng.Uniform() < 0.1;
    const double recency = rng.Uniform() < 0.8 ? kNaN : 30 * rng.Uniform();
    const auto category = static_cast<int>(rng.UniformInt(5));
    d.X.row(i) << visits, flag, recency, 1.0, category, (rng.Uniform() < 0.9 ? 0 : rng.Normal());
    const double z = 0.4 * visits - 1.5 * flag + (std::isnan(recency) ? -0.5 : 0.05 * recency) + (category == 2) - 1;
    d.y[static_cast<std::size_t>(i)] = rng.Uniform() < 1.0 / (1.0 + std::exp(-z));
  }
  GradientBoostingConfig config;
  config.n_estimators = 30;
  config.binning.categorical_features = {4};
  for (const double row_subsample : {1.0, 0.6}) {
    config.subsample = row_subsample;
    config.colsample = row_subsample;
    config.histogram_layout = GradientBoostingConfig::HistogramLayout::kDense;
    const GradientBoosting dense = FitDefault(d, config);
    config.histogram_layout = GradientBoostingConfig::HistogramLayout::kSparse;
    const GradientBoosting sparse = FitDefault(d, config);
    // Thresholds may differ inside gaps where a node has no rows (ties broken by rounding), so the
    // trees are compared by what they do to the training rows.
    ASSERT_EQ(dense.trees().size(), sparse.trees().size());
    EXPECT_EQ(dense.trees()[0].num_nodes(), sparse.trees()[0].num_nodes());
    const std::vector<double> a = dense.PredictRaw(d.X).value(), b = sparse.PredictRaw(d.X).value();
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-9) << "row " << i << ", row_subsample " << row_subsample;
  }
}

TEST(GradientBoostingTest, EarlyStoppingKeepsTheBestIteration) {
  const Data train = Binary(3000, 6), valid = Binary(3000, 7);
  GradientBoostingConfig config;
  config.n_estimators = 500;
  config.learning_rate = 0.5;
  config.early_stopping = true;
  config.n_iter_no_change = 10;
  const GradientBoosting model = GradientBoosting::Fit(train.X, train.y, {}, valid.X, valid.y, config, {}).value();
  ASSERT_LT(model.num_trees(), 500);
  const auto& losses = model.validation_loss();
  EXPECT_EQ(losses.size(), static_cast<std::size_t>(model.num_trees()) + 10);
  EXPECT_EQ(*std::min_element(losses.begin(), losses.end()), losses[static_cast<std::size_t>(model.num_trees()) - 1]);
  config.n_estimators = model.num_trees();
  // Early stopping without a validation set is an error, not a silent full run.
  config.n_iter_no_change = 5;
  EXPECT_THAT(GradientBoosting::Fit(train.X, train.y, {}, RowMatrix(0, 4), {}, config, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("validation set")));
}

// E[f(x) | x_S] of one tree under the path-dependent (cover-weighted) rule TreeSHAP explains.
double ConditionalExpectation(const Tree& t, std::size_t node, const double* x, unsigned known) {
  if (t.left[node] < 0) return t.value[node];
  const auto l = static_cast<std::size_t>(t.left[node]), r = static_cast<std::size_t>(t.right[node]);
  const std::int32_t f = t.feature[node];
  if (known >> f & 1) {
    const bool left = std::isnan(x[f]) ? t.default_left[node] != 0 : x[f] <= t.threshold[node];
    return ConditionalExpectation(t, left ? l : r, x, known);
  }
  return (t.cover[l] * ConditionalExpectation(t, l, x, known) + t.cover[r] * ConditionalExpectation(t, r, x, known)) / t.cover[node];
}

TEST(GradientBoostingTest, TreeShapEqualsBruteForceShapleyValuesAndAddsUpToTheLogOdds) {
  const Data d = Binary(3000, 8);
  GradientBoostingConfig config;
  config.n_estimators = 5;
  config.num_leaves = 12;
  const GradientBoosting model = FitDefault(d, config);
  const int p = 4;
  const RowMatrix phi = model.Contributions(d.X.topRows(50)).value();
  const std::vector<double> raw = model.PredictRaw(d.X.topRows(50)).value();
  const auto value = [&](const double* x, unsigned known) {
    double v = model.base_score();
    for (const Tree& t : model.trees()) v += ConditionalExpectation(t, 0, x, known);
    return v;
  };
  std::vector<double> factorial = {1, 1, 2, 6, 24};
  for (Eigen::Index i = 0; i < 50; ++i) {
    const double* x = d.X.row(i).data();
    EXPECT_NEAR(phi.row(i).sum(), raw[static_cast<std::size_t>(i)], 1e-9);
    EXPECT_NEAR(phi(i, p), value(x, 0), 1e-9);
    for (int j = 0; j < p; ++j) {
      double shapley = 0;
      for (unsigned s = 0; s < (1u << p); ++s) {
        if (s >> j & 1) continue;
        const int size = __builtin_popcount(s);
        shapley += factorial[static_cast<std::size_t>(size)] * factorial[static_cast<std::size_t>(p - size - 1)] / factorial[p] *
                   (value(x, s | 1u << j) - value(x, s));
      }
      EXPECT_NEAR(phi(i, j), shapley, 1e-9) << "row " << i << " feature " << j;
    }
  }
}

TEST(GradientBoostingTest, SavesAndLoadsExactly) {
  Data d = Binary(2000, 9);
  for (Eigen::Index i = 0; i < d.X.rows(); ++i) d.X(i, 1) = static_cast<double>(i % 5);
  GradientBoostingConfig config;
  config.binning.categorical_features = {1};
  config.n_estimators = 10;
  GradientBoosting model = FitDefault(d, config);
  ASSERT_TRUE(model.set_feature_names({"a", "b", "c", "d"}).ok());
  const GradientBoosting loaded = GradientBoosting::FromModelFile(model.ToModelFile().value()).value();
  EXPECT_EQ(loaded.PredictRaw(d.X).value(), model.PredictRaw(d.X).value());
  EXPECT_EQ(loaded.feature_names(), model.feature_names());
  EXPECT_EQ(loaded.Contributions(d.X.topRows(5)).value(), model.Contributions(d.X.topRows(5)).value());

  io::ModelFile broken = model.ToModelFile().value();
  io::ModelFile garbage(GradientBoosting::kModelKind);
  garbage.set_config(broken.config());
  ASSERT_TRUE(garbage.AddBlob("model", "\x0a\x05junk!").ok());
  EXPECT_THAT(GradientBoosting::FromModelFile(garbage).status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(GradientBoosting::FromModelFile(io::ModelFile("logistic_regression")).ok());
}

TEST(GradientBoostingTest, BadInputIsNamed) {
  const Data d = Binary(100, 10);
  const RowMatrix none(0, 4);
  GradientBoostingConfig config;
  const auto fit = [&](const RowMatrix& X, const std::vector<double>& y, const std::vector<double>& w = {}) {
    return GradientBoosting::Fit(X, y, w, RowMatrix(0, X.cols()), {}, config, {}).status();
  };
  EXPECT_THAT(fit(d.X, std::vector<double>(100, 1.0)), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("single class")));
  std::vector<double> y = d.y;
  y[3] = 2;
  EXPECT_THAT(fit(d.X, y), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target 3 is 2")));
  y[3] = kNaN;
  config.objective = Objective::kSquaredError;
  EXPECT_THAT(fit(d.X, y), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target 3 is nan")));
  config.objective = Objective::kTweedie;
  y[3] = -1;
  EXPECT_THAT(fit(d.X, y), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target 3 is -1")));
  config = {};
  EXPECT_THAT(fit(d.X, d.y, std::vector<double>(100, -1.0)), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sample weight 0")));
  EXPECT_THAT(fit(none, {}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  config.num_leaves = 1;
  EXPECT_THAT(fit(d.X, d.y), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_leaves")));
  config = {};
  // A constant and an all-missing column are legal: they are never split on.
  RowMatrix X = d.X;
  X.col(0).setConstant(3);
  X.col(2).setConstant(kNaN);
  const GradientBoosting model = GradientBoosting::Fit(X, d.y, {}, none, {}, config, {}).value();
  EXPECT_EQ(model.feature_importance()[0], 0);
  EXPECT_EQ(model.feature_importance()[2], 0);
  EXPECT_THAT(model.PredictRaw(RowMatrix(2, 3)).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 features")));
}

}  // namespace
}  // namespace comptoir::trees
