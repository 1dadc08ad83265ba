// Recommenders and the next-item evaluation protocol.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "comptoir/eval/next_item.h"
#include "comptoir/model.h"
#include "comptoir/recommend/embedding.h"
#include "comptoir/recommend/hybrid.h"
#include "comptoir/recommend/popularity.h"
#include "comptoir/recommend/session_knn.h"
#include "arrays.h"
#include "ids.h"
#include "kind_weights.h"
#include "status_translation.h"
#include "absl/strings/numbers.h"

namespace comptoir::python {
namespace {

data::SessionsView SessionsOf(const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items) {
  return {SpanOf(offsets), SpanOf(items), {}, {}, {}};
}

// Filters shared by single and batched calls; the arrays outlive the request.
struct FilterArrays {
  std::optional<CArray<std::uint8_t>> allowed_items;
  std::optional<CArray<std::int32_t>> excluded_items;
  bool exclude_session_items = false;

  void Apply(recommend::RecommendFilters& filters) const {
    if (allowed_items) filters.allowed_items = SpanOf(*allowed_items);
    if (excluded_items) filters.excluded_items = SpanOf(*excluded_items);
    filters.exclude_session_items = exclude_session_items;
  }
};

py::tuple ResponseToPython(const recommend::RecommendResponse& response) {
  py::list reasons;
  for (const recommend::Reason& reason : response.reasons) {
    reasons.append(py::make_tuple(recommend::ReasonKindName(reason.kind),
                                  reason.anchor_item >= 0 ? py::object(py::int_(reason.anchor_item)) : py::object(py::none()),
                                  reason.support, reason.category, reason.ToString()));
  }
  return py::make_tuple(CArray<std::int32_t>(static_cast<py::ssize_t>(response.items.size()), response.items.data()),
                        CArray<float>(static_cast<py::ssize_t>(response.scores.size()), response.scores.data()),
                        reasons, response.unknown_items);
}

// Shop ids out: a list of str for string maps, an int64 array otherwise (dense ids without a map).
py::object ShopIdsOut(const ModelIds& ids, const std::vector<std::string>& texts) {
  if (ids.has_items() && ids.items().is_string()) return py::cast(texts);
  CArray<std::int64_t> out(static_cast<py::ssize_t>(texts.size()));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::int64_t value = 0;
    if (!absl::SimpleAtoi(texts[i], &value)) throw py::value_error("internal: a model id is not an integer");
    out.mutable_at(static_cast<py::ssize_t>(i)) = value;
  }
  return std::move(out);
}

// One shop id out, as ShopIdsOut types it (str, or int for integer maps).
py::object ShopIdOut(const ModelIds& ids, const std::string& text) {
  if (ids.has_items() && ids.items().is_string()) return py::str(text);
  std::int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) throw py::value_error("internal: a model id is not an integer");
  return py::int_(value);
}

}  // namespace

void RegisterRecommend(py::module_& m) {
  py::module_ rec = m.def_submodule("recommend", "session-aware recommenders");
  py::enum_<recommend::PositionDecay>(rec, "PositionDecay")
      .value("none", recommend::PositionDecay::kNone)
      .value("linear", recommend::PositionDecay::kLinear)
      .value("exponential", recommend::PositionDecay::kExponential);
  py::class_<recommend::SessionKnnConfig>(rec, "SessionKnnConfig")
      .def(py::init<>())
      .def_readwrite("k", &recommend::SessionKnnConfig::k)
      .def_readwrite("sample_size", &recommend::SessionKnnConfig::sample_size)
      .def_readwrite("position_decay", &recommend::SessionKnnConfig::position_decay)
      .def_readwrite("lambda_spw", &recommend::SessionKnnConfig::lambda_spw)
      .def_readwrite("lambda_snh", &recommend::SessionKnnConfig::lambda_snh)
      .def_readwrite("lambda_inh", &recommend::SessionKnnConfig::lambda_inh)
      .def_readwrite("idf_weighting", &recommend::SessionKnnConfig::idf_weighting)
      .def_readwrite("max_session_length", &recommend::SessionKnnConfig::max_session_length)
      .def_readwrite("max_sessions", &recommend::SessionKnnConfig::max_sessions);

  auto popularity_config = py::class_<recommend::PopularityConfig>(rec, "PopularityConfig")
      .def(py::init<>())
      .def_readwrite("half_life_days", &recommend::PopularityConfig::half_life_days);
  DefKindWeights<recommend::PopularityConfig>(popularity_config);
  py::enum_<recommend::AssociationMeasure>(rec, "AssociationMeasure")
      .value("lift", recommend::AssociationMeasure::kLift)
      .value("cosine", recommend::AssociationMeasure::kCosine)
      .value("confidence", recommend::AssociationMeasure::kConfidence);
  py::class_<recommend::CoPurchaseConfig>(rec, "CoPurchaseConfig")
      .def(py::init<>())
      .def_readwrite("measure", &recommend::CoPurchaseConfig::measure)
      .def_readwrite("min_support", &recommend::CoPurchaseConfig::min_support)
      .def_readwrite("max_neighbours", &recommend::CoPurchaseConfig::max_neighbours)
      .def_readwrite("max_basket_size", &recommend::CoPurchaseConfig::max_basket_size);
  py::class_<recommend::SequentialRulesConfig>(rec, "SequentialRulesConfig")
      .def(py::init<>())
      .def_readwrite("max_steps", &recommend::SequentialRulesConfig::max_steps)
      .def_readwrite("max_neighbours", &recommend::SequentialRulesConfig::max_neighbours)
      .def_readwrite("session_items", &recommend::SequentialRulesConfig::session_items);

  py::enum_<recommend::TrainingEvents>(rec, "TrainingEvents")
      .value("unspecified", recommend::TrainingEvents::kUnspecified)
      .value("views", recommend::TrainingEvents::kViews)
      .value("carts", recommend::TrainingEvents::kCarts)
      .value("purchases", recommend::TrainingEvents::kPurchases)
      .value("mixed", recommend::TrainingEvents::kMixed);
  py::class_<recommend::Recommender, std::shared_ptr<recommend::Recommender>>(rec, "Recommender")
      .def_property_readonly("num_items", &recommend::Recommender::num_items)
      .def_property("training_events", &recommend::Recommender::training_events,
                    &recommend::Recommender::set_training_events,
                    "What the model learned from; its reasons' wording follows it (set after fitting).")
      .def(
          "recommend",
          [](const recommend::Recommender& self, const CArray<std::int32_t>& items, const CArray<std::uint8_t>& kinds,
             int k, const FilterArrays& filters, std::int32_t user) {
            recommend::RecommendRequest request;
            request.session_items = SpanOf(items);
            request.session_kinds = absl::Span<const data::EventKind>(reinterpret_cast<const data::EventKind*>(kinds.data()),
                                                                      static_cast<std::size_t>(kinds.size()));
            request.k = k;
            request.user = user;
            filters.Apply(request.filters);
            absl::StatusOr<recommend::RecommendResponse> response;
            {
              py::gil_scoped_release release;
              response = self.Recommend(request);
            }
            return ResponseToPython(ValueOrThrow(std::move(response)));
          },
          py::arg("items"), py::arg("kinds"), py::arg("k"), py::arg("filters"), py::arg("user") = -1)
      .def(
          "recommend_batch",
          [](const recommend::Recommender& self, const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items,
             int k, const FilterArrays& filters, int num_threads) {
            const data::SessionsView sessions = SessionsOf(offsets, items);
            if (offsets.size() == 0 || offsets.at(offsets.size() - 1) != items.size()) {
              throw py::value_error("session offsets must end at len(items)");
            }
            std::vector<recommend::RecommendRequest> requests(static_cast<std::size_t>(sessions.num_sessions()));
            for (std::size_t i = 0; i < requests.size(); ++i) {
              requests[i].session_items = sessions.SessionItems(static_cast<std::int64_t>(i));
              requests[i].k = k;
              filters.Apply(requests[i].filters);
            }
            ExecutionOptions options;
            options.num_threads = num_threads;
            const std::vector<recommend::RecommendResponse> responses =
                RunReleasingGil([&](ProgressCallback) { return self.RecommendBatch(requests, options); });
            return PaddedTopK(
                responses.size(), k, [&](std::size_t r) { return responses[r].items.size(); },
                [&](std::size_t r, std::size_t i) { return responses[r].items[i]; },
                [&](std::size_t r, std::size_t i) { return responses[r].scores[i]; });
          },
          py::arg("offsets"), py::arg("items"), py::arg("k"), py::arg("filters"), py::arg("num_threads") = 0)
      .def("to_bytes", [](const recommend::Recommender& self) {
        return py::bytes(ValueOrThrow(io::SerializeModelFile(ValueOrThrow(self.ToModelFile()))));
      });
  // The shop's ids a model was trained with (comptoir::ModelIds): what recommend_shop and the
  // batch translation look ids up in.
  py::class_<ModelIds, std::shared_ptr<ModelIds>>(rec, "ModelIds")
      .def(py::init([](const py::object& items, const py::object& users) {
             return std::make_shared<ModelIds>(items.is_none() ? data::IdMap() : IdMapOf(items, "item"),
                                               users.is_none() ? data::IdMap() : IdMapOf(users, "user"));
           }),
           py::arg("items"), py::arg("users") = py::none())
      .def_static(
          "from_bytes",
          [](const py::bytes& data, const std::string& user_id_key) {
            const io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
            return std::make_shared<ModelIds>(ValueOrThrow(ModelIds::ReadFrom(file, user_id_key)));
          },
          py::arg("data"), py::arg("user_id_key") = "")
      .def_property_readonly("has_items", &ModelIds::has_items)
      .def_property_readonly("has_users", &ModelIds::has_users)
      .def(
          "dense_user",
          [](const ModelIds& self, const std::string& user) {
            absl::StatusOr<std::int32_t> dense = self.FindUser(user);
            if (!dense.ok() && !absl::IsNotFound(dense.status())) ThrowIfError(dense.status());
            return dense.ok() ? *dense : -1;
          },
          py::arg("user"), "The user's dense id, -1 when unknown.")
      .def(
          "dense_items",
          [](const ModelIds& self, const py::object& items, std::int32_t num_items) {
            // Unknown ids become -1, which every recommender ignores as unknown.
            const std::vector<std::string> texts = IdTexts(items);
            CArray<std::int32_t> out(static_cast<py::ssize_t>(texts.size()));
            for (std::size_t i = 0; i < texts.size(); ++i) {
              absl::StatusOr<std::int32_t> dense = self.FindItem(texts[i], num_items);
              out.mutable_at(static_cast<py::ssize_t>(i)) = dense.ok() ? *dense : -1;
            }
            return out;
          },
          py::arg("items"), py::arg("num_items"))
      .def(
          "shop_items",
          [](const ModelIds& self, const CArray<std::int32_t>& dense) -> py::object {
            // Padding (-1) becomes None for string ids and stays -1 for integer ids.
            const bool strings = self.has_items() && self.items().is_string();
            std::vector<py::ssize_t> shape(dense.shape(), dense.shape() + dense.ndim());
            if (strings) {
              py::array out(py::dtype("O"), shape);
              auto** cells = static_cast<PyObject**>(out.mutable_data());
              for (py::ssize_t i = 0; i < dense.size(); ++i) {
                const std::int32_t d = dense.data()[i];
                py::object value = d < 0 ? py::none() : py::object(py::str(self.items().StringId(d)));
                Py_XDECREF(cells[i]);
                cells[i] = value.release().ptr();
              }
              return std::move(out);
            }
            py::array_t<std::int64_t> out(shape);
            for (py::ssize_t i = 0; i < dense.size(); ++i) {
              const std::int32_t d = dense.data()[i];
              out.mutable_data()[i] = d < 0 || !self.has_items() ? d : self.items().IntId(d);
            }
            return std::move(out);
          },
          py::arg("dense"));

  rec.def(
      "recommend_shop",
      [](const recommend::Recommender& model, const ModelIds& ids, const py::object& items,
         const CArray<std::uint8_t>& kinds, int k, const FilterArrays& filters, const py::object& excluded,
         const std::string& user) {
        ShopRecommendRequest request;
        request.session_items = IdTexts(items);
        request.session_kinds.assign(reinterpret_cast<const data::EventKind*>(kinds.data()),
                                     reinterpret_cast<const data::EventKind*>(kinds.data()) + kinds.size());
        request.k = k;
        request.user = user;
        request.excluded_items = IdTexts(excluded);
        if (filters.allowed_items) request.filters.allowed_items = SpanOf(*filters.allowed_items);
        request.filters.exclude_session_items = filters.exclude_session_items;
        absl::StatusOr<ShopRecommendation> response;
        {
          py::gil_scoped_release release;
          response = RecommendInShopIds(model, ids, request);
        }
        ShopRecommendation out = ValueOrThrow(std::move(response));
        // Each reason as (kind, anchor item or None, support, category or -1, sentence).
        py::list reasons;
        for (ShopReason& reason : out.reasons) {
          reasons.append(py::make_tuple(recommend::ReasonKindName(reason.kind),
                                        reason.anchor_item.empty() ? py::object(py::none()) : ShopIdOut(ids, reason.anchor_item),
                                        reason.support, reason.category, std::move(reason.text)));
        }
        return py::make_tuple(ShopIdsOut(ids, out.items),
                              CArray<float>(static_cast<py::ssize_t>(out.scores.size()), out.scores.data()), reasons,
                              out.unknown_items, out.unknown_user);
      },
      py::arg("model"), py::arg("ids"), py::arg("items"), py::arg("kinds"), py::arg("k"), py::arg("filters"),
      py::arg("excluded"), py::arg("user") = "",
      "Recommendations in the shop's ids through comptoir::RecommendInShopIds: (ids, scores, reasons, unknown items, "
      "unknown user).");

  rec.def(
      "load",
      [](const py::bytes& data, const std::string& expected_kind) {
        const io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        if (!expected_kind.empty()) ThrowIfError(file.ExpectKind(expected_kind));
        std::shared_ptr<recommend::Recommender> model = ValueOrThrow(recommend::LoadRecommender(file));
        return model;
      },
      py::arg("data"), py::arg("expected_kind") = "");

  py::class_<FilterArrays>(rec, "Filters")
      .def(py::init<>())
      .def_readwrite("allowed_items", &FilterArrays::allowed_items)
      .def_readwrite("excluded_items", &FilterArrays::excluded_items)
      .def_readwrite("exclude_session_items", &FilterArrays::exclude_session_items);

  py::class_<recommend::SessionKnn, recommend::Recommender, std::shared_ptr<recommend::SessionKnn>>(rec, "SessionKnn")
      .def_static(
          "fit",
          [](const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items,
             const std::optional<CArray<std::int64_t>>& timestamps, const std::optional<CArray<std::int32_t>>& users,
             std::int32_t num_items, const recommend::SessionKnnConfig& config) {
            recommend::TrainingSessions training{SessionsOf(offsets, items), {}, {}};
            if (timestamps) training.session_timestamps = SpanOf(*timestamps);
            if (users) training.session_users = SpanOf(*users);
            std::shared_ptr<recommend::SessionKnn> model = RunReleasingGil(
                [&](ProgressCallback) { return recommend::SessionKnn::Fit(training, num_items, config); });
            return model;
          },
          py::arg("offsets"), py::arg("items"), py::arg("timestamps"), py::arg("users"), py::arg("num_items"),
          py::arg("config"))
      .def_property_readonly("config", &recommend::SessionKnn::config)
      .def_property_readonly("num_sessions", &recommend::SessionKnn::num_sessions)
      .def(
          "add_session",
          [](recommend::SessionKnn& self, const CArray<std::int32_t>& items, std::int64_t timestamp, std::int32_t user) {
            absl::Status status;
            {
              py::gil_scoped_release release;
              status = self.AddSession(SpanOf(items), timestamp, user);
            }
            ThrowIfError(status);
          },
          py::arg("items"), py::arg("timestamp"), py::arg("user") = -1)
      .def("forget", &recommend::SessionKnn::Forget, py::arg("user"), py::call_guard<py::gil_scoped_release>());

  py::class_<recommend::Popularity, recommend::Recommender, std::shared_ptr<recommend::Popularity>>(rec, "Popularity")
      .def_static(
          "fit",
          [](const CArray<std::int32_t>& items, const std::optional<CArray<std::int64_t>>& timestamps,
             const std::optional<CArray<std::uint8_t>>& kinds, std::int32_t num_items,
             const std::optional<CArray<std::int32_t>>& item_category, const recommend::PopularityConfig& config) {
            recommend::EventsView events{SpanOf(items), {}, {}};
            if (timestamps) events.timestamps = SpanOf(*timestamps);
            if (kinds) {
              events.kinds = absl::Span<const data::EventKind>(reinterpret_cast<const data::EventKind*>(kinds->data()),
                                                               static_cast<std::size_t>(kinds->size()));
            }
            std::shared_ptr<recommend::Popularity> model = ValueOrThrow(recommend::Popularity::Fit(
                events, num_items, item_category ? SpanOf(*item_category) : absl::Span<const std::int32_t>(), config));
            return model;
          },
          py::arg("items"), py::arg("timestamps"), py::arg("kinds"), py::arg("num_items"), py::arg("item_category"),
          py::arg("config"))
      .def_property_readonly("config", &recommend::Popularity::config)
      .def_property_readonly("scores", [](const recommend::Popularity& self) {
        return CArray<float>(static_cast<py::ssize_t>(self.scores().size()), self.scores().data());
      });

  py::class_<recommend::CoPurchase, recommend::Recommender, std::shared_ptr<recommend::CoPurchase>>(rec, "CoPurchase")
      .def_static(
          "fit",
          [](const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items, std::int32_t num_items,
             const recommend::CoPurchaseConfig& config, int num_threads) {
            ExecutionOptions options;
            options.num_threads = num_threads;
            std::shared_ptr<recommend::CoPurchase> model = RunReleasingGil([&](ProgressCallback) {
              return recommend::CoPurchase::Fit(SessionsOf(offsets, items), num_items, config, options);
            });
            return model;
          },
          py::arg("offsets"), py::arg("items"), py::arg("num_items"), py::arg("config"), py::arg("num_threads") = 0)
      .def_property_readonly("config", &recommend::CoPurchase::config)
      .def("bought_with", [](const recommend::CoPurchase& self, std::int32_t item) {
        const auto pairs = self.BoughtWith(item);
        CArray<std::int32_t> ids(static_cast<py::ssize_t>(pairs.size()));
        CArray<float> scores(static_cast<py::ssize_t>(pairs.size()));
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          ids.mutable_at(static_cast<py::ssize_t>(i)) = pairs[i].first;
          scores.mutable_at(static_cast<py::ssize_t>(i)) = pairs[i].second;
        }
        return py::make_tuple(ids, scores);
      });

  py::class_<recommend::SequentialRules, recommend::Recommender, std::shared_ptr<recommend::SequentialRules>>(rec, "SequentialRules")
      .def_static(
          "fit",
          [](const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items, std::int32_t num_items,
             const recommend::SequentialRulesConfig& config, int num_threads) {
            ExecutionOptions options;
            options.num_threads = num_threads;
            std::shared_ptr<recommend::SequentialRules> model = RunReleasingGil([&](ProgressCallback) {
              return recommend::SequentialRules::Fit(SessionsOf(offsets, items), num_items, config, options);
            });
            return model;
          },
          py::arg("offsets"), py::arg("items"), py::arg("num_items"), py::arg("config"), py::arg("num_threads") = 0)
      .def_property_readonly("config", &recommend::SequentialRules::config);

  py::class_<recommend::EmbeddingRecommender, recommend::Recommender, std::shared_ptr<recommend::EmbeddingRecommender>>(
      rec, "EmbeddingRecommender")
      .def_static(
          "create",
          [](std::shared_ptr<embed::Item2Vec> embeddings, const embed::SessionEncoderConfig& config) {
            ThrowIfError(config.Validate());
            return std::make_shared<recommend::EmbeddingRecommender>(std::move(embeddings), config);
          },
          py::arg("embeddings"), py::arg("config"))
      .def_property_readonly("config", &recommend::EmbeddingRecommender::config)
      .def_property_readonly("embeddings",
                             [](const recommend::EmbeddingRecommender& self) {
                               // pybind11 holders cannot be const; Python reaches only const methods.
                               return std::const_pointer_cast<embed::Item2Vec>(self.shared_embeddings());
                             })
      .def_property_readonly("profile_users", &recommend::EmbeddingRecommender::profile_users)
      .def("set_user_history", [](recommend::EmbeddingRecommender& self, std::int32_t user, const CArray<std::int32_t>& items) {
        ThrowIfError(self.SetUserHistory(user, SpanOf(items)));
      }, py::arg("user"), py::arg("items"))
      .def("forget", &recommend::EmbeddingRecommender::ForgetUser, py::arg("user"), py::call_guard<py::gil_scoped_release>());

  py::class_<recommend::Hybrid, recommend::Recommender, std::shared_ptr<recommend::Hybrid>>(rec, "Hybrid")
      .def_static(
          "create",
          [](const std::vector<std::shared_ptr<recommend::Recommender>>& models, const std::vector<float>& weights) {
            if (models.size() != weights.size()) throw py::value_error("one weight per component model");
            std::vector<recommend::HybridComponent> components;
            for (std::size_t c = 0; c < models.size(); ++c) components.push_back({models[c], weights[c]});
            std::shared_ptr<recommend::Hybrid> model = ValueOrThrow(recommend::Hybrid::Create(std::move(components)));
            return model;
          },
          py::arg("models"), py::arg("weights"))
      .def_property_readonly("weights", [](const recommend::Hybrid& self) {
        std::vector<float> weights;
        for (const auto& c : self.components()) weights.push_back(c.weight);
        return weights;
      });

  py::module_ eval = m.def_submodule("eval", "evaluation protocols");
  eval.def(
      "evaluate_next_item",
      [](const recommend::Recommender& model, const CArray<std::int64_t>& offsets, const CArray<std::int32_t>& items,
         int k, const std::optional<CArray<std::int64_t>>& item_popularity, int num_threads, int max_prefix,
         const py::object& on_progress) {
        const data::SessionsView sessions = SessionsOf(offsets, items);
        ExecutionOptions options;
        options.num_threads = num_threads;
        const eval::NextItemMetrics metrics = RunReleasingGil(
            [&](ProgressCallback progress) {
              options.progress = std::move(progress);
              return eval::EvaluateNextItem(model, sessions, k,
                                            item_popularity ? SpanOf(*item_popularity) : absl::Span<const std::int64_t>(),
                                            options, max_prefix);
            },
            on_progress);
        py::dict out;
        out["k"] = metrics.k;
        out["predictions"] = metrics.predictions;
        out["hit_rate"] = metrics.hit_rate;
        out["mrr"] = metrics.mrr;
        out["ndcg"] = metrics.ndcg;
        out["coverage"] = metrics.coverage;
        // Not computed without the training popularity: None, never a 0.0 that reads as a result.
        out["popularity_bias"] = item_popularity ? py::object(py::float_(metrics.popularity_bias)) : py::object(py::none());
        return out;
      },
      py::arg("model"), py::arg("offsets"), py::arg("items"), py::arg("k") = 20, py::arg("item_popularity") = py::none(),
      py::arg("num_threads") = 0, py::arg("max_prefix") = 0, py::arg("on_progress") = py::none());
}

}  // namespace comptoir::python
