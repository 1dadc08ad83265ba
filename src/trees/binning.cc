#include "comptoir/trees/binning.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"
#include "internal/rng.h"

namespace comptoir::trees {
namespace {

constexpr std::int64_t kTransformChunk = 1024;
constexpr double kMaxCategory = 2147483647.0;

absl::Status CheckCategory(double value, std::int32_t feature) {
  if (std::isnan(value)) return absl::OkStatus();
  if (!(value >= 0) || value > kMaxCategory || value != std::floor(value)) {
    return absl::InvalidArgumentError(absl::StrCat("categorical feature ", feature,
                                                   " holds ", value, ": categories must be integers in [0, 2^31)"));
  }
  return absl::OkStatus();
}

// Upper bounds for a numeric column from its sorted non-missing sample.
std::vector<double> NumericBounds(std::vector<double>& values, std::int32_t max_value_bins) {
  std::sort(values.begin(), values.end());
  std::vector<double> distinct;
  std::vector<std::int64_t> counts;
  for (double v : values) {
    if (distinct.empty() || v != distinct.back()) {
      distinct.push_back(v);
      counts.push_back(1);
    } else {
      ++counts.back();
    }
  }
  std::vector<double> bounds;
  const auto midpoint = [&](std::size_t k) {
    const double a = distinct[k], b = distinct[k + 1];
    const double mid = a / 2 + b / 2;  // no overflow near the largest doubles
    return std::isfinite(mid) && mid >= a && mid < b ? mid : a;
  };
  if (distinct.size() <= static_cast<std::size_t>(max_value_bins)) {
    for (std::size_t k = 0; k + 1 < distinct.size(); ++k) bounds.push_back(midpoint(k));
  } else {
    // Equal-frequency cuts over the sample; a cut only ever falls between two distinct values.
    const double per_bin = static_cast<double>(values.size()) / max_value_bins;
    double seen = 0;
    double next_cut = per_bin;
    for (std::size_t k = 0; k + 1 < distinct.size() && bounds.size() + 1 < static_cast<std::size_t>(max_value_bins); ++k) {
      seen += static_cast<double>(counts[k]);
      if (seen >= next_cut) {
        bounds.push_back(midpoint(k));
        while (next_cut <= seen) next_cut += per_bin;
      }
    }
  }
  bounds.push_back(std::numeric_limits<double>::infinity());
  return bounds;
}

// The most frequent categories (at most max_value_bins - 1, leaving room for "other"), sorted.
std::vector<std::int32_t> KeptCategories(const std::vector<double>& values, std::int32_t max_value_bins) {
  std::vector<std::int32_t> codes(values.size());
  std::transform(values.begin(), values.end(), codes.begin(), [](double v) { return static_cast<std::int32_t>(v); });
  std::sort(codes.begin(), codes.end());
  std::vector<std::pair<std::int64_t, std::int32_t>> by_count;  // (-count, category)
  for (std::size_t k = 0; k < codes.size();) {
    std::size_t end = k;
    while (end < codes.size() && codes[end] == codes[k]) ++end;
    by_count.emplace_back(-static_cast<std::int64_t>(end - k), codes[k]);
    k = end;
  }
  const auto keep = std::min<std::size_t>(by_count.size(), static_cast<std::size_t>(max_value_bins - 1));
  std::partial_sort(by_count.begin(), by_count.begin() + static_cast<std::ptrdiff_t>(keep), by_count.end());
  std::vector<std::int32_t> kept(keep);
  for (std::size_t k = 0; k < keep; ++k) kept[k] = by_count[k].second;
  std::sort(kept.begin(), kept.end());
  return kept;
}

// The bin of a non-NaN value: one plus the number of bounds below it. The bounds end with
// +infinity, so the count stays below their size. Branch-free halving with a fixed number of
// steps per feature, so the searches of neighbouring rows overlap in the pipeline.
inline std::uint8_t NumericBin(const std::vector<double>& bounds, double value) {
  const double* base = bounds.data();
  const std::size_t size = bounds.size();
  std::size_t below = 0;
  std::size_t step = 1;
  while (step * 2 <= size) step *= 2;
  for (; step > 0; step /= 2) {
    const std::size_t probe = below + step;
    below = probe <= size && base[probe - 1] < value ? probe : below;
  }
  return static_cast<std::uint8_t>(below + 1);
}

}  // namespace

absl::Status BinningConfig::Validate(std::int32_t num_features) const {
  if (max_bins < 2 || max_bins > kMaxBins) return absl::InvalidArgumentError(absl::StrCat("max_bins must be in [2, 256], got ", max_bins));
  if (sample_rows < 1) return absl::InvalidArgumentError("sample_rows must be >= 1");
  for (std::int32_t j : categorical_features) {
    if (j < 0 || j >= num_features) {
      return absl::InvalidArgumentError(absl::StrCat("categorical feature index ", j, " is outside [0, ", num_features, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureBinning> FeatureBinning::Fit(const Eigen::Ref<const RowMatrix>& X, const BinningConfig& config,
                                                   const ExecutionOptions& options) {
  const auto p = static_cast<std::int32_t>(X.cols());
  COMPTOIR_RETURN_IF_ERROR(config.Validate(p));
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  const std::int64_t n = X.rows();
  if (n == 0) return absl::InvalidArgumentError("cannot bin an empty matrix");

  // A seeded sample of rows (all of them when few): Floyd's algorithm keeps it O(sample).
  std::vector<std::int64_t> sample;
  if (n <= config.sample_rows) {
    sample.resize(static_cast<std::size_t>(n));
    std::iota(sample.begin(), sample.end(), 0);
  } else {
    internal::CounterRng rng(options.seed, 0x62696e73);
    std::vector<bool> taken(static_cast<std::size_t>(n), false);
    for (std::int64_t k = n - config.sample_rows; k < n; ++k) {
      auto pick = static_cast<std::int64_t>(rng.UniformInt(static_cast<std::uint64_t>(k + 1)));
      if (taken[static_cast<std::size_t>(pick)]) pick = k;
      taken[static_cast<std::size_t>(pick)] = true;
      sample.push_back(pick);
    }
    std::sort(sample.begin(), sample.end());
  }

  FeatureBinning binning;
  binning.categorical_.assign(static_cast<std::size_t>(p), false);
  for (std::int32_t j : config.categorical_features) binning.categorical_[static_cast<std::size_t>(j)] = true;
  binning.upper_bounds_.resize(static_cast<std::size_t>(p));
  binning.categories_.resize(static_cast<std::size_t>(p));
  std::vector<absl::Status> column_status(static_cast<std::size_t>(p));
  (void)internal::ParallelForChunks(options.num_threads, p, 1, [&](std::int64_t, std::int64_t begin, std::int64_t) {
    const auto j = static_cast<std::int32_t>(begin);
    std::vector<double> values;
    values.reserve(sample.size());
    for (std::int64_t i : sample) {
      const double v = X(i, j);
      if (!std::isnan(v)) values.push_back(v);
    }
    if (binning.categorical_[static_cast<std::size_t>(j)]) {
      for (double v : values) {
        if (absl::Status s = CheckCategory(v, j); !s.ok()) {
          column_status[static_cast<std::size_t>(j)] = s;
          return;
        }
      }
      binning.categories_[static_cast<std::size_t>(j)] = KeptCategories(values, config.max_bins - 1);
    } else {
      binning.upper_bounds_[static_cast<std::size_t>(j)] = NumericBounds(values, config.max_bins - 1);
    }
  });
  for (const absl::Status& s : column_status) COMPTOIR_RETURN_IF_ERROR(s);
  return binning;
}

absl::StatusOr<FeatureBinning> FeatureBinning::FromParts(std::vector<std::vector<double>> upper_bounds,
                                                         std::vector<std::vector<std::int32_t>> categories,
                                                         std::vector<bool> categorical) {
  const std::size_t p = categorical.size();
  if (upper_bounds.size() != p || categories.size() != p) return absl::DataLossError("feature binning parts disagree in length");
  for (std::size_t j = 0; j < p; ++j) {
    const auto& bounds = upper_bounds[j];
    const auto& cats = categories[j];
    const bool sorted_bounds = std::is_sorted(bounds.begin(), bounds.end()) &&
                               std::adjacent_find(bounds.begin(), bounds.end()) == bounds.end();
    const bool ok = categorical[j]
                        ? bounds.empty() && cats.size() + 2 <= static_cast<std::size_t>(kMaxBins) &&
                              std::is_sorted(cats.begin(), cats.end())
                        : cats.empty() && !bounds.empty() && bounds.size() + 1 <= static_cast<std::size_t>(kMaxBins) &&
                              sorted_bounds && bounds.back() == std::numeric_limits<double>::infinity();
    if (!ok) return absl::DataLossError(absl::StrCat("feature binning of feature ", j, " is inconsistent"));
  }
  FeatureBinning binning;
  binning.upper_bounds_ = std::move(upper_bounds);
  binning.categories_ = std::move(categories);
  binning.categorical_ = std::move(categorical);
  return binning;
}

std::int32_t FeatureBinning::num_bins(std::int32_t feature) const {
  const auto j = static_cast<std::size_t>(feature);
  return categorical_[j] ? static_cast<std::int32_t>(categories_[j].size()) + 2
                         : static_cast<std::int32_t>(upper_bounds_[j].size()) + 1;
}

std::uint8_t FeatureBinning::BinOf(std::int32_t feature, double value) const {
  if (std::isnan(value)) return kMissingBin;
  const auto j = static_cast<std::size_t>(feature);
  if (categorical_[j]) {
    const auto& cats = categories_[j];
    const auto other = static_cast<std::uint8_t>(cats.size() + 1);
    if (!(value >= 0) || value > kMaxCategory) return other;
    const auto code = static_cast<std::int32_t>(value);
    const auto it = std::lower_bound(cats.begin(), cats.end(), code);
    return it != cats.end() && *it == code ? static_cast<std::uint8_t>(it - cats.begin() + 1) : other;
  }
  return NumericBin(upper_bounds_[j], value);
}

absl::StatusOr<BinnedMatrix> FeatureBinning::Transform(const Eigen::Ref<const RowMatrix>& X,
                                                       const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (X.cols() != num_features()) {
    return absl::InvalidArgumentError(absl::StrCat("X has ", X.cols(), " features, the binning was fitted on ", num_features()));
  }
  BinnedMatrix binned;
  binned.num_rows = X.rows();
  binned.num_features = num_features();
  binned.codes.resize(static_cast<std::size_t>(X.rows() * X.cols()));
  std::vector<absl::Status> chunk_status(static_cast<std::size_t>(internal::NumChunks(X.rows(), kTransformChunk)));
  const std::int32_t p = binned.num_features;
  // Feature by feature within a chunk of rows small enough for the cache: one feature's bounds
  // stay in L1 while its column is binned.
  (void)internal::ParallelForChunks(options.num_threads, X.rows(), kTransformChunk, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
    std::uint8_t* codes = binned.codes.data();
    for (std::int32_t j = 0; j < p; ++j) {
      if (categorical_[static_cast<std::size_t>(j)]) {
        for (std::int64_t i = begin; i < end; ++i) {
          const double v = X(i, j);
          if (absl::Status s = CheckCategory(v, j); !s.ok()) {
            chunk_status[static_cast<std::size_t>(chunk)] = absl::InvalidArgumentError(absl::StrCat("row ", i, ": ", s.message()));
            return;
          }
          codes[i * p + j] = BinOf(j, v);
        }
        continue;
      }
      const std::vector<double>& bounds = upper_bounds_[static_cast<std::size_t>(j)];
      for (std::int64_t i = begin; i < end; ++i) {
        const double v = X(i, j);
        codes[i * p + j] = std::isnan(v) ? static_cast<std::uint8_t>(kMissingBin) : NumericBin(bounds, v);
      }
    }
  });
  for (const absl::Status& s : chunk_status) COMPTOIR_RETURN_IF_ERROR(s);
  return binned;
}

}  // namespace comptoir::trees
