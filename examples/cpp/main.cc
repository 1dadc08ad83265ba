// A storefront backend's view of comptoir, built against the *installed* package: it loads the
// models a notebook saved (examples/quickstart_models.py writes them), once, at start-up, and
// serves them in the shop's own ids, the way a request handler would.
//
//   storefront_example MODEL_DIR      (reads recommender.cmf, propensity.cmf, uplift.cmf)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "comptoir/comptoir.h"

namespace {

// The reasons behind one score: the features that pushed it most, in either direction.
std::string TopReasons(const comptoir::FeatureSchema& schema, const comptoir::RowMatrix& contributions, int row, int count) {
  std::vector<int> order(static_cast<std::size_t>(contributions.cols() - 1));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return std::abs(contributions(row, a)) > std::abs(contributions(row, b));
  });
  std::string text;
  for (int i = 0; i < count && i < static_cast<int>(order.size()); ++i) {
    const int j = order[static_cast<std::size_t>(i)];
    char part[160];
    std::snprintf(part, sizeof part, "%s%s %+.3f", i ? ", " : "",
                  schema.feature_names.empty() ? ("x" + std::to_string(j)).c_str() : schema.feature_names[static_cast<std::size_t>(j)].c_str(),
                  contributions(row, j));
    text += part;
  }
  return text;
}

absl::Status ServeRecommender(const std::string& path) {
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<comptoir::Model> model, comptoir::LoadModel(path));
  if (model->AsRecommender() == nullptr) return absl::FailedPreconditionError(path + " is not a recommender");
  if (!model->ids().has_items()) return absl::FailedPreconditionError(path + " carries no shop item ids");
  // A live session in the shop's SKUs (the first items the model knows) plus one it never saw.
  comptoir::ShopRecommendRequest request;
  request.session_items = {model->ids().ItemId(0), model->ids().ItemId(1), "NOT-A-SKU"};
  request.k = 5;
  request.filters.exclude_session_items = true;  // already viewed: not worth a slot
  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::ShopRecommendation answer, model->Recommend(request));
  if (answer.items.empty()) return absl::InternalError("no recommendation");
  std::printf("%s (%s): session [%s, %s] -> %zu items, unknown: %zu\n", path.c_str(), model->kind().c_str(),
              request.session_items[0].c_str(), request.session_items[1].c_str(), answer.items.size(),
              answer.unknown_items.size());
  for (std::size_t i = 0; i < answer.items.size(); ++i) {
    std::printf("  %-12s %.4f  %s\n", answer.items[i].c_str(), answer.scores[i], answer.reasons[i].text.c_str());
  }
  return absl::OkStatus();
}

// One customer's row as a backend has it: values by column name, categories as text.
absl::StatusOr<comptoir::EncodedRows> CustomerRow(const comptoir::FeatureSchema& schema) {
  std::vector<std::string> columns = schema.feature_names;
  std::vector<comptoir::FeatureValue> row;
  for (std::size_t j = 0; j < columns.size(); ++j) {
    const comptoir::TypedValues* levels = schema.LevelsOf(static_cast<std::int32_t>(j));
    if (levels != nullptr && !levels->empty()) {
      row.emplace_back(levels->values.front());
    } else {
      row.emplace_back(0.5);
    }
  }
  const std::vector<std::vector<comptoir::FeatureValue>> rows = {row};
  return comptoir::EncodeRows(schema, columns, rows);
}

absl::Status ServeScorer(const std::string& path) {
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<comptoir::Model> model, comptoir::LoadModel(path));
  const comptoir::Scorer* scorer = model->AsScorer();
  if (scorer == nullptr) return absl::FailedPreconditionError(path + " is not a scorer");
  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::EncodedRows row, CustomerRow(scorer->schema()));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<double> score, scorer->Score(row.matrix));
  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::RowMatrix why, scorer->Contributions(row.matrix));
  if (!(score[0] >= 0 && score[0] <= 1)) return absl::InternalError("the calibrated probability is not in [0, 1]");
  std::printf("%s (%s): P(buy) = %.4f because %s\n", path.c_str(), model->kind().c_str(), score[0],
              TopReasons(scorer->schema(), why, 0, 3).c_str());
  return absl::OkStatus();
}

absl::Status ServeUplift(const std::string& path) {
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<comptoir::Model> model, comptoir::LoadModel(path));
  const comptoir::UpliftModel* uplift = model->AsUpliftModel();
  if (uplift == nullptr) return absl::FailedPreconditionError(path + " is not an uplift model");
  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::EncodedRows row, CustomerRow(uplift->schema()));
  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::RowMatrix effect, uplift->Effect(row.matrix));
  Eigen::Index best = 0;
  effect.row(0).maxCoeff(&best);
  const std::int32_t offer = static_cast<std::int32_t>(best) + 1;
  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::RowMatrix why, uplift->Contributions(row.matrix, offer));
  const std::vector<std::string>& arms = uplift->schema().arm_names.values;
  const std::string name = static_cast<std::size_t>(offer) < arms.size() ? arms[static_cast<std::size_t>(offer)] : std::to_string(offer);
  std::printf("%s (%s): best offer '%s', uplift %+.4f because %s\n", path.c_str(), model->kind().c_str(), name.c_str(),
              effect(0, best), TopReasons(uplift->schema(), why, 0, 3).c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  comptoir::SetLogSink([](comptoir::LogLevel, std::string_view message) {
    std::fprintf(stderr, "[comptoir] %.*s\n", static_cast<int>(message.size()), message.data());
  });
  const std::string dir = argc > 1 ? argv[1] : ".";
  std::printf("comptoir %s\n", comptoir::kVersion);
  for (const absl::Status& status : {ServeRecommender(dir + "/recommender.cmf"), ServeScorer(dir + "/propensity.cmf"),
                                     ServeUplift(dir + "/uplift.cmf")}) {
    if (!status.ok()) {
      std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
