// Behaviour features and labels from event columns.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "comptoir/features/behaviour.h"
#include "comptoir/features/drift.h"
#include "comptoir/features/repurchase.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

template <typename T>
std::vector<T> Column(const CArray<T>& array) {
  return std::vector<T>(array.data(), array.data() + array.size());
}

// The features need owned columns in the EventColumns shape; event-kind codes are checked there.
data::EventColumns ToColumns(const CArray<std::int64_t>& session, const CArray<std::int32_t>& user,
                             const CArray<std::int32_t>& item, const CArray<std::int64_t>& timestamp,
                             const CArray<std::uint8_t>& kind, const CArray<float>& value,
                             const std::optional<CArray<float>>& quantity) {
  data::EventColumns events;
  events.session = Column(session);
  events.user = Column(user);
  events.item = Column(item);
  events.timestamp = Column(timestamp);
  events.kind.resize(static_cast<std::size_t>(kind.size()));
  std::copy_n(reinterpret_cast<const data::EventKind*>(kind.data()), kind.size(), events.kind.begin());
  events.value = Column(value);
  if (quantity) events.quantity = Column(*quantity);
  return events;
}

py::array_t<float> MatrixArray(features::FeatureMatrix&& matrix) {
  const auto shape = std::vector<py::ssize_t>{static_cast<py::ssize_t>(matrix.rows), static_cast<py::ssize_t>(matrix.names.size())};
  return MoveToNumpy(std::move(matrix.values), shape);
}

}  // namespace

void RegisterFeatures(py::module_& m) {
  py::module_ features = m.def_submodule("features", "behaviour features from event logs");
  const auto rows_of = [](const Array<double>& X) {
    if (X.ndim() != 2) throw py::value_error("X must be a 2-D array (rows x features)");
    return features::FeatureRows{SpanOf(X), static_cast<std::int64_t>(X.shape(0)), static_cast<std::int32_t>(X.shape(1))};
  };
  py::class_<features::FeatureProfile>(features, "FeatureProfile")
      .def_static(
          "fit",
          [rows_of](const Array<double>& X, int num_threads) {
            return ValueOrThrow(features::FeatureProfile::Fit(rows_of(X), ThreadOptions(num_threads)));
          },
          py::arg("X"), py::arg("num_threads") = 0)
      .def(
          "population_stability",
          [rows_of](const features::FeatureProfile& self, const Array<double>& X, int num_threads) {
            return ToNumpy(ValueOrThrow(self.PopulationStability(rows_of(X), ThreadOptions(num_threads))));
          },
          py::arg("X"), py::arg("num_threads") = 0)
      .def_property_readonly("num_features", &features::FeatureProfile::num_features)
      .def("to_bytes", [](const features::FeatureProfile& self) { return py::bytes(self.Serialize()); })
      .def_static("from_bytes", [](const py::bytes& data) { return ValueOrThrow(features::FeatureProfile::Parse(std::string(data))); })
      .def(py::pickle([](const features::FeatureProfile& self) { return py::bytes(self.Serialize()); },
                      [](const py::bytes& data) { return ValueOrThrow(features::FeatureProfile::Parse(std::string(data))); }));
  features.attr("SIGNIFICANT_DRIFT") = features::kSignificantDrift;
  features.def(
      "behaviour_features",
      [](const CArray<std::int64_t>& session, const CArray<std::int32_t>& user, const CArray<std::int32_t>& item,
         const CArray<std::int64_t>& timestamp, const CArray<std::uint8_t>& kind, const CArray<float>& value,
         const std::optional<CArray<float>>& quantity, std::int32_t num_users, std::int64_t snapshot_timestamp,
         const std::vector<std::int32_t>& window_days, const std::optional<CArray<std::int32_t>>& item_category,
         const std::optional<CArray<float>>& customer_attributes, int num_threads, const py::object& on_progress) {
        const data::EventColumns events = ToColumns(session, user, item, timestamp, kind, value, quantity);
        features::BehaviourFeatureConfig config;
        config.snapshot_timestamp = snapshot_timestamp;
        config.window_days = window_days;
        std::optional<data::Catalogue> catalogue;
        if (item_category) {
          catalogue.emplace();
          catalogue->category = Column(*item_category);
        }
        std::optional<data::Customers> customers;
        if (customer_attributes) {
          if (customer_attributes->ndim() != 2) throw py::value_error("customer_attributes must be 2-D (users x attributes)");
          customers.emplace();
          customers->num_attributes = static_cast<std::int32_t>(customer_attributes->shape(1));
          customers->attributes = Column(*customer_attributes);
        }
        ExecutionOptions options;
        options.num_threads = num_threads;
        features::FeatureMatrix matrix = RunReleasingGil(
            [&](ProgressCallback progress) {
              options.progress = std::move(progress);
              return features::BuildBehaviourFeatures(events, num_users, config, catalogue ? &*catalogue : nullptr,
                                                      customers ? &*customers : nullptr, options);
            },
            on_progress);
        std::vector<std::string> names = matrix.names;
        return py::make_tuple(MatrixArray(std::move(matrix)), names);
      },
      py::arg("session"), py::arg("user"), py::arg("item"), py::arg("timestamp"), py::arg("kind"), py::arg("value"),
      py::arg("quantity"), py::arg("num_users"), py::arg("snapshot_timestamp"), py::arg("window_days"),
      py::arg("item_category") = py::none(), py::arg("customer_attributes") = py::none(), py::arg("num_threads") = 0,
      py::arg("on_progress") = py::none());
  features.def(
      "purchase_labels",
      [](const CArray<std::int64_t>& session, const CArray<std::int32_t>& user, const CArray<std::int32_t>& item,
         const CArray<std::int64_t>& timestamp, const CArray<std::uint8_t>& kind, const CArray<float>& value,
         std::int32_t num_users, std::int64_t snapshot_timestamp, std::int32_t horizon_days) {
        const data::EventColumns events = ToColumns(session, user, item, timestamp, kind, value, std::nullopt);
        features::PurchaseLabels labels =
            ValueOrThrow(features::BuildPurchaseLabels(events, num_users, snapshot_timestamp, horizon_days));
        return py::make_tuple(CArray<std::uint8_t>(static_cast<py::ssize_t>(labels.purchased.size()), labels.purchased.data()),
                              CArray<float>(static_cast<py::ssize_t>(labels.spend.size()), labels.spend.data()));
      },
      py::arg("session"), py::arg("user"), py::arg("item"), py::arg("timestamp"), py::arg("kind"), py::arg("value"),
      py::arg("num_users"), py::arg("snapshot_timestamp"), py::arg("horizon_days"));
  features.def(
      "repurchase_timing",
      [](const CArray<std::int64_t>& session, const CArray<std::int32_t>& user, const CArray<std::int32_t>& item,
         const CArray<std::int64_t>& timestamp, const CArray<std::uint8_t>& kind, std::int64_t snapshot_timestamp,
         std::int32_t horizon_days, const std::optional<CArray<std::int32_t>>& item_category,
         double continuation_prior_strength, std::int32_t min_key_gaps, double merge_within_days) {
        data::EventColumns events = ToColumns(session, user, item, timestamp, kind,
                                              CArray<float>(static_cast<py::ssize_t>(item.size())), std::nullopt);
        features::RepurchaseConfig config;
        config.snapshot_timestamp = snapshot_timestamp;
        config.horizon_days = horizon_days;
        config.by_category = item_category.has_value();
        config.continuation_prior_strength = continuation_prior_strength;
        config.min_key_gaps = min_key_gaps;
        config.merge_within_days = merge_within_days;
        data::Catalogue catalogue;
        if (item_category) catalogue.category = Column(*item_category);
        std::vector<features::RepurchaseEstimate> estimates;
        absl::StatusOr<std::vector<features::RepurchaseEstimate>> result;
        {
          py::gil_scoped_release release;
          result = features::EstimateRepurchase(events, item_category ? &catalogue : nullptr, config);
        }
        estimates = ValueOrThrow(std::move(result));
        const auto n = static_cast<py::ssize_t>(estimates.size());
        CArray<std::int32_t> users(n), keys(n), purchases(n);
        CArray<std::int64_t> last(n), due(n);
        CArray<double> cycle(n), spread(n), continuation(n), probability(n);
        for (py::ssize_t i = 0; i < n; ++i) {
          const features::RepurchaseEstimate& e = estimates[static_cast<std::size_t>(i)];
          users.mutable_at(i) = e.user, keys.mutable_at(i) = e.key, purchases.mutable_at(i) = e.purchases;
          last.mutable_at(i) = e.last_purchase, due.mutable_at(i) = e.due_timestamp;
          cycle.mutable_at(i) = e.cycle_days, spread.mutable_at(i) = e.cycle_log_sd;
          continuation.mutable_at(i) = e.continuation, probability.mutable_at(i) = e.probability_within_horizon;
        }
        py::dict out;
        out["user"] = users, out["key"] = keys, out["purchases"] = purchases;
        out["last_purchase"] = last, out["due_timestamp"] = due, out["cycle_days"] = cycle;
        out["cycle_log_sd"] = spread, out["continuation"] = continuation;
        out["probability_within_horizon"] = probability;
        return out;
      },
      py::arg("session"), py::arg("user"), py::arg("item"), py::arg("timestamp"), py::arg("kind"),
      py::arg("snapshot_timestamp"), py::arg("horizon_days"), py::arg("item_category") = py::none(),
      py::arg("continuation_prior_strength") = 2.0, py::arg("min_key_gaps") = 5, py::arg("merge_within_days") = 1.0);
}

}  // namespace comptoir::python
