#include "comptoir/propensity/logistic.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/propensity.pb.h"
#include "internal/parallel.h"

namespace comptoir::propensity {
namespace {

constexpr std::int64_t kRowChunk = 4096;

double Sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }
// log(1 + exp(z)) without overflow.
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

// Everything one Newton step needs from the data, summed over rows in fixed chunks.
struct Pass {
  Eigen::VectorXd gradient;   // X' g
  Eigen::MatrixXd hessian;    // X' diag(h) X
  Eigen::VectorXd cross;      // X' h
  double gradient_intercept = 0, hessian_intercept = 0, loss = 0;

  explicit Pass(Eigen::Index p) : gradient(Eigen::VectorXd::Zero(p)), hessian(Eigen::MatrixXd::Zero(p, p)), cross(Eigen::VectorXd::Zero(p)) {}
  void Add(const Pass& o) {
    gradient += o.gradient, hessian += o.hessian, cross += o.cross;
    gradient_intercept += o.gradient_intercept, hessian_intercept += o.hessian_intercept, loss += o.loss;
  }
};

double SoftThreshold(double x, double t) { return x > t ? x - t : x < -t ? x + t : 0.0; }

// Columns larger than this are fitted in units of a power of two (exact: only exponents change),
// since the Newton step squares features and a square past about 1.3e154 overflows.
constexpr double kScaleAbove = 0x1p64;

// Per column, the power of two it is divided by (0 = left as it is).
std::vector<int> ColumnExponents(const Eigen::Ref<const RowMatrix>& X) {
  std::vector<int> exponents(static_cast<std::size_t>(X.cols()), 0);
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const double largest = X.col(j).cwiseAbs().maxCoeff();
    if (largest > kScaleAbove) std::frexp(largest, &exponents[static_cast<std::size_t>(j)]);
  }
  return exponents;
}

}  // namespace

absl::Status LogisticRegressionConfig::Validate() const {
  if (!(C > 0)) return absl::InvalidArgumentError("C must be positive");
  if (penalty != Penalty::kL2 && penalty != Penalty::kL1) return absl::InvalidArgumentError("penalty must be L1 or L2");
  if (max_iter < 1) return absl::InvalidArgumentError("max_iter must be >= 1");
  if (!(tol > 0)) return absl::InvalidArgumentError("tol must be positive");
  return absl::OkStatus();
}

absl::StatusOr<LogisticRegression> LogisticRegression::Fit(const Eigen::Ref<const RowMatrix>& X,
                                                           absl::Span<const std::uint8_t> y,
                                                           absl::Span<const double> sample_weight,
                                                           const LogisticRegressionConfig& config,
                                                           const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  const Eigen::Index n = X.rows(), p = X.cols();
  if (n == 0) return absl::InvalidArgumentError("cannot fit on an empty matrix");
  if (static_cast<Eigen::Index>(y.size()) != n) return absl::InvalidArgumentError(absl::StrCat(n, " rows but ", y.size(), " labels"));
  if (!sample_weight.empty() && static_cast<Eigen::Index>(sample_weight.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(n, " rows but ", sample_weight.size(), " sample weights"));
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < p; ++j) {
      if (!std::isfinite(X(i, j))) {
        return absl::InvalidArgumentError(absl::StrCat("feature ", j, " of row ", i, " is ", X(i, j),
                                                       ": logistic regression needs finite values, not NaN or infinity (impute missing ones)"));
      }
    }
  }
  Eigen::VectorXd w(n);
  double positives = 0, total_weight = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (y[i] > 1) return absl::InvalidArgumentError(absl::StrCat("row ", i, " has label ", static_cast<int>(y[i]), "; expected 0 or 1"));
    w[i] = sample_weight.empty() ? 1.0 : sample_weight[i];
    if (!(w[i] >= 0) || !std::isfinite(w[i])) return absl::InvalidArgumentError(absl::StrCat("row ", i, " has an invalid sample weight"));
    total_weight += w[i];
    positives += w[i] * y[i];
  }
  if (positives <= 0 || positives >= total_weight) {
    return absl::InvalidArgumentError("labels hold a single class: a probability model needs both");
  }
  w /= total_weight;
  // The objective is normalised by the total weight, so the penalty strength is 1 / (C * total).
  const double strength = 1.0 / (config.C * total_weight);
  const double l2 = config.penalty == LogisticRegressionConfig::Penalty::kL2 ? strength : 0.0;
  const double l1 = config.penalty == LogisticRegressionConfig::Penalty::kL1 ? strength : 0.0;

  // Huge columns are fitted scaled; the coefficients are scaled back at the end and the penalty
  // is weighted per column so that the problem solved is the one asked for, in original units.
  const std::vector<int> exponents = ColumnExponents(X);
  const bool scaled = std::any_of(exponents.begin(), exponents.end(), [](int e) { return e != 0; });
  RowMatrix scaled_copy;
  Eigen::VectorXd l2_weight = Eigen::VectorXd::Ones(p), l1_weight = Eigen::VectorXd::Ones(p);
  if (scaled) {
    scaled_copy = X;
    for (Eigen::Index j = 0; j < p; ++j) {
      const int e = exponents[static_cast<std::size_t>(j)];
      if (e == 0) continue;
      for (Eigen::Index i = 0; i < n; ++i) scaled_copy(i, j) = std::ldexp(scaled_copy(i, j), -e);
      l1_weight[j] = std::ldexp(1.0, -e);
      l2_weight[j] = std::ldexp(1.0, -2 * e);
    }
  }
  const Eigen::Ref<const RowMatrix> A = scaled ? Eigen::Ref<const RowMatrix>(scaled_copy) : X;

  LogisticRegression model;
  model.config_ = config;
  model.coef_ = Eigen::VectorXd::Zero(p);
  model.feature_mean_ = A.transpose() * w;
  double& b = model.intercept_;
  b = config.fit_intercept ? std::log(positives / (total_weight - positives)) : 0.0;
  Eigen::VectorXd& coef = model.coef_;

  const auto penalty = [&](const Eigen::VectorXd& c) {
    if (!scaled) return 0.5 * l2 * c.squaredNorm() + l1 * c.lpNorm<1>();
    return 0.5 * l2 * (c.array().square() * l2_weight.array()).sum() + l1 * (c.array().abs() * l1_weight.array()).sum();
  };
  const auto loss_at = [&](const Eigen::VectorXd& c, double intercept) {
    return internal::DeterministicReduce<double>(
        options.num_threads, n, kRowChunk, 0.0,
        [&](std::int64_t begin, std::int64_t end) {
          const Eigen::VectorXd z = (A.middleRows(begin, end - begin) * c).array() + intercept;
          double sum = 0;
          for (std::int64_t i = begin; i < end; ++i) sum += w[i] * (Softplus(z[i - begin]) - y[i] * z[i - begin]);
          return sum;
        },
        [](double& acc, double part) { acc += part; });
  };
  double objective = loss_at(coef, b) + penalty(coef);
  ProgressReporter progress(options.progress, config.max_iter, "logistic regression");
  for (model.iterations_ = 0; model.iterations_ < config.max_iter; ++model.iterations_) {
    const Pass pass = internal::DeterministicReduce<Pass>(
        options.num_threads, n, kRowChunk, Pass(p),
        [&](std::int64_t begin, std::int64_t end) {
          Pass part(p);
          const auto rows = A.middleRows(begin, end - begin);
          const Eigen::VectorXd z = (rows * coef).array() + b;
          Eigen::VectorXd g(end - begin), h(end - begin);
          for (std::int64_t i = begin; i < end; ++i) {
            const double prob = Sigmoid(z[i - begin]);
            g[i - begin] = w[i] * (prob - y[i]);
            h[i - begin] = w[i] * std::max(prob * (1 - prob), 1e-12);
          }
          part.gradient = rows.transpose() * g;
          part.hessian.noalias() = rows.transpose() * h.asDiagonal() * rows;
          part.cross = rows.transpose() * h;
          part.gradient_intercept = g.sum();
          part.hessian_intercept = h.sum();
          return part;
        },
        [](Pass& acc, const Pass& part) { acc.Add(part); });
    // Newton direction (d, db) of the quadratic model plus the penalty.
    Eigen::VectorXd d = Eigen::VectorXd::Zero(p);
    double db = 0;
    if (l1 == 0) {
      Eigen::MatrixXd system = pass.hessian;
      system.diagonal().array() += l2 * l2_weight.array();
      Eigen::VectorXd rhs = -(pass.gradient + l2 * (l2_weight.array() * coef.array()).matrix());
      if (config.fit_intercept) {
        // Eliminate the intercept: (H - c c'/hb) d = rhs + c gb / hb.
        system -= pass.cross * pass.cross.transpose() / pass.hessian_intercept;
        rhs += pass.cross * pass.gradient_intercept / pass.hessian_intercept;
      }
      d = system.ldlt().solve(rhs);
      if (config.fit_intercept) db = -(pass.gradient_intercept + pass.cross.dot(d)) / pass.hessian_intercept;
    } else {
      Eigen::VectorXd hd = Eigen::VectorXd::Zero(p);  // H d, kept current
      for (int sweep = 0; sweep < 1000; ++sweep) {
        double largest_change = 0;
        for (Eigen::Index j = 0; j < p; ++j) {
          const double a = pass.hessian(j, j);
          const double r = pass.gradient[j] + hd[j] - a * d[j] + pass.cross[j] * db;
          // u_j = coef_j + d_j minimises 1/2 a (u - coef)^2 + r (u - coef) + l2/2 u^2 + l1 |u|.
          const double new_d = SoftThreshold(a * coef[j] - r, l1 * l1_weight[j]) / (a + l2 * l2_weight[j]) - coef[j];
          const double change = new_d - d[j];
          if (change != 0) {
            hd += pass.hessian.col(j) * change;
            d[j] = new_d;
            largest_change = std::max(largest_change, std::abs(change));
          }
        }
        if (config.fit_intercept) {
          const double new_db = -(pass.gradient_intercept + pass.cross.dot(d)) / pass.hessian_intercept;
          largest_change = std::max(largest_change, std::abs(new_db - db));
          db = new_db;
        }
        if (largest_change < 1e-14) break;
      }
    }
    if (!d.allFinite() || !std::isfinite(db)) {
      return absl::InternalError(absl::StrCat("logistic regression's Newton step is not finite at iteration ", model.iterations_,
                                              ": the features are too far apart in scale to fit"));
    }
    // Backtracking on the true objective.
    double step = 1.0, candidate = 0;
    Eigen::VectorXd trial;
    for (int halvings = 0; halvings < 40; ++halvings, step *= 0.5) {
      trial = coef + step * d;
      candidate = loss_at(trial, b + step * db) + penalty(trial);
      if (candidate <= objective) break;
    }
    if (!(candidate <= objective)) break;  // no descent left: at the optimum to machine precision
    const double improvement = objective - candidate;
    coef = trial;
    b += step * db;
    objective = candidate;
    progress.Advance(1);
    COMPTOIR_RETURN_IF_ERROR(progress.status());
    if (improvement <= config.tol * std::max(1.0, std::abs(objective))) {
      ++model.iterations_;
      break;
    }
  }
  model.objective_ = objective;
  if (scaled) {
    for (Eigen::Index j = 0; j < p; ++j) {
      const int e = exponents[static_cast<std::size_t>(j)];
      coef[j] = std::ldexp(coef[j], -e);
      model.feature_mean_[j] = std::ldexp(model.feature_mean_[j], e);
    }
  }
  return model;
}

absl::StatusOr<std::vector<double>> LogisticRegression::DecisionFunction(const Eigen::Ref<const RowMatrix>& X,
                                                                         const ExecutionOptions& options) const {
  if (X.cols() != coef_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("X has ", X.cols(), " features; the model was fitted on ", coef_.size()));
  }
  std::vector<double> out(static_cast<std::size_t>(X.rows()));
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(options.num_threads, X.rows(), kRowChunk,
                                                       [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    Eigen::Map<Eigen::VectorXd>(out.data() + begin, end - begin) = (X.middleRows(begin, end - begin) * coef_).array() + intercept_;
  }));
  // A non-finite score comes from a NaN or infinite feature (named, never returned) or from finite
  // features so large that the sum overflows a double: that row is summed again in long double
  // (whose range holds any product of two doubles) and saturates at the largest double of its
  // sign, which is the probability's 0 or 1.
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (std::isfinite(out[i])) continue;
    const auto row = static_cast<Eigen::Index>(i);
    long double sum = intercept_;
    for (Eigen::Index j = 0; j < X.cols(); ++j) {
      if (!std::isfinite(X(row, j))) {
        return absl::InvalidArgumentError(absl::StrCat("feature ", j, " of row ", i, " is ", X(row, j),
                                                       ": logistic regression needs finite values, not NaN or infinity"));
      }
      sum += static_cast<long double>(X(row, j)) * coef_[j];
    }
    constexpr long double kLargest = std::numeric_limits<double>::max();
    out[i] = static_cast<double>(std::clamp(sum, -kLargest, kLargest));
  }
  return out;
}

absl::StatusOr<std::vector<double>> LogisticRegression::PredictProbability(const Eigen::Ref<const RowMatrix>& X,
                                                                           const ExecutionOptions& options) const {
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<double> z, DecisionFunction(X, options));
  for (double& v : z) v = Sigmoid(v);
  return z;
}

absl::StatusOr<RowMatrix> LogisticRegression::Contributions(const Eigen::Ref<const RowMatrix>& X,
                                                            const ExecutionOptions& options) const {
  if (X.cols() != coef_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("X has ", X.cols(), " features; the model was fitted on ", coef_.size()));
  }
  RowMatrix out(X.rows(), X.cols() + 1);
  out.leftCols(X.cols()) = (X.rowwise() - feature_mean_.transpose()).array().rowwise() * coef_.transpose().array();
  out.col(X.cols()).setConstant(intercept_ + coef_.dot(feature_mean_));
  return out;
}

absl::Status LogisticRegression::set_feature_names(std::vector<std::string> names) {
  if (static_cast<Eigen::Index>(names.size()) != coef_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(names.size(), " feature names for ", coef_.size(), " features"));
  }
  schema_.feature_names = std::move(names);
  return absl::OkStatus();
}

absl::Status LogisticRegression::set_schema(FeatureSchema schema) {
  COMPTOIR_RETURN_IF_ERROR(schema.Validate(num_features()));
  schema_ = std::move(schema);
  return absl::OkStatus();
}

absl::Status LogisticRegression::set_training_profile(features::FeatureProfile profile) {
  if (profile.num_features() != num_features()) {
    return absl::InvalidArgumentError(absl::StrCat("a training profile of ", profile.num_features(), " features for ", num_features()));
  }
  training_profile_ = std::move(profile);
  return absl::OkStatus();
}

absl::StatusOr<io::ModelFile> LogisticRegression::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::LogisticRegressionConfig proto;
  proto.set_c(config_.C);
  proto.set_penalty(static_cast<v1::LogisticRegressionConfig::Penalty>(config_.penalty));
  proto.set_fit_intercept(config_.fit_intercept);
  proto.set_max_iter(config_.max_iter);
  proto.set_tol(config_.tol);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<double>("coefficients", absl::MakeConstSpan(coef_.data(), static_cast<std::size_t>(coef_.size()))));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<double>("feature_mean", absl::MakeConstSpan(feature_mean_.data(), static_cast<std::size_t>(feature_mean_.size()))));
  const std::vector<double> scalars = {intercept_, objective_, static_cast<double>(iterations_)};
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<double>("scalars", scalars));
  COMPTOIR_RETURN_IF_ERROR(schema_.AppendTo(file));
  COMPTOIR_RETURN_IF_ERROR(training_profile_.AddTo(file));
  return file;
}

absl::StatusOr<LogisticRegression> LogisticRegression::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  v1::LogisticRegressionConfig proto;
  if (!proto.ParseFromString(file.config())) return MarkModelFormatError(absl::DataLossError("logistic regression config does not parse"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> coef, file.Array<double>("coefficients"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> mean, file.Array<double>("feature_mean"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> scalars, file.Array<double>("scalars"));
  if (coef.size() != mean.size() || scalars.size() != 3) {
    return MarkModelFormatError(absl::DataLossError("logistic regression arrays are inconsistent"));
  }
  LogisticRegression model;
  if (!v1::LogisticRegressionConfig::Penalty_IsValid(proto.penalty())) {
    return MarkModelFormatError(absl::DataLossError("logistic regression config names an unknown penalty"));
  }
  LogisticRegressionConfig& config = model.config_;
  config.penalty = static_cast<LogisticRegressionConfig::Penalty>(proto.penalty());
  config.C = proto.c();
  if (proto.c() == 0) {
    // Written before C was kept: the file has the penalty strength only, which is C for a unit
    // total weight.
    const double strength = proto.legacy_l1() > 0 ? proto.legacy_l1() : proto.legacy_l2();
    config.penalty = proto.legacy_l1() > 0 ? LogisticRegressionConfig::Penalty::kL1 : LogisticRegressionConfig::Penalty::kL2;
    config.C = strength > 0 ? 1.0 / strength : std::numeric_limits<double>::max();
  }
  config.fit_intercept = proto.fit_intercept();
  config.max_iter = proto.max_iter();
  config.tol = proto.tol();
  const auto finite = [](const std::vector<double>& values) {
    return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
  };
  if (!finite(coef) || !finite(mean) || !std::isfinite(scalars[0])) {
    return MarkModelFormatError(absl::DataLossError("logistic regression holds a NaN or infinite coefficient"));
  }
  if (!(scalars[2] >= 0 && scalars[2] <= std::numeric_limits<std::int32_t>::max())) {
    return MarkModelFormatError(absl::DataLossError("logistic regression's iteration count is out of range"));
  }
  model.coef_ = Eigen::Map<const Eigen::VectorXd>(coef.data(), static_cast<Eigen::Index>(coef.size()));
  model.feature_mean_ = Eigen::Map<const Eigen::VectorXd>(mean.data(), static_cast<Eigen::Index>(mean.size()));
  model.intercept_ = scalars[0];
  model.objective_ = scalars[1];
  model.iterations_ = static_cast<std::int32_t>(scalars[2]);
  if (file.Blob(kSchemaBlob).ok()) {
    COMPTOIR_ASSIGN_OR_RETURN(model.schema_, FeatureSchema::ReadFrom(file, model.num_features()));
  } else if (absl::StatusOr<std::string_view> names = file.Blob("feature_names"); names.ok()) {
    // Format-1 files before schemas: newline-terminated names.
    for (std::size_t start = 0; start < names->size();) {
      const std::size_t end = names->find('\n', start);
      if (end == std::string_view::npos) return MarkModelFormatError(absl::DataLossError("feature names are truncated"));
      model.schema_.feature_names.emplace_back(names->substr(start, end - start));
      start = end + 1;
    }
    if (!model.schema_.feature_names.empty() &&
        static_cast<Eigen::Index>(model.schema_.feature_names.size()) != model.coef_.size()) {
      return MarkModelFormatError(absl::DataLossError("feature names do not match the coefficients"));
    }
  }
  COMPTOIR_ASSIGN_OR_RETURN(model.training_profile_, features::FeatureProfile::FromModelFile(file, model.num_features()));
  return model;
}

}  // namespace comptoir::propensity
