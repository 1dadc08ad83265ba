// The neural session recommender (its serving calls are the Recommender base's, bound in recommend.cc).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>

#include "comptoir/recommend/neural_session.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {

void RegisterNeural(py::module_& m) {
  py::module_ rec = m.attr("recommend");
  using recommend::NeuralSessionConfig;
  py::class_<NeuralSessionConfig>(rec, "NeuralSessionConfig")
      .def(py::init<>())
      .def_readwrite("dim", &NeuralSessionConfig::dim)
      .def_readwrite("max_session_length", &NeuralSessionConfig::max_session_length)
      .def_readwrite("scale", &NeuralSessionConfig::scale)
      .def_readwrite("num_negatives", &NeuralSessionConfig::num_negatives)
      .def_readwrite("negative_exponent", &NeuralSessionConfig::negative_exponent)
      .def_readwrite("batch_size", &NeuralSessionConfig::batch_size)
      .def_readwrite("learning_rate", &NeuralSessionConfig::learning_rate)
      .def_readwrite("learning_rate_decay", &NeuralSessionConfig::learning_rate_decay)
      .def_readwrite("epochs", &NeuralSessionConfig::epochs)
      .def_readwrite("patience", &NeuralSessionConfig::patience)
      .def_readwrite("dropout", &NeuralSessionConfig::dropout)
      .def_readwrite("refit", &NeuralSessionConfig::refit)
      .def_readwrite("profile_weight", &NeuralSessionConfig::profile_weight)
      .def_readwrite("repeat_boost", &NeuralSessionConfig::repeat_boost)
      .def_readwrite("ivf_min_items", &NeuralSessionConfig::ivf_min_items);

  using recommend::NeuralSession;
  py::class_<NeuralSession, recommend::Recommender, std::shared_ptr<NeuralSession>>(rec, "NeuralSession")
      .def_static(
          "fit",
          [](const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items,
             const std::optional<CArray<std::int64_t>>& validation_offsets,
             const std::optional<CArray<std::int32_t>>& validation_items, std::int32_t num_items,
             const NeuralSessionConfig& config, std::uint64_t seed, int num_threads, const py::object& on_progress) {
            const data::SessionsView sessions{SpanOf(offsets), SpanOf(items), {}, {}, {}};
            const data::SessionsView validation{SpanOf(validation_offsets), SpanOf(validation_items), {}, {}, {}};
            ExecutionOptions options;
            options.seed = seed;
            options.num_threads = num_threads;
            std::shared_ptr<NeuralSession> model = RunReleasingGil(
                [&](ProgressCallback progress) {
                  options.progress = std::move(progress);
                  return NeuralSession::Fit(sessions, validation, num_items, config, options);
                },
                on_progress);
            return model;
          },
          py::arg("offsets"), py::arg("items"), py::arg("validation_offsets"), py::arg("validation_items"),
          py::arg("num_items"), py::arg("config"), py::arg("seed") = 42, py::arg("num_threads") = 0,
          py::arg("on_progress") = py::none())
      .def_property_readonly("config", &NeuralSession::config)
      .def_property_readonly("history",
                             [](const NeuralSession& self) {
                               py::list rows;
                               for (const recommend::NeuralSessionEpoch& e : self.history()) {
                                 py::dict row;
                                 row["epoch"] = e.epoch;
                                 row["loss"] = e.loss;
                                 row["validation_hit_rate"] = e.validation_hit_rate >= 0 ? py::object(py::float_(e.validation_hit_rate)) : py::object(py::none());
                                 row["validation_mrr"] = e.validation_mrr >= 0 ? py::object(py::float_(e.validation_mrr)) : py::object(py::none());
                                 row["seconds"] = e.seconds;
                                 row["learning_rate"] = e.learning_rate;
                                 row["restarted"] = e.restarted;
                                 row["refit"] = e.refit;
                                 rows.append(row);
                               }
                               return rows;
                             })
      .def_property_readonly("item_vectors",
                             [](const NeuralSession& self) {
                               const auto dim = static_cast<py::ssize_t>(self.config().dim);
                               CArray<float> out({static_cast<py::ssize_t>(self.num_items()), dim});
                               std::copy(self.item_vectors().begin(), self.item_vectors().end(), out.mutable_data());
                               return out;
                             })
      .def_property_readonly("seen",
                             [](const NeuralSession& self) {
                               CArray<std::uint8_t> out(static_cast<py::ssize_t>(self.seen().size()));
                               std::copy(self.seen().begin(), self.seen().end(), out.mutable_data());
                               return out;
                             })
      .def(
          "encode_session",
          [](const NeuralSession& self, const CArray<std::int32_t>& items) {
            CArray<float> out(static_cast<py::ssize_t>(self.config().dim));
            ThrowIfError(self.EncodeSession(SpanOf(items), absl::MakeSpan(out.mutable_data(), static_cast<std::size_t>(out.size()))));
            return out;
          },
          py::arg("items"))
      .def_property_readonly("profile_users", &NeuralSession::profile_users)
      .def_property(
          "profile_weight", &NeuralSession::profile_weight,
          [](NeuralSession& self, float weight) { ThrowIfError(self.set_profile_weight(weight)); })
      .def_property(
          "repeat_boost", &NeuralSession::repeat_boost,
          [](NeuralSession& self, float boost) { ThrowIfError(self.set_repeat_boost(boost)); })
      .def(
          "set_user_history",
          [](NeuralSession& self, std::int32_t user, const CArray<std::int32_t>& items) {
            ThrowIfError(self.SetUserHistory(user, SpanOf(items)));
          },
          py::arg("user"), py::arg("items"))
      .def("forget", &NeuralSession::ForgetUser, py::arg("user"), py::call_guard<py::gil_scoped_release>());
}

}  // namespace comptoir::python
