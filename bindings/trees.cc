// Gradient-boosted trees.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "comptoir/trees/gradient_boosting.h"
#include "arrays.h"
#include "drift.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

trees::Objective ObjectiveOf(const std::string& name) {
  if (name == "binary") return trees::Objective::kBinaryLogLoss;
  if (name == "squared_error") return trees::Objective::kSquaredError;
  if (name == "poisson") return trees::Objective::kPoisson;
  if (name == "tweedie") return trees::Objective::kTweedie;
  throw py::value_error("objective must be 'binary', 'squared_error', 'poisson' or 'tweedie', got '" + name + "'");
}

const char* ObjectiveName(trees::Objective objective) {
  switch (objective) {
    case trees::Objective::kBinaryLogLoss: return "binary";
    case trees::Objective::kSquaredError: return "squared_error";
    case trees::Objective::kPoisson: return "poisson";
    case trees::Objective::kTweedie: return "tweedie";
  }
  return "";
}

}  // namespace

void RegisterTrees(py::module_& m) {
  py::module_ trees_module = m.def_submodule("trees", "gradient-boosted trees");
  using trees::GradientBoosting;
  auto gradient_boosting = py::class_<GradientBoosting>(trees_module, "GradientBoosting")
      .def_static(
          "fit",
          [](const Array<double>& X, const Array<double>& y, const std::optional<Array<double>>& sample_weight,
             const std::optional<Array<double>>& X_validation, const std::optional<Array<double>>& y_validation,
             const std::string& objective, double tweedie_power, std::int32_t num_trees, double learning_rate,
             std::int32_t num_leaves, std::int32_t max_depth, std::int32_t min_samples_leaf, double min_hessian_leaf,
             double l2, double min_split_gain, double categorical_smoothing, std::int32_t min_samples_category,
             double row_subsample, double feature_subsample, std::int32_t early_stopping_rounds, std::int32_t max_bins,
             std::vector<std::int32_t> categorical_features, int num_threads, std::uint64_t seed, const py::object& on_progress) {
            trees::GradientBoostingConfig config;
            config.objective = ObjectiveOf(objective);
            config.tweedie_power = tweedie_power;
            config.num_trees = num_trees;
            config.learning_rate = learning_rate;
            config.num_leaves = num_leaves;
            config.max_depth = max_depth;
            config.min_samples_leaf = min_samples_leaf;
            config.min_hessian_leaf = min_hessian_leaf;
            config.l2 = l2;
            config.min_split_gain = min_split_gain;
            config.categorical_smoothing = categorical_smoothing;
            config.min_samples_category = min_samples_category;
            config.row_subsample = row_subsample;
            config.feature_subsample = feature_subsample;
            config.early_stopping_rounds = early_stopping_rounds;
            config.binning.max_bins = max_bins;
            config.binning.categorical_features = std::move(categorical_features);
            const auto matrix = MatrixOf(X);
            const RowMatrixD no_rows(0, matrix.cols());
            const auto validation = X_validation ? MatrixOf(*X_validation) : Eigen::Map<const RowMatrixD>(no_rows.data(), 0, matrix.cols());
            ExecutionOptions options = ThreadOptions(num_threads);
            options.seed = seed;
            return RunReleasingGil(
                [&](ProgressCallback progress) {
                  options.progress = std::move(progress);
                  return GradientBoosting::Fit(matrix, SpanOf(y), sample_weight ? SpanOf(*sample_weight) : absl::Span<const double>(),
                                               validation, y_validation ? SpanOf(*y_validation) : absl::Span<const double>(), config, options);
                },
                on_progress);
          },
          py::arg("X"), py::arg("y"), py::arg("sample_weight") = py::none(), py::arg("X_validation") = py::none(),
          py::arg("y_validation") = py::none(), py::arg("objective") = "binary", py::arg("tweedie_power") = 1.5,
          py::arg("num_trees") = 100, py::arg("learning_rate") = 0.1, py::arg("num_leaves") = 31, py::arg("max_depth") = 0,
          py::arg("min_samples_leaf") = 20, py::arg("min_hessian_leaf") = 1e-3, py::arg("l2") = 0.0,
          py::arg("min_split_gain") = 0.0, py::arg("categorical_smoothing") = 10.0, py::arg("min_samples_category") = 10,
          py::arg("row_subsample") = 1.0, py::arg("feature_subsample") = 1.0, py::arg("early_stopping_rounds") = 0,
          py::arg("max_bins") = 256, py::arg("categorical_features") = std::vector<std::int32_t>{}, py::arg("num_threads") = 0,
          py::arg("seed") = 42, py::arg("on_progress") = py::none())
      .def("predict_raw", [](const GradientBoosting& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return ToNumpy(RunReleasingGil([&](ProgressCallback) { return self.PredictRaw(matrix, ThreadOptions(num_threads)); }));
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("predict", [](const GradientBoosting& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return ToNumpy(RunReleasingGil([&](ProgressCallback) { return self.Predict(matrix, ThreadOptions(num_threads)); }));
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("contributions", [](const GradientBoosting& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.Contributions(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def_property_readonly("objective", [](const GradientBoosting& self) { return ObjectiveName(self.objective()); })
      .def_property_readonly("num_trees", &GradientBoosting::num_trees)
      .def_property_readonly("num_features", &GradientBoosting::num_features)
      .def_property_readonly("base_score", &GradientBoosting::base_score)
      .def_property_readonly("validation_loss", [](const GradientBoosting& self) { return ToNumpy(std::vector<double>(self.validation_loss())); })
      .def_property_readonly("feature_importance", [](const GradientBoosting& self) { return ToNumpy(std::vector<double>(self.feature_importance())); })
      .def_property(
          "feature_names", &GradientBoosting::feature_names,
          [](GradientBoosting& self, std::vector<std::string> names) { ThrowIfError(self.set_feature_names(std::move(names))); })
      .def("to_bytes", [](const GradientBoosting& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      })
      .def_static("from_bytes", [](const py::bytes& data) {
        return ValueOrThrow(GradientBoosting::FromModelFile(ValueOrThrow(io::ParseModelFile(std::string_view(data)))));
      });
  DefTrainingProfile<GradientBoosting>(gradient_boosting);
}

}  // namespace comptoir::python
