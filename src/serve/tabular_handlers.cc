// /v1/score and /v1/offer: the scorers and uplift models, rows keyed by column name.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "handlers.h"

namespace comptoir::serve {
namespace {

// Rows of {column: value} as EncodeRows takes them: the columns any row names, in the order
// first seen, and a missing value where a row leaves one out.
absl::StatusOr<EncodedRows> EncodeJsonRows(const FeatureSchema& schema, const std::vector<const Json*>& rows) {
  std::vector<std::string> columns;
  std::map<std::string, std::size_t> column_of;
  for (const Json* row : rows) {
    for (const auto& item : row->items()) {
      if (column_of.emplace(item.key(), columns.size()).second) columns.push_back(item.key());
    }
  }
  std::vector<std::vector<FeatureValue>> values(rows.size(), std::vector<FeatureValue>(columns.size()));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (const auto& item : rows[r]->items()) {
      FeatureValue& cell = values[r][column_of[item.key()]];
      const Json& value = item.value();
      if (value.is_number()) {
        cell = value.get<double>();
      } else if (value.is_string()) {
        cell = value.get<std::string>();
      } else if (value.is_boolean()) {
        cell = std::string(value.get<bool>() ? "true" : "false");
      } else if (!value.is_null()) {
        return absl::InvalidArgumentError(absl::StrCat("row ", r, ", column '", item.key(),
                                                       "': a value must be a number, a string, a boolean or null, not ",
                                                       value.type_name()));
      }
    }
  }
  return EncodeRows(schema, columns, values);
}

std::string FeatureName(const FeatureSchema& schema, Eigen::Index j) {
  const std::size_t index = static_cast<std::size_t>(j);
  return index < schema.feature_names.size() ? schema.feature_names[index] : absl::StrCat("x", j);
}

// The `top` features that moved row `row` most, either way.
Json TopReasons(const FeatureSchema& schema, const RowMatrix& contributions, Eigen::Index row, std::int64_t top) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(contributions.cols() - 1));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
    return std::abs(contributions(row, a)) > std::abs(contributions(row, b));
  });
  Json reasons = Json::array();
  for (std::size_t i = 0; i < order.size() && static_cast<std::int64_t>(i) < top; ++i) {
    reasons.push_back({{"feature", FeatureName(schema, order[i])}, {"contribution", contributions(row, order[i])}});
  }
  return reasons;
}

absl::StatusOr<std::int64_t> TopCount(const Json& body) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::int64_t top, OptionalInt(body, "top", 3));
  if (top < 0 || top > 1000) return absl::InvalidArgumentError(absl::StrCat("'top' must be in 0..1000, got ", top));
  return top;
}

// A per-offer number given as one number for all, an array in offer order or {offer name: number}.
absl::StatusOr<std::vector<double>> PerOffer(const Json& body, const char* field, const std::vector<std::string>& offers,
                                             double fallback) {
  std::vector<double> out(offers.size(), fallback);
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) return out;
  if (it->is_number()) {
    std::fill(out.begin(), out.end(), it->get<double>());
  } else if (it->is_array()) {
    if (it->size() != offers.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", field, "' has ", it->size(), " entries for ", offers.size(), " offers"));
    }
    for (std::size_t k = 0; k < offers.size(); ++k) {
      if (!(*it)[k].is_number()) return absl::InvalidArgumentError(absl::StrCat("'", field, "[", k, "]' must be a number"));
      out[k] = (*it)[k].get<double>();
    }
  } else if (it->is_object()) {
    for (const auto& item : it->items()) {
      const auto found = std::find(offers.begin(), offers.end(), item.key());
      if (found == offers.end()) return absl::InvalidArgumentError(absl::StrCat("field '", field, "': unknown offer '", item.key(), "'"));
      if (!item.value().is_number()) return absl::InvalidArgumentError(absl::StrCat("'", field, ".", item.key(), "' must be a number"));
      out[static_cast<std::size_t>(found - offers.begin())] = item.value().get<double>();
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", field, "' must be a number, an array per offer or an object by offer name"));
  }
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (!std::isfinite(out[k])) return absl::InvalidArgumentError(absl::StrCat("field '", field, "' must be finite"));
  }
  return out;
}

}  // namespace

absl::StatusOr<Json> HandleScore(const ServiceState& state, const Json& body) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::string name, RequiredString(body, "model"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::int64_t top, TopCount(body));
  const auto rows_it = body.find("rows");
  if (rows_it == body.end() || !rows_it->is_array()) return absl::InvalidArgumentError("field 'rows' must be an array of objects");
  if (rows_it->empty()) return absl::InvalidArgumentError("field 'rows' is empty");
  if (rows_it->size() > kMaxRows) {
    return absl::InvalidArgumentError(absl::StrCat("field 'rows' has ", rows_it->size(), " rows, more than the ", kMaxRows, " allowed"));
  }
  std::vector<const Json*> rows;
  for (std::size_t r = 0; r < rows_it->size(); ++r) {
    if (!(*rows_it)[r].is_object()) return absl::InvalidArgumentError(absl::StrCat("'rows[", r, "]' must be an object"));
    rows.push_back(&(*rows_it)[r]);
  }
  COMPTOIR_ASSIGN_OR_RETURN(const std::shared_ptr<const ServedModel> served, state.models->Find(name));
  const Scorer* scorer = served->model->AsScorer();
  if (scorer == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name, "' is a ", served->model->kind(), " model, not a scorer"));
  }
  COMPTOIR_ASSIGN_OR_RETURN(const EncodedRows encoded, EncodeJsonRows(scorer->schema(), rows));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> scores, scorer->Score(encoded.matrix));
  Json reasons = Json::array();
  if (top > 0) {
    COMPTOIR_ASSIGN_OR_RETURN(const RowMatrix why, scorer->Contributions(encoded.matrix));
    for (Eigen::Index r = 0; r < why.rows(); ++r) reasons.push_back(TopReasons(scorer->schema(), why, r, top));
  }
  const bool probability = scorer->output() == Scorer::Output::kProbability;
  return Json{{"model", name},
              {"version", served->version},
              {"output", probability ? "probability" : "prediction"},
              {probability ? "probabilities" : "predictions", scores},
              {"reasons", std::move(reasons)},
              {"unseen", encoded.unseen}};
}

absl::StatusOr<Json> HandleOffer(const ServiceState& state, const Json& body) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::string name, RequiredString(body, "model"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::int64_t top, TopCount(body));
  const auto features = body.find("features");
  if (features == body.end() || !features->is_object()) {
    return absl::InvalidArgumentError("field 'features' must be an object of the customer's features");
  }
  COMPTOIR_ASSIGN_OR_RETURN(const std::shared_ptr<const ServedModel> served, state.models->Find(name));
  const UpliftModel* uplift = served->model->AsUpliftModel();
  if (uplift == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name, "' is a ", served->model->kind(), " model, not an uplift model"));
  }
  const std::vector<std::string>& arms = uplift->schema().arm_names.values;
  std::vector<std::string> offers;
  for (std::int32_t k = 1; k <= uplift->num_offers(); ++k) {
    offers.push_back(static_cast<std::size_t>(k) < arms.size() ? arms[static_cast<std::size_t>(k)] : absl::StrCat("offer ", k));
  }
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> value, PerOffer(body, "value", offers, 1.0));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> cost, PerOffer(body, "cost", offers, 0.0));
  COMPTOIR_ASSIGN_OR_RETURN(const EncodedRows encoded, EncodeJsonRows(uplift->schema(), {&*features}));
  COMPTOIR_ASSIGN_OR_RETURN(const RowMatrix effect, uplift->Effect(encoded.matrix));

  // comptoir.promo.plan_offers' rule without a binding budget: the offer whose incremental value
  // (value x effect) exceeds its cost most, if any does (min_value_per_spend = 1: never at a loss).
  int best = -1;
  double best_profit = 0.0;
  Json effects = Json::object();
  for (std::size_t k = 0; k < offers.size(); ++k) {
    const double e = effect(0, static_cast<Eigen::Index>(k));
    effects[offers[k]] = e;
    const double profit = value[k] * e - cost[k];
    if (profit > best_profit) {
      best_profit = profit;
      best = static_cast<int>(k);
    }
  }
  Json reasons = Json::array();
  if (best >= 0 && top > 0) {
    COMPTOIR_ASSIGN_OR_RETURN(const RowMatrix why, uplift->Contributions(encoded.matrix, best + 1));
    reasons = TopReasons(uplift->schema(), why, 0, top);
  }
  return Json{{"model", name},
              {"version", served->version},
              {"offer", best >= 0 ? Json(offers[static_cast<std::size_t>(best)]) : Json(nullptr)},
              {"offer_code", best + 1},  // as comptoir.promo plans number offers: 0 = none, k = the k-th
              {"expected_incremental_value", best >= 0 ? best_profit : 0.0},
              {"effect", best >= 0 ? effect(0, best) : 0.0},
              {"effects", std::move(effects)},
              {"reasons", std::move(reasons)},
              {"unseen", encoded.unseen}};
}

}  // namespace comptoir::serve
