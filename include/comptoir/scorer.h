// The serving interfaces of comptoir's tabular models, as a backend sees them after
// comptoir::LoadModel: a Scorer gives a probability (classifiers) or a prediction (regressors) per
// row with per-feature reasons; an UpliftModel gives each offer's effect against control with
// per-feature reasons. Calls are thread-safe on a const model.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/schema.h"

namespace comptoir {

class Scorer {
 public:
  enum class Output : std::int32_t {
    kProbability = 0,  // P(positive class); raw score = log-odds
    kPrediction = 1,   // a regression's prediction; raw score = prediction or log of the mean
  };

  virtual ~Scorer() = default;

  // How a row's score follows from f, the sum of its contributions (base value included).
  enum class Link : std::int32_t {
    kIdentity = 0,  // score = f
    kLogistic = 1,  // score = 1 / (1 + exp(-f))
    kExp = 2,       // score = exp(f)
    kNone = 3,      // no function of f alone (a calibrated model explains its base model's log-odds)
  };

  virtual Output output() const = 0;
  virtual Link link() const = 0;
  virtual std::int32_t num_features() const = 0;
  // Feature names, category levels and (for classifiers) the class labels.
  virtual const FeatureSchema& schema() const = 0;

  // One score per row: the (calibrated) probability of the positive class, or the prediction.
  // InvalidArgument on a feature-count mismatch or values the model cannot take.
  virtual absl::StatusOr<std::vector<double>> Score(const Eigen::Ref<const RowMatrix>& X,
                                                    const ExecutionOptions& options = {}) const = 0;
  // rows x (features + 1): each feature's contribution to the row's raw score, the last column the
  // base value; each row adds up to the raw score. A calibrated model explains the raw score of the
  // model it calibrates (calibration is monotone, so the reasons keep their order and sign).
  virtual absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X,
                                                  const ExecutionOptions& options = {}) const = 0;

  virtual absl::StatusOr<io::ModelFile> ToModelFile() const = 0;
};

class UpliftModel {
 public:
  virtual ~UpliftModel() = default;

  virtual std::int32_t num_features() const = 0;
  // Offers are numbered 1..num_offers(); 0 is control.
  virtual std::int32_t num_offers() const = 0;
  // Feature names, category levels and the arm names (control first).
  virtual const FeatureSchema& schema() const = 0;

  // rows x num_offers(): column k-1 is offer k's expected effect on the outcome against control.
  virtual absl::StatusOr<RowMatrix> Effect(const Eigen::Ref<const RowMatrix>& X,
                                           const ExecutionOptions& options = {}) const = 0;
  // rows x (features + 1) for `offer` in 1..num_offers(): each feature's contribution to that
  // offer's effect, the last column the base value; each row adds up to the effect.
  virtual absl::StatusOr<RowMatrix> Contributions(const Eigen::Ref<const RowMatrix>& X, std::int32_t offer,
                                                  const ExecutionOptions& options = {}) const = 0;

  virtual absl::StatusOr<io::ModelFile> ToModelFile() const = 0;
};

}  // namespace comptoir
