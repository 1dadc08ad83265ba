// item2vec and the vector indexes.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "comptoir/embed/item2vec.h"
#include "comptoir/retrieval/vector_index.h"
#include "arrays.h"
#include "kind_weights.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

retrieval::VectorsView MatrixView(const CArray<float>& matrix, const char* what) {
  if (matrix.ndim() != 2) throw py::value_error(std::string(what) + " must be a 2-D float32 array");
  return {SpanOf(matrix), static_cast<std::int64_t>(matrix.shape(0)), static_cast<std::int32_t>(matrix.shape(1))};
}

py::tuple ToArrays(const std::vector<std::vector<retrieval::ScoredId>>& results, int k) {
  return PaddedTopK(
      results.size(), k, [&](std::size_t r) { return results[r].size(); },
      [&](std::size_t r, std::size_t i) { return results[r][i].id; }, [&](std::size_t r, std::size_t i) { return results[r][i].score; });
}

py::tuple SearchBatch(const retrieval::VectorIndex& index, const CArray<float>& queries, int k,
                      const std::optional<CArray<std::uint8_t>>& allowed,
                      const std::optional<CArray<std::int32_t>>& excluded, int num_threads) {
  const retrieval::VectorsView view = MatrixView(queries, "queries");
  retrieval::SearchFilter filter;
  if (allowed) filter.allowed = SpanOf(*allowed);
  if (excluded) filter.excluded = SpanOf(*excluded);
  ExecutionOptions options;
  options.num_threads = num_threads;
  auto results = RunReleasingGil([&](ProgressCallback) { return index.SearchBatch(view, k, filter, options); });
  return ToArrays(results, k);
}

retrieval::Metric ParseMetric(const std::string& metric) {
  if (metric == "cosine") return retrieval::Metric::kCosine;
  if (metric == "inner_product") return retrieval::Metric::kInnerProduct;
  throw py::value_error("metric must be 'cosine' or 'inner_product', got '" + metric + "'");
}

data::SessionsView SessionsOf(const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items) {
  return {SpanOf(offsets), SpanOf(items), {}, {}, {}};
}

}  // namespace

void RegisterEmbed(py::module_& m) {
  py::module_ retrieval_module = m.def_submodule("retrieval", "top-k search over item vectors");
  py::class_<retrieval::VectorIndex, std::shared_ptr<retrieval::VectorIndex>>(retrieval_module, "VectorIndex")
      .def_property_readonly("size", &retrieval::VectorIndex::size)
      .def_property_readonly("dim", &retrieval::VectorIndex::dim)
      .def("search", &SearchBatch, py::arg("queries"), py::arg("k"), py::arg("allowed") = py::none(),
           py::arg("excluded") = py::none(), py::arg("num_threads") = 0)
      .def_property_readonly("metric",
                             [](const retrieval::VectorIndex& index) {
                               return index.metric() == retrieval::Metric::kCosine ? "cosine" : "inner_product";
                             })
      .def_property_readonly("approximate", &retrieval::VectorIndex::approximate)
      .def_property_readonly("num_lists", &retrieval::VectorIndex::num_lists)
      .def_property_readonly("num_probes", &retrieval::VectorIndex::num_probes)
      .def("to_bytes", [](const retrieval::VectorIndex& index) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(index.ToModelFile()))));
      });
  retrieval_module.def(
      "build_exact",
      [](const CArray<float>& vectors, const std::string& metric) {
        const retrieval::VectorsView view = MatrixView(vectors, "vectors");
        std::shared_ptr<retrieval::VectorIndex> index =
            RunReleasingGil([&](ProgressCallback) { return retrieval::BuildExactIndex(view, ParseMetric(metric)); });
        return index;
      },
      py::arg("vectors"), py::arg("metric") = "cosine");
  retrieval_module.def(
      "build_ivf",
      [](const CArray<float>& vectors, const std::string& metric, int num_lists, int num_probes,
         int kmeans_iterations, std::int64_t training_sample, std::uint64_t seed, int num_threads,
         const py::object& on_progress) {
        const retrieval::VectorsView view = MatrixView(vectors, "vectors");
        retrieval::IvfConfig config;
        config.num_lists = num_lists;
        config.num_probes = num_probes;
        config.kmeans_iterations = kmeans_iterations;
        config.training_sample = training_sample;
        ExecutionOptions options;
        options.seed = seed;
        options.num_threads = num_threads;
        std::shared_ptr<retrieval::VectorIndex> index = RunReleasingGil(
            [&](ProgressCallback progress) {
              options.progress = std::move(progress);
              return retrieval::BuildIvfIndex(view, ParseMetric(metric), config, options);
            },
            on_progress);
        return index;
      },
      py::arg("vectors"), py::arg("metric") = "cosine", py::arg("num_lists") = 0,
      py::arg("num_probes") = 0, py::arg("kmeans_iterations") = 12,
      py::arg("training_sample") = 100'000, py::arg("seed") = 42, py::arg("num_threads") = 0,
      py::arg("on_progress") = py::none());
  retrieval_module.def(
      "load_index",
      [](const py::bytes& data, int num_probes) {
        const io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        std::shared_ptr<retrieval::VectorIndex> index = ValueOrThrow(retrieval::VectorIndex::FromModelFile(file, num_probes));
        return index;
      },
      py::arg("data"), py::arg("num_probes") = 0);

  py::module_ embed = m.def_submodule("embed", "item embeddings");
  py::class_<embed::Item2VecConfig>(embed, "Item2VecConfig")
      .def(py::init<>())
      .def_readwrite("dim", &embed::Item2VecConfig::dim)
      .def_readwrite("window", &embed::Item2VecConfig::window)
      .def_readwrite("negative", &embed::Item2VecConfig::negative)
      .def_readwrite("epochs", &embed::Item2VecConfig::epochs)
      .def_readwrite("learning_rate", &embed::Item2VecConfig::learning_rate)
      .def_readwrite("min_learning_rate", &embed::Item2VecConfig::min_learning_rate)
      .def_readwrite("subsample", &embed::Item2VecConfig::subsample)
      .def_readwrite("ns_exponent", &embed::Item2VecConfig::ns_exponent)
      .def_readwrite("num_shards", &embed::Item2VecConfig::num_shards)
      .def_readwrite("sync_rounds", &embed::Item2VecConfig::sync_rounds)
      .def_readwrite("hogwild", &embed::Item2VecConfig::hogwild);

  auto encoder_config = py::class_<embed::SessionEncoderConfig>(embed, "SessionEncoderConfig")
      .def(py::init<>())
      .def_readwrite("recency_decay", &embed::SessionEncoderConfig::recency_decay)
      .def_readwrite("max_events", &embed::SessionEncoderConfig::max_events)
      .def_readwrite("profile_weight", &embed::SessionEncoderConfig::profile_weight);
  DefKindWeights<embed::SessionEncoderConfig>(encoder_config);

  py::class_<embed::Item2Vec, std::shared_ptr<embed::Item2Vec>>(embed, "Item2Vec")
      .def_static(
          "fit",
          [](const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items, std::int32_t num_items,
             const embed::Item2VecConfig& config, std::uint64_t seed, int num_threads,
             const py::object& on_progress) {
            const data::SessionsView sessions = SessionsOf(offsets, items);
            ExecutionOptions options;
            options.seed = seed;
            options.num_threads = num_threads;
            return std::make_shared<embed::Item2Vec>(RunReleasingGil(
                [&](ProgressCallback progress) {
                  options.progress = std::move(progress);
                  return embed::Item2Vec::Fit(sessions, num_items, config, options);
                },
                on_progress));
          },
          py::arg("offsets"), py::arg("items"), py::arg("num_items"), py::arg("config"),
          py::arg("seed") = 42, py::arg("num_threads") = 0, py::arg("on_progress") = py::none())
      .def_property_readonly("num_items", &embed::Item2Vec::num_items)
      .def_property_readonly("dim", &embed::Item2Vec::dim)
      .def_property_readonly("config", &embed::Item2Vec::config)
      .def_property_readonly(
          "vectors",
          [](const std::shared_ptr<embed::Item2Vec>& self) {
            // A read-only view into the model's memory; the array keeps the model alive.
            CArray<float> view({static_cast<py::ssize_t>(self->num_items()), static_cast<py::ssize_t>(self->dim())},
                               self->vectors().data(), py::cast(self));
            py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
            return view;
          })
      .def_property_readonly("seen",
                             [](const embed::Item2Vec& self) {
                               return CArray<std::uint8_t>(static_cast<py::ssize_t>(self.seen().size()), self.seen().data());
                             })
      .def_property_readonly("item_counts",
                             [](const embed::Item2Vec& self) {
                               return CArray<std::int64_t>(static_cast<py::ssize_t>(self.item_counts().size()),
                                                           self.item_counts().data());
                             })
      .def_property_readonly("index", [](const std::shared_ptr<embed::Item2Vec>& self) {
        // Aliasing pointer: the index lives as long as the model does.
        // pybind11 holders cannot be const; Python only reaches the index's const methods.
        return std::shared_ptr<retrieval::VectorIndex>(self, const_cast<retrieval::VectorIndex*>(&self->index()));
      })
      .def(
          "similar_items",
          [](const embed::Item2Vec& self, std::int32_t item, int k) {
            std::vector<retrieval::ScoredId> out;
            absl::Status status;
            {
              py::gil_scoped_release release;
              status = self.SimilarItems(item, k, out);
            }
            ThrowIfError(status);
            return ToArrays({out}, static_cast<int>(out.size()));
          },
          py::arg("item"), py::arg("k"))
      .def(
          "encode_session",
          [](const embed::Item2Vec& self, const CArray<std::int32_t>& items, const CArray<std::uint8_t>& kinds,
             const embed::SessionEncoderConfig& config) {
            ThrowIfError(config.Validate());
            CArray<float> out(static_cast<py::ssize_t>(self.dim()));
            const absl::Span<const data::EventKind> kind_span(
                reinterpret_cast<const data::EventKind*>(kinds.data()), static_cast<std::size_t>(kinds.size()));
            ThrowIfError(self.EncodeSession(SpanOf(items), kind_span, config,
                                            absl::Span<float>(out.mutable_data(), static_cast<std::size_t>(out.size()))));
            return out;
          },
          py::arg("items"), py::arg("kinds"), py::arg("config"))
      .def("to_bytes",
           [](const embed::Item2Vec& self) {
             return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
           })
      .def_static("from_bytes", [](const py::bytes& data) {
        const io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        return std::make_shared<embed::Item2Vec>(ValueOrThrow(embed::Item2Vec::FromModelFile(file)));
      });
  embed.def(
      "blend_with_profile",
      [](CArray<float> session_vector, const CArray<float>& profile, float profile_weight) {
        if (session_vector.size() != profile.size()) {
          ThrowIfError(absl::InvalidArgumentError("session and profile vectors differ in length"));
        }
        // The same rule as an EmbeddingRecommender's profile_weight (SessionEncoderConfig).
        if (!(profile_weight >= 0 && profile_weight <= 1)) {
          ThrowIfError(absl::InvalidArgumentError(absl::StrCat("profile_weight must be in [0, 1], got ", profile_weight)));
        }
        CArray<float> out(session_vector.size());
        std::copy_n(session_vector.data(), session_vector.size(), out.mutable_data());
        embed::Item2Vec::BlendWithProfile(SpanOf(profile), profile_weight,
                                          absl::Span<float>(out.mutable_data(), static_cast<std::size_t>(out.size())));
        return out;
      },
      py::arg("session_vector"), py::arg("profile"), py::arg("profile_weight"));
}

}  // namespace comptoir::python
