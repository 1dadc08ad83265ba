// Uplift trees and forests.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "comptoir/uplift/forest.h"
#include "arrays.h"
#include "drift.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

uplift::SplitCriterion CriterionOf(const std::string& name) {
  if (name == "KL") return uplift::SplitCriterion::kKL;
  if (name == "ED") return uplift::SplitCriterion::kEuclidean;
  if (name == "Chi") return uplift::SplitCriterion::kChi;
  if (name == "DDP") return uplift::SplitCriterion::kDDP;
  throw py::value_error("criterion must be 'KL', 'ED', 'Chi' or 'DDP', got '" + name + "'");
}

}  // namespace

void RegisterUplift(py::module_& m) {
  py::module_ module = m.def_submodule("uplift", "uplift trees and forests");
  using uplift::UpliftForest;
  auto forest = py::class_<UpliftForest>(module, "UpliftForest")
      .def_static(
          "fit",
          [](const Array<double>& X, const Array<std::int32_t>& treatment, const Array<double>& y, const std::string& criterion,
             std::int32_t num_trees, std::int32_t max_depth, std::int32_t min_samples_leaf, std::int32_t min_samples_treatment,
             double n_reg, double max_features, bool bootstrap, bool honest, std::int32_t max_bins, int num_threads,
             std::uint64_t seed, const py::object& on_progress) {
            uplift::UpliftForestConfig config;
            config.criterion = CriterionOf(criterion);
            config.num_trees = num_trees;
            config.max_depth = max_depth;
            config.min_samples_leaf = min_samples_leaf;
            config.min_samples_treatment = min_samples_treatment;
            config.n_reg = n_reg;
            config.max_features = max_features;
            config.bootstrap = bootstrap;
            config.honest = honest;
            config.binning.max_bins = max_bins;
            const auto matrix = MatrixOf(X);
            ExecutionOptions options = ThreadOptions(num_threads);
            options.seed = seed;
            return RunReleasingGil(
                [&](ProgressCallback progress) {
                  options.progress = std::move(progress);
                  return UpliftForest::Fit(matrix, SpanOf(treatment), SpanOf(y), config, options);
                },
                on_progress);
          },
          py::arg("X"), py::arg("treatment"), py::arg("y"), py::arg("criterion") = "KL", py::arg("num_trees") = 100,
          py::arg("max_depth") = 6, py::arg("min_samples_leaf") = 100, py::arg("min_samples_treatment") = 10,
          py::arg("n_reg") = 100.0, py::arg("max_features") = 0.0, py::arg("bootstrap") = true, py::arg("honest") = false,
          py::arg("max_bins") = 64, py::arg("num_threads") = 0, py::arg("seed") = 42, py::arg("on_progress") = py::none())
      .def("predict", [](const UpliftForest& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.Predict(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("predict_arm_outcomes", [](const UpliftForest& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.PredictArmOutcomes(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("contributions", [](const UpliftForest& self, const Array<double>& X, std::int32_t offer, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.Contributions(matrix, offer, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("offer"), py::arg("num_threads") = 0)
      .def_property_readonly("num_features", &UpliftForest::num_features)
      .def_property_readonly("num_offers", &UpliftForest::num_offers)
      .def_property_readonly("num_trees", &UpliftForest::num_trees)
      .def_property_readonly("feature_importance", [](const UpliftForest& self) { return ToNumpy(std::vector<double>(self.feature_importance())); })
      .def_property(
          "feature_names", &UpliftForest::feature_names,
          [](UpliftForest& self, std::vector<std::string> names) { ThrowIfError(self.set_feature_names(std::move(names))); })
      .def("to_bytes", [](const UpliftForest& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      })
      .def_static("from_bytes", [](const py::bytes& data) {
        return ValueOrThrow(UpliftForest::FromModelFile(ValueOrThrow(io::ParseModelFile(std::string_view(data)))));
      });
  DefTrainingProfile<UpliftForest>(forest);
}

}  // namespace comptoir::python
