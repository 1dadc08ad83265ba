// Has the scoring data drifted from what a model was trained on? A FeatureProfile records, per
// feature, the training rows' decile edges and the share of rows in each bin (and missing); the
// population stability index of new rows against it, PSI = sum over bins of (q - p) ln(q / p),
// is the usual credit-scoring measure: below 0.1 stable, 0.1 to 0.25 shifting, above 0.25 a
// population the model has not seen. Models store their profile in their model file, so a
// nightly scorer can warn before it scores a broken feature pipeline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"

namespace comptoir::features {

// Rows x features, row-major; NaN = missing.
struct FeatureRows {
  absl::Span<const double> values;
  std::int64_t num_rows = 0;
  std::int32_t num_features = 0;
};

// The drift threshold every caller uses.
inline constexpr double kSignificantDrift = 0.25;

class FeatureProfile {
 public:
  // From at most `max_rows` rows taken at an even stride. A decile's share of 20,000 rows is
  // within 0.5 points of the population's (two standard errors): noise of about 0.001 in a PSI
  // judged against 0.25, for a fraction of a fit's time.
  static absl::StatusOr<FeatureProfile> Fit(const FeatureRows& rows, const ExecutionOptions& options,
                                            std::int64_t max_rows = 20'000);

  // PSI per feature of `rows` (at most `max_rows` of them, at an even stride) against this profile.
  // Shares are floored at 1e-4 so that an empty bin costs a finite amount.
  absl::StatusOr<std::vector<double>> PopulationStability(const FeatureRows& rows, const ExecutionOptions& options,
                                                          std::int64_t max_rows = 20'000) const;

  bool empty() const { return edges_.empty(); }
  std::int32_t num_features() const { return static_cast<std::int32_t>(edges_.size()); }

  // Stored as the blob "training_profile" of a model file; an empty profile writes nothing and a
  // file without the blob reads back an empty profile (files saved before profiles existed). A
  // stored profile of another feature count than the model's is a damaged file.
  absl::Status AddTo(io::ModelFile& file) const;
  static absl::StatusOr<FeatureProfile> FromModelFile(const io::ModelFile& file, std::int32_t num_features);

  std::string Serialize() const;
  static absl::StatusOr<FeatureProfile> Parse(std::string_view bytes);

 private:
  std::vector<std::vector<double>> edges_;   // per feature, strictly increasing
  std::vector<std::vector<double>> shares_;  // per feature: edges + 1 bins, then missing
};

}  // namespace comptoir::features
