// Propensity models, calibration and binary metrics.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "comptoir/eval/binary.h"
#include "comptoir/propensity/logistic.h"
#include "arrays.h"
#include "drift.h"
#include "status_translation.h"

namespace comptoir::python {
void RegisterPropensity(py::module_& m) {
  py::module_ prop = m.def_submodule("propensity", "propensity models and calibration");
  auto logistic = py::class_<propensity::LogisticRegression>(prop, "LogisticRegression")
      .def_static(
          "fit",
          [](const Array<double>& X, const Array<std::uint8_t>& y, const std::optional<Array<double>>& sample_weight,
             double l2, double l1, bool fit_intercept, std::int32_t max_iterations, double tolerance, int num_threads,
             const py::object& on_progress) {
            const auto matrix = MatrixOf(X);
            propensity::LogisticRegressionConfig config{l2, l1, fit_intercept, max_iterations, tolerance};
            ExecutionOptions options;
            options.num_threads = num_threads;
            return RunReleasingGil(
                [&](ProgressCallback progress) {
                  options.progress = std::move(progress);
                  return propensity::LogisticRegression::Fit(
                      matrix, SpanOf(y), sample_weight ? SpanOf(*sample_weight) : absl::Span<const double>(), config, options);
                },
                on_progress);
          },
          py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("l2"), py::arg("l1"), py::arg("fit_intercept"),
          py::arg("max_iterations"), py::arg("tolerance"), py::arg("num_threads") = 0, py::arg("on_progress") = py::none())
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
      .def("contributions", [](const propensity::LogisticRegression& self, const Array<double>& X) {
        return ValueOrThrow(self.Contributions(MatrixOf(X)));
      })
      .def("to_bytes", [](const propensity::LogisticRegression& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      })
      .def_static("from_bytes", [](const py::bytes& data) {
        return ValueOrThrow(propensity::LogisticRegression::FromModelFile(ValueOrThrow(io::ParseModelFile(std::string_view(data)))));
      });
  DefTrainingProfile<propensity::LogisticRegression>(logistic);

  prop.def("fit_platt", [](const Array<double>& scores, const Array<std::uint8_t>& y) {
    const propensity::PlattScaling platt = ValueOrThrow(propensity::PlattScaling::Fit(SpanOf(scores), SpanOf(y)));
    return py::make_tuple(platt.a(), platt.b());
  });
  py::class_<propensity::IsotonicCalibration>(prop, "IsotonicCalibration")
      .def_static("fit", [](const Array<double>& scores, const Array<std::uint8_t>& y) {
        return ValueOrThrow(propensity::IsotonicCalibration::Fit(SpanOf(scores), SpanOf(y)));
      })
      .def("calibrate", [](const propensity::IsotonicCalibration& self, const Array<double>& scores) {
        std::vector<double> out(static_cast<std::size_t>(scores.size()));
        for (py::ssize_t i = 0; i < scores.size(); ++i) out[static_cast<std::size_t>(i)] = self.Calibrate(scores.data()[i]);
        return ToNumpy(std::move(out));
      });

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
