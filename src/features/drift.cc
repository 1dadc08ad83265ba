#include "comptoir/features/drift.h"

#include <algorithm>
#include <cmath>

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

// Every `stride`-th row, so that a sample spans the whole file (files are often sorted by date).
std::int64_t StrideFor(std::int64_t num_rows, std::int64_t max_rows) {
  return std::max<std::int64_t>(1, (num_rows + std::max<std::int64_t>(max_rows, 1) - 1) / std::max<std::int64_t>(max_rows, 1));
}

// Shares of the sampled rows of feature j in each bin of `edges` (then missing).
std::vector<double> SharesOf(const FeatureRows& rows, std::int32_t j, std::int64_t stride, const std::vector<double>& edges) {
  std::vector<double> shares(edges.size() + 2, 0.0);
  std::int64_t sampled = 0;
  for (std::int64_t r = 0; r < rows.num_rows; r += stride, ++sampled) {
    const double v = rows.values[static_cast<std::size_t>(r) * rows.num_features + j];
    const std::size_t bin = std::isnan(v) ? edges.size() + 1
                                          : static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
    shares[bin] += 1;
  }
  for (double& s : shares) s /= static_cast<double>(sampled);
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
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(options.num_threads, rows.num_features, 1, [&](std::int64_t j, std::int64_t, std::int64_t) {
    std::vector<double> present;
    for (std::int64_t r = 0; r < rows.num_rows; r += stride) {
      const double v = rows.values[static_cast<std::size_t>(r) * rows.num_features + j];
      if (!std::isnan(v)) present.push_back(v);
    }
    std::sort(present.begin(), present.end());
    std::vector<double>& edges = profile.edges_[j];
    for (int decile = 1; decile <= 9 && !present.empty(); ++decile) {
      const double edge = present[static_cast<std::size_t>(decile * (present.size() - 1) / 10)];
      if (edges.empty() || edge > edges.back()) edges.push_back(edge);
    }
    profile.shares_[j] = SharesOf(rows, static_cast<std::int32_t>(j), stride, edges);
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
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(options.num_threads, rows.num_features, 1, [&](std::int64_t j, std::int64_t, std::int64_t) {
    const std::vector<double> now = SharesOf(rows, static_cast<std::int32_t>(j), stride, edges_[j]);
    for (std::size_t b = 0; b < now.size(); ++b) {
      const double p = std::max(shares_[j][b], 1e-4), q = std::max(now[b], 1e-4);
      psi[j] += (q - p) * std::log(q / p);
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
