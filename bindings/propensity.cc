// Propensity models, calibration and binary metrics.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include "comptoir/eval/binary.h"
#include "comptoir/propensity/calibration.h"
#include "comptoir/propensity/logistic.h"
#include "arrays.h"
#include "drift.h"
#include "internal/registry.h"
#include "schema.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

using propensity::CalibratedClassifier;
using propensity::IsotonicCalibration;
using propensity::LogisticRegression;
using propensity::LogisticRegressionConfig;
using propensity::PlattScaling;

void RegisterLogisticConfig(py::module_& prop) {
  using Penalty = LogisticRegressionConfig::Penalty;
  py::class_<LogisticRegressionConfig>(prop, "LogisticRegressionConfig")
      .def(py::init<>())
      .def_readwrite("C", &LogisticRegressionConfig::C)
      .def_property(
          "penalty", [](const LogisticRegressionConfig& c) { return c.penalty == Penalty::kL1 ? "l1" : "l2"; },
          [](LogisticRegressionConfig& c, const std::string& name) {
            if (name != "l1" && name != "l2") throw py::value_error("penalty must be 'l1' or 'l2', got '" + name + "'");
            c.penalty = name == "l1" ? Penalty::kL1 : Penalty::kL2;
          })
      .def_readwrite("fit_intercept", &LogisticRegressionConfig::fit_intercept)
      .def_readwrite("max_iter", &LogisticRegressionConfig::max_iter)
      .def_readwrite("tol", &LogisticRegressionConfig::tol);
}

template <typename Calibrator>
void DefCalibrator(py::class_<Calibrator>& cls) {
  cls.def_static("fit", [](const Array<double>& scores, const Array<std::uint8_t>& y) {
        return ValueOrThrow(Calibrator::Fit(SpanOf(scores), SpanOf(y)));
      })
      .def("calibrate", [](const Calibrator& self, const Array<double>& scores) {
        std::vector<double> out(static_cast<std::size_t>(scores.size()));
        for (py::ssize_t i = 0; i < scores.size(); ++i) out[static_cast<std::size_t>(i)] = self.Calibrate(scores.data()[i]);
        return ToNumpy(std::move(out));
      })
      .def("to_bytes", [](const Calibrator& self) { return py::bytes(self.Serialize()); })
      .def_static("from_bytes", [](const py::bytes& data) { return ValueOrThrow(Calibrator::Parse(std::string_view(data))); })
      .def(py::pickle([](const Calibrator& self) { return py::bytes(self.Serialize()); },
                      [](const py::bytes& data) { return ValueOrThrow(Calibrator::Parse(std::string_view(data))); }));
}

void RegisterCalibration(py::module_& prop) {
  auto platt = py::class_<PlattScaling>(prop, "PlattScaling");
  DefCalibrator(platt);
  platt.def_property_readonly("a", &PlattScaling::a).def_property_readonly("b", &PlattScaling::b);
  auto isotonic = py::class_<IsotonicCalibration>(prop, "IsotonicCalibration");
  DefCalibrator(isotonic);
  isotonic.def_property_readonly("thresholds", [](const IsotonicCalibration& self) { return ToNumpy(std::vector<double>(self.thresholds())); })
      .def_property_readonly("values", [](const IsotonicCalibration& self) { return ToNumpy(std::vector<double>(self.values())); });
  prop.def("fit_platt", [](const Array<double>& scores, const Array<std::uint8_t>& y) {
    const PlattScaling fitted = ValueOrThrow(PlattScaling::Fit(SpanOf(scores), SpanOf(y)));
    return py::make_tuple(fitted.a(), fitted.b());
  });

  // The serving side of comptoir.propensity.CalibratedClassifier: built from the base model's file
  // bytes and a fitted calibrator.
  auto calibrated = py::class_<CalibratedClassifier>(prop, "CalibratedClassifier")
      .def_static("create", [](const py::bytes& base_bytes, const py::object& calibrator) {
        std::shared_ptr<const Scorer> base = ValueOrThrow(internal::LoadNestedScorer(std::string_view(base_bytes), "calibrated base model"));
        if (py::isinstance<IsotonicCalibration>(calibrator)) {
          return ValueOrThrow(CalibratedClassifier::Create(std::move(base), calibrator.cast<IsotonicCalibration>()));
        }
        return ValueOrThrow(CalibratedClassifier::Create(std::move(base), calibrator.cast<PlattScaling>()));
      }, py::arg("base_bytes"), py::arg("calibrator"))
      .def_property_readonly("method", [](const CalibratedClassifier& self) {
        return self.method() == CalibratedClassifier::Method::kIsotonic ? "isotonic" : "sigmoid";
      })
      .def_property_readonly("calibrator", [](const CalibratedClassifier& self) -> py::object {
        return std::visit([](const auto& map) { return py::cast(map); }, self.calibrator());
      })
      .def_property_readonly("num_features", &CalibratedClassifier::num_features)
      .def_property_readonly("schema", [](const CalibratedClassifier& self) { return SchemaToDict(self.schema()); })
      .def("base_bytes", [](const CalibratedClassifier& self) {
        return py::bytes(ValueOrThrow(internal::SerializePart(self.base().ToModelFile())));
      })
      .def("to_bytes", [](const CalibratedClassifier& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      })
      .def_static("from_bytes", [](const py::bytes& data) {
        return ValueOrThrow(CalibratedClassifier::FromModelFile(ValueOrThrow(io::ParseModelFile(std::string_view(data)))));
      });
  DefScorer<CalibratedClassifier>(calibrated);
}

}  // namespace

void RegisterPropensity(py::module_& m) {
  py::module_ prop = m.def_submodule("propensity", "propensity models and calibration");
  RegisterLogisticConfig(prop);
  auto logistic = py::class_<LogisticRegression>(prop, "LogisticRegression")
      .def_static(
          "fit",
          [](const Array<double>& X, const Array<std::uint8_t>& y, const std::optional<Array<double>>& sample_weight,
             const LogisticRegressionConfig& config, int num_threads, const py::object& on_progress) {
            const auto matrix = MatrixOf(X);
            ExecutionOptions options = ThreadOptions(num_threads);
            return RunReleasingGil(
                [&](ProgressCallback progress) {
                  options.progress = std::move(progress);
                  return LogisticRegression::Fit(matrix, SpanOf(y), sample_weight ? SpanOf(*sample_weight) : absl::Span<const double>(),
                                                 config, options);
                },
                on_progress);
          },
          py::arg("X"), py::arg("y"), py::arg("sample_weight") = py::none(), py::arg("config") = LogisticRegressionConfig{},
          py::arg("num_threads") = 0, py::arg("on_progress") = py::none())
      .def_property_readonly("config", [](const LogisticRegression& self) { return LogisticRegressionConfig(self.config()); })
      .def_property_readonly("coefficients", [](const propensity::LogisticRegression& self) { return Eigen::VectorXd(self.coefficients()); })
      .def_property_readonly("intercept", &propensity::LogisticRegression::intercept)
      .def_property(
          "feature_names", &propensity::LogisticRegression::feature_names,
          [](propensity::LogisticRegression& self, std::vector<std::string> names) { ThrowIfError(self.set_feature_names(std::move(names))); })
      .def_property_readonly("objective", &propensity::LogisticRegression::objective)
      .def_property_readonly("iterations", &propensity::LogisticRegression::iterations)
      .def("decision_function", [](const propensity::LogisticRegression& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        ExecutionOptions options;
        options.num_threads = num_threads;
        return ToNumpy(RunReleasingGil([&](ProgressCallback) { return self.DecisionFunction(matrix, options); }));
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("to_bytes", [](const propensity::LogisticRegression& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      })
      .def_static("from_bytes", [](const py::bytes& data) {
        return ValueOrThrow(propensity::LogisticRegression::FromModelFile(ValueOrThrow(io::ParseModelFile(std::string_view(data)))));
      });
  DefTrainingProfile<LogisticRegression>(logistic);
  DefSchema<LogisticRegression>(logistic);
  DefScorer<LogisticRegression>(logistic);
  RegisterCalibration(prop);

  py::module_ metrics = m.def_submodule("binary_metrics", "metrics for probabilities against 0/1 outcomes");
  metrics.def("roc_auc", [](const Array<double>& s, const Array<std::uint8_t>& y) { return ValueOrThrow(eval::RocAuc(SpanOf(s), SpanOf(y))); });
  metrics.def("average_precision", [](const Array<double>& s, const Array<std::uint8_t>& y) { return ValueOrThrow(eval::AveragePrecision(SpanOf(s), SpanOf(y))); });
  metrics.def("log_loss", [](const Array<double>& p, const Array<std::uint8_t>& y) { return ValueOrThrow(eval::LogLoss(SpanOf(p), SpanOf(y))); });
  metrics.def("brier", [](const Array<double>& p, const Array<std::uint8_t>& y) { return ValueOrThrow(eval::BrierScore(SpanOf(p), SpanOf(y))); });
  metrics.def("reliability", [](const Array<double>& p, const Array<std::uint8_t>& y, std::int32_t bins) {
    const eval::ReliabilityCurve c = ValueOrThrow(eval::Reliability(SpanOf(p), SpanOf(y), bins));
    py::dict out;
    out["mean_predicted"] = ToNumpy(c.mean_predicted);
    out["observed_rate"] = ToNumpy(c.observed_rate);
    out["count"] = c.count;
    out["expected_calibration_error"] = c.expected_calibration_error;
    return out;
  }, py::arg("probabilities"), py::arg("labels"), py::arg("bins") = 10);
  metrics.def("lift_and_gain", [](const Array<double>& s, const Array<std::uint8_t>& y, std::int32_t groups) {
    const eval::GainTable t = ValueOrThrow(eval::LiftAndGain(SpanOf(s), SpanOf(y), groups));
    return py::make_tuple(ToNumpy(t.lift), ToNumpy(t.cumulative_gain));
  }, py::arg("scores"), py::arg("labels"), py::arg("groups") = 10);
}

}  // namespace comptoir::python
