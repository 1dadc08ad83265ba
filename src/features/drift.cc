#include "comptoir/features/drift.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/drift.pb.h"
#include "internal/parallel.h"

namespace comptoir::features {
namespace {

constexpr const char* kBlobName = "training_profile";

absl::Status CheckRows(const FeatureRows& rows) {
  if (rows.num_rows <= 0 || rows.num_features <= 0) return absl::InvalidArgumentError("need at least one row and one feature");
  if (rows.values.size() != static_cast<std::size_t>(rows.num_rows) * static_cast<std::size_t>(rows.num_features)) {
    return absl::InvalidArgumentError(absl::StrCat("expected rows x features = ", rows.num_rows * rows.num_features,
                                                   " values, got ", rows.values.size()));
  }
  return absl::OkStatus();
}

constexpr std::int64_t kFeatureBlock = 8;

// Every `stride`-th row, so that a sample spans the whole file (files are often sorted by date).
std::int64_t StrideFor(std::int64_t num_rows, std::int64_t max_rows) {
  return std::max<std::int64_t>(1, (num_rows + std::max<std::int64_t>(max_rows, 1) - 1) / std::max<std::int64_t>(max_rows, 1));
}

// Features [first, last) of every `stride`-th row, one column each. Rows are read once for the
// whole block: a row's neighbouring features share its cache line.
std::vector<std::vector<double>> SampledColumns(const FeatureRows& rows, std::int64_t stride, std::int64_t first, std::int64_t last) {
  std::vector<std::vector<double>> columns(static_cast<std::size_t>(last - first));
  for (auto& column : columns) column.reserve(static_cast<std::size_t>(rows.num_rows / stride + 1));
  for (std::int64_t r = 0; r < rows.num_rows; r += stride) {
    const double* row = rows.values.data() + static_cast<std::size_t>(r) * rows.num_features;
    for (std::int64_t j = first; j < last; ++j) columns[static_cast<std::size_t>(j - first)].push_back(row[j]);
  }
  return columns;
}

// Shares of a column's values in each bin of `edges` (then missing).
std::vector<double> SharesOf(const std::vector<double>& column, const std::vector<double>& edges) {
  std::vector<double> shares(edges.size() + 2, 0.0);
  for (double v : column) {
    const std::size_t bin = std::isnan(v) ? edges.size() + 1
                                          : static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
    shares[bin] += 1;
  }
  for (double& s : shares) s /= static_cast<double>(column.size());
  return shares;
}

}  // namespace

absl::StatusOr<FeatureProfile> FeatureProfile::Fit(const FeatureRows& rows, const ExecutionOptions& options, std::int64_t max_rows) {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(CheckRows(rows));
  const std::int64_t stride = StrideFor(rows.num_rows, max_rows);
  FeatureProfile profile;
  profile.edges_.resize(static_cast<std::size_t>(rows.num_features));
  profile.shares_.resize(static_cast<std::size_t>(rows.num_features));
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(options.num_threads, rows.num_features, kFeatureBlock, [&](std::int64_t, std::int64_t first, std::int64_t last) {
    const std::vector<std::vector<double>> columns = SampledColumns(rows, stride, first, last);
    for (std::int64_t j = first; j < last; ++j) {
      const std::vector<double>& column = columns[static_cast<std::size_t>(j - first)];
      std::vector<double> present;
      present.reserve(column.size());
      std::copy_if(column.begin(), column.end(), std::back_inserter(present), [](double v) { return !std::isnan(v); });
      // Each decile is selected in what lies above the previous one: no full sort needed.
      std::vector<double>& edges = profile.edges_[j];
      auto below = present.begin();
      for (int decile = 1; decile <= 9 && !present.empty(); ++decile) {
        const auto at = present.begin() + static_cast<std::ptrdiff_t>(decile * (present.size() - 1) / 10);
        std::nth_element(below, at, present.end());
        below = at;
        if (edges.empty() || *at > edges.back()) edges.push_back(*at);
      }
      profile.shares_[j] = SharesOf(column, edges);
    }
  }));
  return profile;
}

absl::StatusOr<std::vector<double>> FeatureProfile::PopulationStability(const FeatureRows& rows, const ExecutionOptions& options,
                                                                        std::int64_t max_rows) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (empty()) return absl::FailedPreconditionError("this model has no training profile (saved before comptoir recorded one)");
  COMPTOIR_RETURN_IF_ERROR(CheckRows(rows));
  if (rows.num_features != num_features()) {
    return absl::InvalidArgumentError(absl::StrCat("rows have ", rows.num_features, " features, the profile ", num_features()));
  }
  const std::int64_t stride = StrideFor(rows.num_rows, max_rows);
  std::vector<double> psi(static_cast<std::size_t>(rows.num_features), 0.0);
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(options.num_threads, rows.num_features, kFeatureBlock, [&](std::int64_t, std::int64_t first, std::int64_t last) {
    const std::vector<std::vector<double>> columns = SampledColumns(rows, stride, first, last);
    for (std::int64_t j = first; j < last; ++j) {
      const std::vector<double> now = SharesOf(columns[static_cast<std::size_t>(j - first)], edges_[j]);
      for (std::size_t b = 0; b < now.size(); ++b) {
        const double p = std::max(shares_[j][b], 1e-4), q = std::max(now[b], 1e-4);
        psi[j] += (q - p) * std::log(q / p);
      }
    }
  }));
  return psi;
}

std::string FeatureProfile::Serialize() const {
  v1::FeatureProfile proto;
  for (std::size_t j = 0; j < edges_.size(); ++j) {
    v1::FeatureProfile::Feature* feature = proto.add_features();
    feature->mutable_edges()->Add(edges_[j].begin(), edges_[j].end());
    feature->mutable_shares()->Add(shares_[j].begin(), shares_[j].end());
  }
  return proto.SerializeAsString();
}

absl::StatusOr<FeatureProfile> FeatureProfile::Parse(std::string_view bytes) {
  v1::FeatureProfile proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MarkModelFormatError(absl::DataLossError("the training profile does not parse"));
  }
  FeatureProfile profile;
  for (const v1::FeatureProfile::Feature& feature : proto.features()) {
    std::vector<double> edges(feature.edges().begin(), feature.edges().end());
    std::vector<double> shares(feature.shares().begin(), feature.shares().end());
    if (shares.size() != edges.size() + 2 || !std::is_sorted(edges.begin(), edges.end())) {
      return MarkModelFormatError(absl::DataLossError("the training profile is inconsistent"));
    }
    profile.edges_.push_back(std::move(edges));
    profile.shares_.push_back(std::move(shares));
  }
  return profile;
}

absl::Status FeatureProfile::AddTo(io::ModelFile& file) const {
  return empty() ? absl::OkStatus() : file.AddBlob(kBlobName, Serialize());
}

absl::StatusOr<FeatureProfile> FeatureProfile::FromModelFile(const io::ModelFile& file, std::int32_t num_features) {
  const absl::StatusOr<std::string_view> bytes = file.Blob(kBlobName);
  if (!bytes.ok()) return FeatureProfile();
  COMPTOIR_ASSIGN_OR_RETURN(FeatureProfile profile, Parse(*bytes));
  if (profile.num_features() != num_features) {
    return MarkModelFormatError(absl::DataLossError(
        absl::StrCat("the training profile has ", profile.num_features(), " features, the model ", num_features)));
  }
  return profile;
}

}  // namespace comptoir::features
