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
#include "schema.h"
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

using Layout = trees::GradientBoostingConfig::HistogramLayout;

Layout LayoutOf(const std::string& name) {
  if (name == "auto") return Layout::kAuto;
  if (name == "dense") return Layout::kDense;
  if (name == "sparse") return Layout::kSparse;
  throw py::value_error("histogram_layout must be 'auto', 'dense' or 'sparse', got '" + name + "'");
}

const char* LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kAuto: return "auto";
    case Layout::kDense: return "dense";
    case Layout::kSparse: return "sparse";
  }
  return "";
}

void RegisterConfig(py::module_& trees_module) {
  using Config = trees::GradientBoostingConfig;
  // One attribute per field, named as the field; the binning's fields sit on the config itself, as
  // they do in the model file's config.
  py::class_<Config>(trees_module, "GradientBoostingConfig")
      .def(py::init<>())
      .def_property(
          "objective", [](const Config& c) { return ObjectiveName(c.objective); },
          [](Config& c, const std::string& name) { c.objective = ObjectiveOf(name); })
      .def_readwrite("power", &Config::power)
      .def_readwrite("n_estimators", &Config::n_estimators)
      .def_readwrite("learning_rate", &Config::learning_rate)
      .def_readwrite("num_leaves", &Config::num_leaves)
      .def_readwrite("max_depth", &Config::max_depth)
      .def_readwrite("min_samples_leaf", &Config::min_samples_leaf)
      .def_readwrite("min_hessian_leaf", &Config::min_hessian_leaf)
      .def_readwrite("l2_regularization", &Config::l2_regularization)
      .def_readwrite("min_split_gain", &Config::min_split_gain)
      .def_readwrite("categorical_smoothing", &Config::categorical_smoothing)
      .def_readwrite("min_samples_category", &Config::min_samples_category)
      .def_readwrite("subsample", &Config::subsample)
      .def_readwrite("colsample", &Config::colsample)
      .def_readwrite("early_stopping", &Config::early_stopping)
      .def_readwrite("n_iter_no_change", &Config::n_iter_no_change)
      .def_property(
          "max_bins", [](const Config& c) { return c.binning.max_bins; },
          [](Config& c, std::int32_t v) { c.binning.max_bins = v; })
      .def_property(
          "categorical_features", [](const Config& c) { return c.binning.categorical_features; },
          [](Config& c, std::vector<std::int32_t> v) { c.binning.categorical_features = std::move(v); })
      .def_property(
          "sample_rows", [](const Config& c) { return c.binning.sample_rows; },
          [](Config& c, std::int64_t v) { c.binning.sample_rows = v; })
      .def_property(
          "histogram_layout", [](const Config& c) { return LayoutName(c.histogram_layout); },
          [](Config& c, const std::string& name) { c.histogram_layout = LayoutOf(name); });
}

}  // namespace

void RegisterTrees(py::module_& m) {
  py::module_ trees_module = m.def_submodule("trees", "gradient-boosted trees");
  using trees::GradientBoosting;
  RegisterConfig(trees_module);
  auto gradient_boosting = py::class_<GradientBoosting>(trees_module, "GradientBoosting")
      .def_static(
          "fit",
          [](const Array<double>& X, const Array<double>& y, const std::optional<Array<double>>& sample_weight,
             const std::optional<Array<double>>& X_validation, const std::optional<Array<double>>& y_validation,
             const trees::GradientBoostingConfig& config, int num_threads, std::uint64_t seed, const py::object& on_progress) {
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
          py::arg("y_validation") = py::none(), py::arg("config") = trees::GradientBoostingConfig{}, py::arg("num_threads") = 0,
          py::arg("seed") = 42, py::arg("on_progress") = py::none())
      .def_property_readonly("config", [](const GradientBoosting& self) { return trees::GradientBoostingConfig(self.config()); })
      .def_property_readonly("seed", &GradientBoosting::seed)
      .def("predict_raw", [](const GradientBoosting& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return ToNumpy(RunReleasingGil([&](ProgressCallback) { return self.PredictRaw(matrix, ThreadOptions(num_threads)); }));
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("predict", [](const GradientBoosting& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return ToNumpy(RunReleasingGil([&](ProgressCallback) { return self.Predict(matrix, ThreadOptions(num_threads)); }));
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
  DefSchema<GradientBoosting>(gradient_boosting);
  DefScorer<GradientBoosting>(gradient_boosting);
}

}  // namespace comptoir::python
