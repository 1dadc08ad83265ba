// The event log: NumPy columns in (read in place when the dtype already matches), NumPy views
// out (they keep the log alive).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comptoir/data/event_log.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

using Log = data::EventLog;

// A read-only NumPy view of a column owned by the log.
template <typename T>
py::array View(const std::shared_ptr<Log>& log, const std::vector<T>& column) {
  py::array_t<T> view(static_cast<py::ssize_t>(column.size()), column.data(), py::cast(log));
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return std::move(view);
}

py::dict Report(const data::BuildReport& report) {
  py::dict out;
  out["rows"] = report.rows;
  out["duplicates_dropped"] = report.duplicates_dropped;
  return out;
}

data::RawEvents Rest(const CArray<std::int64_t>& timestamp, const std::optional<CArray<std::uint8_t>>& kind,
                     const std::optional<CArray<float>>& value, const std::optional<CArray<float>>& quantity) {
  data::RawEvents raw;
  raw.timestamp = absl::Span<const std::int64_t>(timestamp.data(), static_cast<std::size_t>(timestamp.size()));
  raw.kind = SpanOf(kind);
  raw.value = SpanOf(value);
  raw.quantity = SpanOf(quantity);
  return raw;
}

py::object ExternalIds(const data::IdMap& map) {
  if (map.is_string()) {
    py::list ids;
    for (std::int32_t i = 0; i < map.size(); ++i) ids.append(map.StringId(i));
    return std::move(ids);
  }
  CArray<std::int64_t> ids(map.size());
  for (std::int32_t i = 0; i < map.size(); ++i) ids.mutable_at(i) = map.IntId(i);
  return std::move(ids);
}

}  // namespace

void RegisterData(py::module_& m) {
  py::module_ data_module = m.def_submodule("data", "event logs");
  py::class_<Log, std::shared_ptr<Log>>(data_module, "EventLog")
      .def_static(
          "build",
          [](const CArray<std::int64_t>& session, const CArray<std::int64_t>& item, const CArray<std::int64_t>& timestamp,
             const std::optional<CArray<std::int64_t>>& user, const std::optional<CArray<std::uint8_t>>& kind,
             const std::optional<CArray<float>>& value, const std::optional<CArray<float>>& quantity) {
            data::RawEvents raw = Rest(timestamp, kind, value, quantity);
            raw.session = absl::Span<const std::int64_t>(session.data(), static_cast<std::size_t>(session.size()));
            raw.item = absl::Span<const std::int64_t>(item.data(), static_cast<std::size_t>(item.size()));
            raw.user = SpanOf(user);
            data::BuildReport report;
            absl::StatusOr<Log> log;
            {
              py::gil_scoped_release release;
              log = Log::Build(raw, &report);
            }
            return py::make_tuple(std::make_shared<Log>(ValueOrThrow(std::move(log))), Report(report));
          },
          py::arg("session"), py::arg("item"), py::arg("timestamp"), py::arg("user"), py::arg("kind"), py::arg("value"),
          py::arg("quantity"))
      .def_static(
          "build_strings",
          [](const std::vector<std::string>& session, const std::vector<std::string>& item, const std::vector<std::string>& user,
             const CArray<std::int64_t>& timestamp, const std::optional<CArray<std::uint8_t>>& kind,
             const std::optional<CArray<float>>& value, const std::optional<CArray<float>>& quantity) {
            const data::RawEvents rest = Rest(timestamp, kind, value, quantity);
            data::BuildReport report;
            absl::StatusOr<Log> log;
            {
              py::gil_scoped_release release;
              log = Log::Build(session, item, user, rest, &report);
            }
            return py::make_tuple(std::make_shared<Log>(ValueOrThrow(std::move(log))), Report(report));
          })
      .def_property_readonly("num_events", [](const Log& log) { return log.size(); })
      .def_property_readonly("num_items", &Log::num_items)
      .def_property_readonly("num_users", &Log::num_users)
      .def_property_readonly("num_sessions", &Log::num_sessions)
      .def_property_readonly("session", [](const std::shared_ptr<Log>& log) { return View(log, log->columns().session); })
      .def_property_readonly("user", [](const std::shared_ptr<Log>& log) { return View(log, log->columns().user); })
      .def_property_readonly("item", [](const std::shared_ptr<Log>& log) { return View(log, log->columns().item); })
      .def_property_readonly("timestamp", [](const std::shared_ptr<Log>& log) { return View(log, log->columns().timestamp); })
      .def_property_readonly("kind", [](const std::shared_ptr<Log>& log) {
        const auto& kinds = log->columns().kind;
        py::array_t<std::uint8_t> view(static_cast<py::ssize_t>(kinds.size()), reinterpret_cast<const std::uint8_t*>(kinds.data()), py::cast(log));
        py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
        return view;
      })
      .def_property_readonly("value", [](const std::shared_ptr<Log>& log) { return View(log, log->columns().value); })
      .def_property_readonly("quantity", [](const std::shared_ptr<Log>& log) { return View(log, log->columns().quantity); })
      .def_property_readonly("session_offsets", [](const std::shared_ptr<Log>& log) {
        const absl::Span<const std::int64_t> offsets = log->sessions().offsets;
        py::array_t<std::int64_t> view(static_cast<py::ssize_t>(offsets.size()), offsets.data(), py::cast(log));
        py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
        return view;
      })
      .def_property_readonly("item_ids", [](const Log& log) { return ExternalIds(log.items()); })
      .def_property_readonly("user_ids", [](const Log& log) { return ExternalIds(log.users()); })
      .def("by_user", [](const Log& log) {
        data::UsersView view = log.ByUser();
        return py::make_tuple(CArray<std::int64_t>(static_cast<py::ssize_t>(view.offsets.size()), view.offsets.data()),
                              CArray<std::int64_t>(static_cast<py::ssize_t>(view.events.size()), view.events.data()));
      })
      .def("sessionize", [](const Log& log, std::int64_t gap_seconds) {
        return std::make_shared<Log>(ValueOrThrow(log.Sessionize(gap_seconds)));
      }, py::arg("gap_seconds"))
      .def("filter_once", [](const Log& log, std::int32_t min_item_support, std::int32_t min_session_length) {
        return std::make_shared<Log>(log.FilterOnce(min_item_support, min_session_length));
      }, py::arg("min_item_support"), py::arg("min_session_length"))
      .def("filter_to_fixed_point", [](const Log& log, std::int32_t min_item_support, std::int32_t min_session_length) {
        return std::make_shared<Log>(log.FilterToFixedPoint(min_item_support, min_session_length));
      }, py::arg("min_item_support"), py::arg("min_session_length"))
      .def("split_by_last_days", [](const Log& log, std::int32_t days) {
        auto [train, test] = log.SplitByLastDays(days);
        return py::make_tuple(std::make_shared<Log>(std::move(train)), std::make_shared<Log>(std::move(test)));
      }, py::arg("days"));
}

}  // namespace comptoir::python
