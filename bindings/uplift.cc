// Uplift trees, forests and the meta-learner composites.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "comptoir/uplift/forest.h"
#include "comptoir/uplift/meta_learners.h"
#include "arrays.h"
#include "drift.h"
#include "schema.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

uplift::MetaLearnerType LearnerOf(const std::string& kind) {
  for (const auto learner : {uplift::MetaLearnerType::kSLearner, uplift::MetaLearnerType::kTLearner,
                             uplift::MetaLearnerType::kXLearner, uplift::MetaLearnerType::kDRLearner,
                             uplift::MetaLearnerType::kClassTransformation}) {
    if (kind == uplift::MetaLearner::KindOf(learner)) return learner;
  }
  throw py::value_error("learner must be 's_learner', 't_learner', 'x_learner', 'dr_learner' or 'class_transformation', got '" +
                        kind + "'");
}

TypedValues StringLabels(std::vector<std::string> names) {
  TypedValues labels;
  labels.type = names.empty() ? TypedValues::Type::kUnspecified : TypedValues::Type::kString;
  labels.values = std::move(names);
  return labels;
}

// What both uplift model classes serve: names through their schema, effects, reasons, bytes.
template <typename Model, typename Class>
void DefUpliftModel(Class& cls) {
  DefSchema<Model>(cls);
  cls.def_property(
         "feature_names", [](const Model& self) { return self.schema().feature_names; },
         [](Model& self, std::vector<std::string> names) {
           if (static_cast<std::int32_t>(names.size()) != self.num_features()) {
             throw py::value_error(std::to_string(names.size()) + " feature names for " + std::to_string(self.num_features()) +
                                   " features");
           }
           FeatureSchema schema = self.schema();
           schema.feature_names = std::move(names);
           ThrowIfError(self.set_schema(std::move(schema)));
         })
      .def_property(
          "arm_names", [](const Model& self) { return self.schema().arm_names.values; },
          [](Model& self, std::vector<std::string> names) {
            FeatureSchema schema = self.schema();
            schema.arm_names = StringLabels(std::move(names));
            ThrowIfError(self.set_schema(std::move(schema)));
          },
          "control first, then each offer (strings)")
      .def_property_readonly("num_features", &Model::num_features)
      .def_property_readonly("num_offers", &Model::num_offers)
      .def("predict", [](const Model& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.Effect(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("contributions", [](const Model& self, const Array<double>& X, std::int32_t offer, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.Contributions(matrix, offer, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("offer"), py::arg("num_threads") = 0)
      .def("to_bytes", [](const Model& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      })
      .def_static("from_bytes", [](const py::bytes& data) {
        return ValueOrThrow(Model::FromModelFile(ValueOrThrow(io::ParseModelFile(std::string_view(data)))));
      });
  DefTrainingProfile<Model>(cls);
}

}  // namespace

void RegisterUplift(py::module_& m) {
  py::module_ module = m.def_submodule("uplift", "uplift trees, forests and meta-learners");
  using uplift::UpliftForest;
  using uplift::UpliftForestConfig;

  py::enum_<uplift::SplitCriterion>(module, "SplitCriterion")
      .value("KL", uplift::SplitCriterion::kKL)
      .value("ED", uplift::SplitCriterion::kEuclidean)
      .value("Chi", uplift::SplitCriterion::kChi)
      .value("DDP", uplift::SplitCriterion::kDDP);

  // Set by field name; the names are UpliftRandomForest's kwargs.
  py::class_<UpliftForestConfig>(module, "UpliftForestConfig")
      .def(py::init<>())
      .def_readwrite("criterion", &UpliftForestConfig::criterion)
      .def_readwrite("n_estimators", &UpliftForestConfig::n_estimators)
      .def_readwrite("max_depth", &UpliftForestConfig::max_depth)
      .def_readwrite("min_samples_leaf", &UpliftForestConfig::min_samples_leaf)
      .def_readwrite("min_samples_treatment", &UpliftForestConfig::min_samples_treatment)
      .def_readwrite("n_reg", &UpliftForestConfig::n_reg)
      .def_readwrite("max_features", &UpliftForestConfig::max_features, "0: the square root of the feature count")
      .def_readwrite("bootstrap", &UpliftForestConfig::bootstrap)
      .def_readwrite("honest", &UpliftForestConfig::honest)
      .def_property(
          "max_bins", [](const UpliftForestConfig& c) { return c.binning.max_bins; },
          [](UpliftForestConfig& c, std::int32_t bins) { c.binning.max_bins = bins; })
      .def_property(
          "sample_rows", [](const UpliftForestConfig& c) { return c.binning.sample_rows; },
          [](UpliftForestConfig& c, std::int64_t rows) { c.binning.sample_rows = rows; });

  auto forest = py::class_<UpliftForest>(module, "UpliftForest")
      .def_static(
          "fit",
          [](const Array<double>& X, const Array<std::int32_t>& treatment, const Array<double>& y,
             const UpliftForestConfig& config, int num_threads, std::uint64_t seed, const py::object& on_progress) {
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
          py::arg("X"), py::arg("treatment"), py::arg("y"), py::arg("config"), py::arg("num_threads") = 0,
          py::arg("seed") = 42, py::arg("on_progress") = py::none())
      .def("predict_arm_outcomes", [](const UpliftForest& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.PredictArmOutcomes(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def_property_readonly("config", &UpliftForest::config)
      .def_property_readonly("num_trees", &UpliftForest::num_trees)
      .def_property_readonly("feature_importance", [](const UpliftForest& self) { return ToNumpy(std::vector<double>(self.feature_importance())); });
  DefUpliftModel<UpliftForest>(forest);

  using uplift::MetaLearner;
  auto meta = py::class_<MetaLearner>(module, "MetaLearner",
                                      "S-, T-, X-, DR-learner or class transformation over nested model files")
      .def_static(
          "create",
          [](const std::string& learner, const std::vector<py::bytes>& parts, bool binary_outcome, std::int32_t num_arms,
             std::vector<double> blend, std::vector<std::string> feature_names, std::vector<std::string> arm_names) {
            uplift::MetaLearnerSpec spec;
            spec.learner = LearnerOf(learner);
            spec.binary_outcome = binary_outcome;
            spec.num_arms = num_arms;
            spec.blend = std::move(blend);
            std::vector<std::string> bytes;
            for (const py::bytes& part : parts) bytes.emplace_back(part);
            FeatureSchema schema;
            schema.feature_names = std::move(feature_names);
            schema.arm_names = StringLabels(std::move(arm_names));
            return ValueOrThrow(MetaLearner::Create(spec, std::move(bytes), std::move(schema)));
          },
          py::arg("learner"), py::arg("parts"), py::arg("binary_outcome"), py::arg("num_arms"),
          py::arg("blend") = std::vector<double>{}, py::arg("feature_names") = std::vector<std::string>{},
          py::arg("arm_names") = std::vector<std::string>{})
      .def_property_readonly("kind", [](const MetaLearner& self) { return std::string(MetaLearner::KindOf(self.spec().learner)); })
      .def_property_readonly("binary_outcome", [](const MetaLearner& self) { return self.spec().binary_outcome; })
      .def_property_readonly("num_arms", [](const MetaLearner& self) { return self.spec().num_arms; })
      .def_property_readonly("blend", [](const MetaLearner& self) { return self.spec().blend; })
      .def_property_readonly("num_parts", &MetaLearner::num_parts)
      .def("part_bytes", [](const MetaLearner& self, std::int32_t k) {
        if (k < 0 || k >= self.num_parts()) throw py::index_error("no part " + std::to_string(k));
        return py::bytes(self.part_bytes(k));
      }, py::arg("k"))
      .def("predict_arm_outcomes", [](const MetaLearner& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.ArmOutcomes(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0);
  DefUpliftModel<MetaLearner>(meta);
}

}  // namespace comptoir::python
