// Feature binning shared by every tree learner (gradient boosting, uplift forests): each column
// becomes at most 255 ordered bins, so split search scans small histograms instead of sorting rows.
//
// Bin 0 of every feature holds the missing values (NaN). Numeric features: bin b >= 1 holds the
// values in (upper_bound(b - 1), upper_bound(b)], with upper bounds at midpoints between distinct
// training values (quantiles when there are more distinct values than bins); +-infinity are
// ordinary extreme values. Categorical features: values must be non-negative integers; the most
// frequent categories get a bin each and the rest (and categories first seen at prediction time)
// share one "other" bin.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/options.h"

namespace comptoir::trees {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

inline constexpr std::int32_t kMissingBin = 0;
inline constexpr std::int32_t kMaxBins = 256;

struct BinningConfig {
  // Bins per feature, the missing bin included (2..256).
  std::int32_t max_bins = 256;
  // Column indices holding category codes.
  std::vector<std::int32_t> categorical_features;
  // Bin edges are computed from at most this many rows (a seeded sample) to bound the cost.
  std::int64_t sample_rows = 200000;

  absl::Status Validate(std::int32_t num_features) const;
};

// Row-major bin codes: code(i, j) = codes[i * num_features + j]. One row is one contiguous run of
// bytes, which is what histogram building over a node's (scattered) rows wants.
struct BinnedMatrix {
  std::int64_t num_rows = 0;
  std::int32_t num_features = 0;
  std::vector<std::uint8_t> codes;

  const std::uint8_t* row(std::int64_t i) const { return codes.data() + i * num_features; }
};

class FeatureBinning {
 public:
  FeatureBinning() = default;  // no features
  // Learns the bins of every column of X. Errors name the column: a categorical value that is
  // negative, fractional or above 2^31.
  static absl::StatusOr<FeatureBinning> Fit(const Eigen::Ref<const RowMatrix>& X, const BinningConfig& config,
                                            const ExecutionOptions& options);
  // Rebuilds a binning saved by its parts (model files); checks their consistency.
  static absl::StatusOr<FeatureBinning> FromParts(std::vector<std::vector<double>> upper_bounds,
                                                  std::vector<std::vector<std::int32_t>> categories,
                                                  std::vector<bool> categorical);

  absl::StatusOr<BinnedMatrix> Transform(const Eigen::Ref<const RowMatrix>& X, const ExecutionOptions& options) const;

  std::int32_t num_features() const { return static_cast<std::int32_t>(categorical_.size()); }
  bool is_categorical(std::int32_t feature) const { return categorical_[static_cast<std::size_t>(feature)]; }
  // Bins of a feature, the missing bin included.
  std::int32_t num_bins(std::int32_t feature) const;
  // Numeric features: the upper bound of bin b (b >= 1); the last bin's is +infinity.
  const std::vector<double>& upper_bounds(std::int32_t feature) const { return upper_bounds_[static_cast<std::size_t>(feature)]; }
  // Categorical features: the category value of bin b is categories[b - 1]; the bin after the
  // listed categories is the "other" bin.
  const std::vector<std::int32_t>& categories(std::int32_t feature) const { return categories_[static_cast<std::size_t>(feature)]; }

  // The bin of one raw value, as Transform assigns it.
  std::uint8_t BinOf(std::int32_t feature, double value) const;

 private:
  std::vector<std::vector<double>> upper_bounds_;
  std::vector<std::vector<std::int32_t>> categories_;  // sorted ascending
  std::vector<bool> categorical_;
};

}  // namespace comptoir::trees
