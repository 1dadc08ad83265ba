// The one C++ loader seen from Python: what a storefront backend gets from comptoir::LoadModel,
// for the demo and for checks that C++ serves a saved file as Python does.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "comptoir/model.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

const char* FamilyOf(const Model& model) {
  if (model.AsRecommender() != nullptr) return "recommender";
  if (model.AsScorer() != nullptr) return "scorer";
  if (model.AsUpliftModel() != nullptr) return "uplift_model";
  return "vector_index";
}

template <typename T>
const T& Family(const T* family, const Model& model, const char* what) {
  if (family == nullptr) throw py::value_error("a '" + model.kind() + "' model is not " + what);
  return *family;
}

}  // namespace

void RegisterModel(py::module_& m) {
  py::module_ model = m.def_submodule("model", "comptoir::LoadModel: any model file, served through its family");
  py::class_<Model, std::shared_ptr<Model>>(model, "Model")
      .def_static(
          "from_bytes",
          [](const py::bytes& data, const std::string& user_id_key) {
            std::string_view bytes = data;
            absl::StatusOr<std::unique_ptr<Model>> loaded;
            {
              py::gil_scoped_release release;
              loaded = LoadModelFromBytes(bytes, LoadOptions{user_id_key});
            }
            return std::shared_ptr<Model>(ValueOrThrow(std::move(loaded)));
          },
          py::arg("data"), py::arg("user_id_key") = "")
      .def_property_readonly("kind", &Model::kind)
      .def_property_readonly("family", [](const Model& self) { return FamilyOf(self); })
      .def("score", [](const Model& self, const Array<double>& X, int num_threads) {
        const Scorer& scorer = Family(self.AsScorer(), self, "a scorer");
        const auto matrix = MatrixOf(X);
        return ToNumpy(RunReleasingGil([&](ProgressCallback) { return scorer.Score(matrix, ThreadOptions(num_threads)); }));
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("contributions", [](const Model& self, const Array<double>& X, int num_threads) {
        const Scorer& scorer = Family(self.AsScorer(), self, "a scorer");
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return scorer.Contributions(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("effect", [](const Model& self, const Array<double>& X, int num_threads) {
        const UpliftModel& uplift = Family(self.AsUpliftModel(), self, "an uplift model");
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return uplift.Effect(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0)
      .def("recommend", [](const Model& self, std::vector<std::string> items, int k, std::string user) {
        ShopRecommendRequest request;
        request.session_items = std::move(items);
        request.k = k;
        request.user = std::move(user);
        absl::StatusOr<ShopRecommendation> answer;
        {
          py::gil_scoped_release release;
          answer = self.Recommend(request);
        }
        ShopRecommendation out = ValueOrThrow(std::move(answer));
        std::vector<std::string> reasons;
        for (const ShopReason& reason : out.reasons) reasons.push_back(reason.text);
        return py::make_tuple(out.items, ToNumpy(out.scores), reasons, out.unknown_items);
      }, py::arg("items"), py::arg("k") = 20, py::arg("user") = "",
      "Recommendations in the shop's ids (as text): (items, scores, reasons, unknown session items).");
}

}  // namespace comptoir::python
