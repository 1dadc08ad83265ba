#include "comptoir/uplift/forest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/uplift.pb.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "internal/strings.h"

namespace comptoir::uplift {
namespace {

constexpr double kProbabilityFloor = 1e-6;
constexpr double kMinGain = 1e-12;

bool NeedsBinaryOutcome(SplitCriterion c) { return c == SplitCriterion::kKL || c == SplitCriterion::kChi; }

// Rows and outcome sum of one arm.
struct ArmSum {
  double n = 0, sum = 0;
};

// Means of every arm, each shrunk towards `prior` by n_reg pseudo-rows.
void ShrunkMeans(const ArmSum* sums, const double* prior, std::int32_t arms, double n_reg, double* out) {
  for (std::int32_t k = 0; k < arms; ++k) out[k] = (sums[k].sum + n_reg * prior[k]) / (sums[k].n + n_reg);
}

// Divergence between each offer's outcome distribution and control's, summed over offers.
double Divergence(SplitCriterion criterion, const double* mean, std::int32_t arms, bool binary) {
  double total = 0;
  const double q = std::clamp(mean[0], kProbabilityFloor, 1 - kProbabilityFloor);
  for (std::int32_t k = 1; k < arms; ++k) {
    const double d = mean[k] - mean[0];
    switch (criterion) {
      case SplitCriterion::kKL: {
        const double p = std::clamp(mean[k], kProbabilityFloor, 1 - kProbabilityFloor);
        total += p * std::log(p / q) + (1 - p) * std::log((1 - p) / (1 - q));
        break;
      }
      case SplitCriterion::kEuclidean:
        total += binary ? 2 * d * d : d * d;  // both classes of a binary outcome differ by d
        break;
      case SplitCriterion::kChi:
        total += d * d / q + d * d / (1 - q);
        break;
      case SplitCriterion::kDDP:
        break;  // a split-level criterion, see SplitGain
    }
  }
  return total;
}

struct Split {
  double gain = 0;
  std::int32_t feature = -1;
  std::int32_t bin = 0;  // bins 1..bin go left
  bool default_left = false;
};

// Grows the trees of one forest; one instance per tree (its scratch is not shared).
class TreeGrower {
 public:
  TreeGrower(const trees::BinnedMatrix& binned, const trees::FeatureBinning& binning, absl::Span<const std::int32_t> treatment,
             absl::Span<const double> y, std::int32_t arms, bool binary, const UpliftForestConfig& config)
      : binned_(binned), binning_(binning), treatment_(treatment), y_(y), arms_(arms), binary_(binary), config_(config) {}

  // `split_rows` choose the splits and `estimate_rows` the node values; empty `estimate_rows`
  // means the split rows estimate too (no honesty), and are then partitioned only once. `weight`
  // holds each row's multiplicity in a bootstrap sample (empty: every row once).
  UpliftTree Grow(std::vector<std::int64_t> split_rows, std::vector<std::int64_t> estimate_rows, std::vector<float> weight,
                  internal::CounterRng& rng, std::vector<double>& importance) {
    UpliftTree tree;
    weight_ = std::move(weight);
    split_rows_ = std::move(split_rows);
    estimate_rows_ = std::move(estimate_rows);
    std::vector<ArmSum> root(static_cast<std::size_t>(arms_));
    SumArms(Estimates(), 0, static_cast<std::int64_t>(Estimates().size()), root.data());
    std::vector<double> prior(static_cast<std::size_t>(arms_));
    for (std::int32_t k = 0; k < arms_; ++k) prior[static_cast<std::size_t>(k)] = root[static_cast<std::size_t>(k)].sum / std::max(root[static_cast<std::size_t>(k)].n, 1.0);
    GrowNode(tree, {0, static_cast<std::int64_t>(split_rows_.size())}, {0, static_cast<std::int64_t>(Estimates().size())}, 0,
             prior, rng, importance);
    return tree;
  }

 private:
  using Range = std::pair<std::int64_t, std::int64_t>;

  const std::vector<std::int64_t>& Estimates() const { return estimate_rows_.empty() ? split_rows_ : estimate_rows_; }

  double WeightOf(std::int64_t r) const { return weight_.empty() ? 1.0 : weight_[static_cast<std::size_t>(r)]; }

  void SumArms(const std::vector<std::int64_t>& rows, std::int64_t begin, std::int64_t end, ArmSum* out) const {
    for (std::int64_t k = begin; k < end; ++k) {
      const std::int64_t r = rows[static_cast<std::size_t>(k)];
      const double w = WeightOf(r);
      ArmSum& s = out[treatment_[static_cast<std::size_t>(r)]];
      s.n += w;
      s.sum += w * y_[static_cast<std::size_t>(r)];
    }
  }

  std::int32_t GrowNode(UpliftTree& tree, Range split, Range estimate, std::int32_t depth, const std::vector<double>& parent_mean,
                        internal::CounterRng& rng, std::vector<double>& importance) {
    const auto node = static_cast<std::int32_t>(tree.feature.size());
    tree.feature.push_back(-1);
    tree.threshold.push_back(0);
    tree.left.push_back(-1);
    tree.right.push_back(-1);
    tree.default_left.push_back(0);
    std::vector<ArmSum> sums(static_cast<std::size_t>(arms_));
    SumArms(Estimates(), estimate.first, estimate.second, sums.data());
    std::vector<double> mean(static_cast<std::size_t>(arms_));
    ShrunkMeans(sums.data(), parent_mean.data(), arms_, config_.n_reg, mean.data());
    tree.arm_mean.insert(tree.arm_mean.end(), mean.begin(), mean.end());
    double rows = 0;
    for (const ArmSum& arm : sums) rows += arm.n;
    tree.count.push_back(rows);

    if (depth >= config_.max_depth || split.second - split.first < 2) return node;
    const Split best = FindSplit(split, rng);
    if (best.feature < 0) return node;
    importance[static_cast<std::size_t>(best.feature)] += best.gain;
    const auto k = static_cast<std::size_t>(node);
    tree.feature[k] = best.feature;
    tree.threshold[k] = binning_.upper_bounds(best.feature)[static_cast<std::size_t>(best.bin - 1)];
    tree.default_left[k] = best.default_left;
    const std::int64_t split_middle = Partition(split_rows_, split, best);
    const std::int64_t estimate_middle = estimate_rows_.empty() ? split_middle : Partition(estimate_rows_, estimate, best);
    // With honest estimation a child may get no estimation rows of an arm: shrinkage fills it in.
    const std::int32_t left = GrowNode(tree, {split.first, split_middle}, {estimate.first, estimate_middle}, depth + 1, mean, rng, importance);
    tree.left[k] = left;
    const std::int32_t right = GrowNode(tree, {split_middle, split.second}, {estimate_middle, estimate.second}, depth + 1, mean, rng, importance);
    tree.right[k] = right;
    return node;
  }

  bool GoesLeft(const Split& split, std::uint8_t code) const {
    return code == trees::kMissingBin ? split.default_left : code <= split.bin;
  }

  // Stable: left rows in place, right rows through scratch.
  std::int64_t Partition(std::vector<std::int64_t>& rows, Range range, const Split& split) {
    scratch_.clear();
    std::int64_t write = range.first;
    for (std::int64_t k = range.first; k < range.second; ++k) {
      const std::int64_t r = rows[static_cast<std::size_t>(k)];
      if (GoesLeft(split, binned_.row(r)[split.feature])) {
        rows[static_cast<std::size_t>(write++)] = r;
      } else {
        scratch_.push_back(r);
      }
    }
    std::copy(scratch_.begin(), scratch_.end(), rows.begin() + write);
    return write;
  }

  std::vector<std::int32_t> SampleFeatures(internal::CounterRng& rng) const {
    const std::int32_t p = binned_.num_features;
    std::vector<std::int32_t> features(static_cast<std::size_t>(p));
    std::iota(features.begin(), features.end(), 0);
    const double fraction = config_.max_features > 0 ? config_.max_features : std::sqrt(static_cast<double>(p)) / p;
    const auto keep = static_cast<std::size_t>(std::clamp<double>(std::round(fraction * p), 1, p));
    for (std::size_t k = 0; k < keep; ++k) std::swap(features[k], features[k + rng.UniformInt(features.size() - k)]);
    features.resize(keep);
    std::sort(features.begin(), features.end());
    return features;
  }

  bool Admissible(const ArmSum* side) const {
    double n = 0;
    for (std::int32_t k = 0; k < arms_; ++k) {
      if (side[k].n < config_.min_samples_treatment) return false;
      n += side[k].n;
    }
    return n >= config_.min_samples_leaf;
  }

  double SplitGain(const ArmSum* left, const ArmSum* right, const double* node_mean, double node_divergence,
                   double* left_mean, double* right_mean) const {
    ShrunkMeans(left, node_mean, arms_, config_.n_reg, left_mean);
    ShrunkMeans(right, node_mean, arms_, config_.n_reg, right_mean);
    if (config_.criterion == SplitCriterion::kDDP) {
      double gain = 0;
      for (std::int32_t k = 1; k < arms_; ++k) {
        gain = std::max(gain, std::abs((left_mean[k] - left_mean[0]) - (right_mean[k] - right_mean[0])));
      }
      return gain;
    }
    double n_left = 0, n_right = 0;
    for (std::int32_t k = 0; k < arms_; ++k) n_left += left[k].n, n_right += right[k].n;
    const double share = n_left / (n_left + n_right);
    return share * Divergence(config_.criterion, left_mean, arms_, binary_) +
           (1 - share) * Divergence(config_.criterion, right_mean, arms_, binary_) - node_divergence;
  }

  Split FindSplit(Range range, internal::CounterRng& rng) {
    const auto arms = static_cast<std::size_t>(arms_);
    std::vector<ArmSum> total(arms);
    SumArms(split_rows_, range.first, range.second, total.data());
    std::vector<double> node_mean(arms), left_mean(arms), right_mean(arms);
    for (std::size_t k = 0; k < arms; ++k) node_mean[k] = total[k].sum / std::max(total[k].n, 1.0);
    const double node_divergence = Divergence(config_.criterion, node_mean.data(), arms_, binary_);
    Split best;
    std::vector<ArmSum> left(arms), right(arms);
    // One pass over the node's rows fills the histograms of every sampled feature.
    const std::vector<std::int32_t> features = SampleFeatures(rng);
    offsets_.assign(features.size() + 1, 0);
    for (std::size_t s = 0; s < features.size(); ++s) offsets_[s + 1] = offsets_[s] + static_cast<std::size_t>(binning_.num_bins(features[s])) * arms;
    hist_.assign(offsets_.back(), ArmSum{});
    for (std::int64_t k = range.first; k < range.second; ++k) {
      const std::int64_t r = split_rows_[static_cast<std::size_t>(k)];
      const std::uint8_t* code = binned_.row(r);
      const auto arm = static_cast<std::size_t>(treatment_[static_cast<std::size_t>(r)]);
      const double w = WeightOf(r), value = w * y_[static_cast<std::size_t>(r)];
      for (std::size_t s = 0; s < features.size(); ++s) {
        ArmSum& sum = hist_[offsets_[s] + code[features[s]] * arms + arm];
        sum.n += w;
        sum.sum += value;
      }
    }
    for (std::size_t s = 0; s < features.size(); ++s) {
      const std::int32_t f = features[s];
      const auto bins = static_cast<std::size_t>(binning_.num_bins(f));
      const ArmSum* hist = hist_.data() + offsets_[s];
      const bool has_missing = std::any_of(hist, hist + arms, [](const ArmSum& sum) { return sum.n > 0; });
      for (const bool default_left : {false, true}) {
        if (default_left && !has_missing) break;
        std::fill(left.begin(), left.end(), ArmSum{});
        if (default_left) std::copy(hist, hist + arms, left.begin());
        for (std::size_t b = 1; b + 1 < bins; ++b) {
          for (std::size_t k = 0; k < arms; ++k) left[k].n += hist[b * arms + k].n, left[k].sum += hist[b * arms + k].sum;
          for (std::size_t k = 0; k < arms; ++k) right[k] = {total[k].n - left[k].n, total[k].sum - left[k].sum};
          if (!Admissible(left.data()) || !Admissible(right.data())) continue;
          const double gain = SplitGain(left.data(), right.data(), node_mean.data(), node_divergence, left_mean.data(), right_mean.data());
          if (gain > best.gain + kMinGain) best = {gain, f, static_cast<std::int32_t>(b), default_left};
        }
      }
    }
    return best;
  }

  const trees::BinnedMatrix& binned_;
  const trees::FeatureBinning& binning_;
  absl::Span<const std::int32_t> treatment_;
  absl::Span<const double> y_;
  const std::int32_t arms_;
  const bool binary_;
  const UpliftForestConfig& config_;
  std::vector<std::int64_t> split_rows_, estimate_rows_, scratch_;
  std::vector<float> weight_;
  std::vector<ArmSum> hist_;
  std::vector<std::size_t> offsets_;
};

// The child of split `node` that `row` goes to; NaN follows the learned default direction.
std::size_t ChildOf(const UpliftTree& tree, std::size_t node, const double* row) {
  const double x = row[tree.feature[node]];
  const bool left = std::isnan(x) ? tree.default_left[node] != 0 : x <= tree.threshold[node];
  return static_cast<std::size_t>(left ? tree.left[node] : tree.right[node]);
}

absl::Status CheckTree(const UpliftTree& t, std::int32_t num_features, std::int32_t arms) {
  const std::size_t n = t.feature.size();
  if (n == 0 || t.threshold.size() != n || t.left.size() != n || t.right.size() != n || t.default_left.size() != n ||
      t.count.size() != n || t.arm_mean.size() != n * static_cast<std::size_t>(arms)) {
    return absl::DataLossError("an uplift tree's arrays disagree in length");
  }
  // Children come after their parent, so following them cannot loop.
  for (std::size_t k = 0; k < n; ++k) {
    if (t.feature[k] < 0) continue;
    const auto node = static_cast<std::int32_t>(k), size = static_cast<std::int32_t>(n);
    if (t.feature[k] >= num_features || t.left[k] <= node || t.right[k] <= node || t.left[k] >= size || t.right[k] >= size) {
      return absl::DataLossError(absl::StrCat("uplift tree node ", k, " is malformed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status UpliftForestConfig::Validate() const {
  if (n_estimators < 1) return absl::InvalidArgumentError("n_estimators must be >= 1");
  if (max_depth < 1) return absl::InvalidArgumentError("max_depth must be >= 1");
  if (min_samples_leaf < 1 || min_samples_treatment < 0) {
    return absl::InvalidArgumentError("min_samples_leaf must be >= 1 and min_samples_treatment >= 0");
  }
  if (!(n_reg >= 0) || !std::isfinite(n_reg)) return absl::InvalidArgumentError("n_reg must be finite and >= 0");
  if (!(max_features >= 0 && max_features <= 1)) return absl::InvalidArgumentError("max_features must be in [0, 1] (0: square root)");
  if (!binning.categorical_features.empty()) {
    return absl::InvalidArgumentError("the uplift forest splits category codes as ordered numbers: categorical_features is not supported");
  }
  return absl::OkStatus();
}

absl::StatusOr<UpliftForest> UpliftForest::Fit(const Eigen::Ref<const RowMatrix>& X, absl::Span<const std::int32_t> treatment,
                                               absl::Span<const double> y, const UpliftForestConfig& config,
                                               const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  const std::int64_t n = X.rows();
  if (n == 0 || X.cols() == 0) return absl::InvalidArgumentError("cannot fit on an empty matrix");
  if (static_cast<std::int64_t>(treatment.size()) != n || static_cast<std::int64_t>(y.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(n, " rows but ", treatment.size(), " treatments and ", y.size(), " outcomes"));
  }
  std::int32_t arms = 0;
  bool binary = true;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t t = treatment[static_cast<std::size_t>(i)];
    const double v = y[static_cast<std::size_t>(i)];
    if (t < 0) return absl::InvalidArgumentError(absl::StrCat("treatment ", i, " is ", t, ": arms are 0 (control) and 1..K"));
    if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat("outcome ", i, " is ", v));
    arms = std::max(arms, t + 1);
    binary = binary && (v == 0 || v == 1);
  }
  if (arms < 2) return absl::InvalidArgumentError("every row is in the control arm: there is no offer to learn");
  std::vector<std::int64_t> arm_rows(static_cast<std::size_t>(arms), 0);
  for (std::int32_t t : treatment) ++arm_rows[static_cast<std::size_t>(t)];
  for (std::int32_t k = 0; k < arms; ++k) {
    if (arm_rows[static_cast<std::size_t>(k)] == 0) return absl::InvalidArgumentError(absl::StrCat("arm ", k, " has no rows"));
  }
  if (NeedsBinaryOutcome(config.criterion) && !binary) {
    return absl::InvalidArgumentError("the KL and chi-square criteria need a 0/1 outcome; use kEuclidean or kDDP for spend");
  }

  UpliftForest forest;
  forest.config_ = config;
  forest.num_features_ = static_cast<std::int32_t>(X.cols());
  forest.num_arms_ = arms;
  COMPTOIR_ASSIGN_OR_RETURN(const trees::FeatureBinning binning, trees::FeatureBinning::Fit(X, config.binning, options));
  COMPTOIR_ASSIGN_OR_RETURN(const trees::BinnedMatrix binned, binning.Transform(X, options));
  forest.trees_.resize(static_cast<std::size_t>(config.n_estimators));
  std::vector<std::vector<double>> importance(static_cast<std::size_t>(config.n_estimators), std::vector<double>(static_cast<std::size_t>(X.cols()), 0.0));
  ProgressReporter progress(options.progress, config.n_estimators, "uplift forest");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, config.n_estimators, 1,
      [&](std::int64_t t, std::int64_t, std::int64_t) {
        internal::CounterRng rng(options.seed, static_cast<std::uint64_t>(t));
        // A bootstrap sample as multiplicities of the distinct rows drawn: duplicates cost nothing.
        std::vector<float> weight;
        std::vector<std::int64_t> rows;
        if (config.bootstrap) {
          weight.assign(static_cast<std::size_t>(n), 0.0f);
          for (std::int64_t draw = 0; draw < n; ++draw) weight[rng.UniformInt(static_cast<std::uint64_t>(n))] += 1;
          for (std::int64_t r = 0; r < n; ++r) {
            if (weight[static_cast<std::size_t>(r)] > 0) rows.push_back(r);
          }
        } else {
          rows.resize(static_cast<std::size_t>(n));
          std::iota(rows.begin(), rows.end(), 0);
        }
        std::vector<std::int64_t> estimate;
        if (config.honest) {
          // A seeded shuffle, then the second half estimates.
          for (std::size_t k = rows.size(); k > 1; --k) std::swap(rows[k - 1], rows[rng.UniformInt(k)]);
          estimate.assign(rows.begin() + static_cast<std::ptrdiff_t>(rows.size() / 2), rows.end());
          rows.resize(rows.size() / 2);
        }
        TreeGrower grower(binned, binning, treatment, y, arms, binary, config);
        forest.trees_[static_cast<std::size_t>(t)] =
            grower.Grow(std::move(rows), std::move(estimate), std::move(weight), rng, importance[static_cast<std::size_t>(t)]);
      },
      &progress));
  forest.feature_importance_.assign(static_cast<std::size_t>(X.cols()), 0.0);
  for (const auto& per_tree : importance) {
    for (std::size_t j = 0; j < per_tree.size(); ++j) forest.feature_importance_[j] += per_tree[j];
  }
  progress.Finish();
  return forest;
}

std::int32_t UpliftForest::LeafOf(const UpliftTree& tree, const double* row) const {
  std::size_t node = 0;
  while (tree.feature[node] >= 0) node = ChildOf(tree, node, row);
  return static_cast<std::int32_t>(node);
}

absl::StatusOr<RowMatrix> UpliftForest::PredictArmOutcomes(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (X.cols() != num_features_) {
    return absl::InvalidArgumentError(absl::StrCat("X has ", X.cols(), " features, the forest was fitted on ", num_features_));
  }
  RowMatrix out = RowMatrix::Zero(X.rows(), num_arms_);
  const double scale = 1.0 / static_cast<double>(trees_.size());
  (void)internal::ParallelForChunks(options.num_threads, X.rows(), 1024, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      for (const UpliftTree& tree : trees_) {
        const auto leaf = static_cast<std::size_t>(LeafOf(tree, X.row(i).data()));
        for (std::int32_t k = 0; k < num_arms_; ++k) out(i, k) += tree.arm_mean[leaf * static_cast<std::size_t>(num_arms_) + static_cast<std::size_t>(k)];
      }
      out.row(i) *= scale;
    }
  });
  return out;
}

absl::StatusOr<RowMatrix> UpliftForest::Predict(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options) const {
  COMPTOIR_ASSIGN_OR_RETURN(const RowMatrix outcomes, PredictArmOutcomes(X, options));
  return RowMatrix(outcomes.rightCols(num_arms_ - 1).colwise() - outcomes.col(0));
}

absl::StatusOr<RowMatrix> UpliftForest::Contributions(const Eigen::Ref<const RowMatrix>& X, std::int32_t offer,
                                                      const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (X.cols() != num_features_) {
    return absl::InvalidArgumentError(absl::StrCat("X has ", X.cols(), " features, the forest was fitted on ", num_features_));
  }
  if (offer < 1 || offer >= num_arms_) return absl::InvalidArgumentError(absl::StrCat("offer must be in 1..", num_arms_ - 1, ", got ", offer));
  const auto arms = static_cast<std::size_t>(num_arms_);
  const auto effect = [&](const UpliftTree& tree, std::size_t node) {
    return tree.arm_mean[node * arms + static_cast<std::size_t>(offer)] - tree.arm_mean[node * arms];
  };
  RowMatrix out = RowMatrix::Zero(X.rows(), num_features_ + 1);
  const double scale = 1.0 / static_cast<double>(trees_.size());
  (void)internal::ParallelForChunks(options.num_threads, X.rows(), 1024, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const double* row = X.row(i).data();
      for (const UpliftTree& tree : trees_) {
        std::size_t node = 0;
        out(i, num_features_) += effect(tree, 0);
        while (tree.feature[node] >= 0) {
          const std::size_t child = ChildOf(tree, node, row);
          out(i, tree.feature[node]) += effect(tree, child) - effect(tree, node);
          node = child;
        }
      }
      out.row(i) *= scale;
    }
  });
  return out;
}

absl::Status UpliftForest::set_schema(FeatureSchema schema) {
  COMPTOIR_RETURN_IF_ERROR(schema.Validate(num_features()));
  if (!schema.arm_names.empty() && schema.arm_names.size() != num_arms_) {
    return absl::InvalidArgumentError(absl::StrCat(schema.arm_names.size(), " arm names for ", num_arms_, " arms"));
  }
  schema_ = std::move(schema);
  return absl::OkStatus();
}

absl::Status UpliftForest::set_feature_names(std::vector<std::string> names) {
  if (static_cast<std::int32_t>(names.size()) != num_features_) {
    return absl::InvalidArgumentError(absl::StrCat(names.size(), " feature names for ", num_features_, " features"));
  }
  schema_.feature_names = std::move(names);
  return absl::OkStatus();
}

absl::Status UpliftForest::set_training_profile(features::FeatureProfile profile) {
  if (profile.num_features() != num_features()) {
    return absl::InvalidArgumentError(absl::StrCat("a training profile of ", profile.num_features(), " features for ", num_features()));
  }
  training_profile_ = std::move(profile);
  return absl::OkStatus();
}

absl::StatusOr<io::ModelFile> UpliftForest::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::UpliftForestConfig c;
  c.set_criterion(static_cast<v1::SplitCriterion>(config_.criterion));
  c.set_n_estimators(config_.n_estimators);
  c.set_max_depth(config_.max_depth);
  c.set_min_samples_leaf(config_.min_samples_leaf);
  c.set_min_samples_treatment(config_.min_samples_treatment);
  c.set_n_reg(config_.n_reg);
  c.set_max_features(config_.max_features);
  c.set_bootstrap(config_.bootstrap);
  c.set_honest(config_.honest);
  c.set_max_bins(config_.binning.max_bins);
  c.set_sample_rows(config_.binning.sample_rows);
  file.set_config(c.SerializeAsString());
  v1::UpliftForestModel m;
  m.set_num_features(num_features_);
  m.set_num_arms(num_arms_);
  for (const UpliftTree& tree : trees_) {
    v1::UpliftTree* t = m.add_trees();
    t->mutable_feature()->Add(tree.feature.begin(), tree.feature.end());
    t->mutable_threshold()->Add(tree.threshold.begin(), tree.threshold.end());
    t->mutable_left()->Add(tree.left.begin(), tree.left.end());
    t->mutable_right()->Add(tree.right.begin(), tree.right.end());
    t->set_default_left(std::string(tree.default_left.begin(), tree.default_left.end()));
    t->mutable_arm_mean()->Add(tree.arm_mean.begin(), tree.arm_mean.end());
    t->mutable_count()->Add(tree.count.begin(), tree.count.end());
  }
  m.mutable_feature_importance()->Add(feature_importance_.begin(), feature_importance_.end());
  COMPTOIR_RETURN_IF_ERROR(file.AddBlob("model", m.SerializeAsString()));
  COMPTOIR_RETURN_IF_ERROR(schema_.AppendTo(file));
  COMPTOIR_RETURN_IF_ERROR(training_profile_.AddTo(file));
  return file;
}

absl::StatusOr<UpliftForest> UpliftForest::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  const auto corrupt = [](std::string_view what) {
    return MarkModelFormatError(absl::DataLossError(absl::StrCat("uplift forest model: ", internal::Sv(what))));
  };
  v1::UpliftForestConfig c;
  if (!c.ParseFromString(file.config())) return corrupt("the config does not parse");
  COMPTOIR_ASSIGN_OR_RETURN(const std::string_view blob, file.Blob("model"));
  v1::UpliftForestModel m;
  if (!m.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) return corrupt("the trees do not parse");
  UpliftForest forest;
  UpliftForestConfig& config = forest.config_;
  if (c.criterion() < 0 || c.criterion() > static_cast<int>(SplitCriterion::kDDP)) return corrupt("unknown criterion");
  config.criterion = static_cast<SplitCriterion>(c.criterion());
  config.n_estimators = c.n_estimators();
  config.max_depth = c.max_depth();
  config.min_samples_leaf = c.min_samples_leaf();
  config.min_samples_treatment = c.min_samples_treatment();
  config.n_reg = c.n_reg();
  config.max_features = c.max_features();
  config.bootstrap = c.bootstrap();
  config.honest = c.honest();
  config.binning.max_bins = c.max_bins();
  config.binning.sample_rows = c.sample_rows();
  if (!config.Validate().ok()) return corrupt("the config is invalid");
  forest.num_features_ = m.num_features();
  forest.num_arms_ = m.num_arms();
  if (forest.num_features_ < 1 || forest.num_arms_ < 2 || m.trees_size() == 0) return corrupt("the forest is empty");
  for (const v1::UpliftTree& t : m.trees()) {
    UpliftTree tree;
    tree.feature.assign(t.feature().begin(), t.feature().end());
    tree.threshold.assign(t.threshold().begin(), t.threshold().end());
    tree.left.assign(t.left().begin(), t.left().end());
    tree.right.assign(t.right().begin(), t.right().end());
    tree.default_left.assign(t.default_left().begin(), t.default_left().end());
    tree.arm_mean.assign(t.arm_mean().begin(), t.arm_mean().end());
    tree.count.assign(t.count().begin(), t.count().end());
    if (absl::Status s = CheckTree(tree, forest.num_features_, forest.num_arms_); !s.ok()) return MarkModelFormatError(s);
    forest.trees_.push_back(std::move(tree));
  }
  forest.feature_importance_.assign(m.feature_importance().begin(), m.feature_importance().end());
  forest.schema_.feature_names.assign(m.feature_names().begin(), m.feature_names().end());
  if (!internal::AllUtf8(forest.schema_.feature_names)) return corrupt("feature names are not UTF-8 text");
  if (static_cast<std::int32_t>(forest.feature_importance_.size()) != forest.num_features_ ||
      (!forest.schema_.feature_names.empty() && static_cast<std::int32_t>(forest.schema_.feature_names.size()) != forest.num_features_)) {
    return corrupt("per-feature arrays do not match the feature count");
  }
  if (file.Blob(kSchemaBlob).ok()) {
    COMPTOIR_ASSIGN_OR_RETURN(forest.schema_, FeatureSchema::ReadFrom(file, forest.num_features_));
    if (!forest.schema_.arm_names.empty() && forest.schema_.arm_names.size() != forest.num_arms_) {
      return corrupt("the schema's arm names do not match the arms");
    }
  }
  COMPTOIR_ASSIGN_OR_RETURN(forest.training_profile_, features::FeatureProfile::FromModelFile(file, forest.num_features_));
  return forest;
}

}  // namespace comptoir::uplift
