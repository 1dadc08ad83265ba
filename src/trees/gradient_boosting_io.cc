// GradientBoosting's model file: the config, the bins and trees (the "model" blob), the schema and
// the training profile; and the shape checks that make a crafted file an error, not a crash.
#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "comptoir/v1/trees.pb.h"
#include "internal/strings.h"
#include "trees/tree_check.h"

namespace comptoir::trees {
namespace {

v1::GradientBoostingConfig ConfigToProto(const GradientBoostingConfig& config, std::uint64_t seed) {
  v1::GradientBoostingConfig c;
  c.set_objective(static_cast<v1::Objective>(config.objective));
  c.set_power(config.power);
  c.set_n_estimators(config.n_estimators);
  c.set_learning_rate(config.learning_rate);
  c.set_num_leaves(config.num_leaves);
  c.set_max_depth(config.max_depth);
  c.set_min_samples_leaf(config.min_samples_leaf);
  c.set_min_hessian_leaf(config.min_hessian_leaf);
  c.set_l2_regularization(config.l2_regularization);
  c.set_min_split_gain(config.min_split_gain);
  c.set_categorical_smoothing(config.categorical_smoothing);
  c.set_min_samples_category(config.min_samples_category);
  c.set_subsample(config.subsample);
  c.set_colsample(config.colsample);
  c.set_early_stopping(config.early_stopping);
  c.set_n_iter_no_change(config.n_iter_no_change);
  c.set_max_bins(config.binning.max_bins);
  for (std::int32_t j : config.binning.categorical_features) c.add_categorical_features(j);
  c.set_sample_rows(config.binning.sample_rows);
  c.set_histogram_layout(static_cast<v1::HistogramLayout>(config.histogram_layout));
  c.set_seed(seed);
  return c;
}

bool ConfigFromProto(const v1::GradientBoostingConfig& c, GradientBoostingConfig& config) {
  if (c.objective() < v1::OBJECTIVE_BINARY_LOG_LOSS || c.objective() > v1::OBJECTIVE_TWEEDIE) return false;
  if (c.histogram_layout() < v1::HISTOGRAM_LAYOUT_AUTO || c.histogram_layout() > v1::HISTOGRAM_LAYOUT_SPARSE) return false;
  config.objective = static_cast<Objective>(c.objective());
  config.power = c.power();
  config.n_estimators = c.n_estimators();
  config.learning_rate = c.learning_rate();
  config.num_leaves = c.num_leaves();
  config.max_depth = c.max_depth();
  config.min_samples_leaf = c.min_samples_leaf();
  config.min_hessian_leaf = c.min_hessian_leaf();
  config.l2_regularization = c.l2_regularization();
  config.min_split_gain = c.min_split_gain();
  config.categorical_smoothing = c.categorical_smoothing();
  config.min_samples_category = c.min_samples_category();
  config.subsample = c.subsample();
  config.colsample = c.colsample();
  config.n_iter_no_change = c.n_iter_no_change();
  config.early_stopping = c.has_early_stopping() ? c.early_stopping() : c.n_iter_no_change() > 0;
  config.binning.max_bins = c.max_bins();
  config.binning.categorical_features.assign(c.categorical_features().begin(), c.categorical_features().end());
  config.binning.sample_rows = c.sample_rows();
  config.histogram_layout = static_cast<GradientBoostingConfig::HistogramLayout>(c.histogram_layout());
  return config.Validate().ok();
}

}  // namespace

std::int32_t TreeDepth(const Tree& tree) {
  std::vector<std::int32_t> depth(tree.feature.size(), 0);
  std::int32_t deepest = 0;
  for (std::size_t k = 0; k < depth.size(); ++k) {
    if (tree.left[k] < 0) continue;
    for (const std::int32_t child : {tree.left[k], tree.right[k]}) {
      depth[static_cast<std::size_t>(child)] = depth[k] + 1;
      deepest = std::max(deepest, depth[k] + 1);
    }
  }
  return deepest;
}

absl::Status CheckTree(const Tree& t, std::int32_t num_features) {
  const std::size_t n = t.feature.size();
  const bool sizes = n > 0 && t.threshold.size() == n && t.left.size() == n && t.right.size() == n && t.default_left.size() == n &&
                     t.category_set.size() == n && t.value.size() == n && t.cover.size() == n;
  if (!sizes) return absl::DataLossError("a tree's arrays disagree in length");
  // Children after their parent and one parent per node: the nodes form one tree from node 0, so
  // walks terminate and TreeSHAP visits each node once (shared children would multiply the paths).
  std::vector<std::uint8_t> parents(n, 0);
  for (std::size_t k = 0; k < n; ++k) {
    if (t.left[k] < 0) continue;
    const auto node = static_cast<std::int64_t>(k);
    const bool ok = t.left[k] > node && t.right[k] > node && t.left[k] != t.right[k] &&
                    static_cast<std::size_t>(t.left[k]) < n && static_cast<std::size_t>(t.right[k]) < n &&
                    t.feature[k] >= 0 && t.feature[k] < num_features && t.cover[k] > 0 &&
                    t.category_set[k] < static_cast<std::int64_t>(t.category_bins.size());
    if (!ok) return absl::DataLossError(absl::StrCat("tree node ", k, " is malformed"));
    for (const std::int32_t child : {t.left[k], t.right[k]}) {
      if (parents[static_cast<std::size_t>(child)]++ != 0) {
        return absl::DataLossError(absl::StrCat("tree node ", child, " has two parents"));
      }
    }
  }
  for (std::size_t k = 1; k < n; ++k) {
    if (parents[k] == 0) return absl::DataLossError(absl::StrCat("tree node ", k, " is not reachable from the root"));
  }
  if (const std::int32_t depth = TreeDepth(t); depth > kMaxTreeDepth) {
    return absl::DataLossError(
        absl::StrCat("a tree is ", depth, " levels deep; comptoir grows and loads trees of at most ", kMaxTreeDepth));
  }
  return absl::OkStatus();
}

absl::StatusOr<io::ModelFile> GradientBoosting::ToModelFile() const {
  io::ModelFile file(kModelKind);
  file.set_config(ConfigToProto(config_, seed_).SerializeAsString());

  v1::GradientBoostingModel m;
  for (std::int32_t j = 0; j < num_features(); ++j) {
    v1::FeatureBins* bins = m.add_binning();
    bins->set_categorical(binning_.is_categorical(j));
    for (double b : binning_.upper_bounds(j)) bins->add_upper_bounds(b);
    for (std::int32_t cat : binning_.categories(j)) bins->add_categories(cat);
  }
  for (const Tree& tree : trees_) {
    v1::Tree* t = m.add_trees();
    t->mutable_feature()->Add(tree.feature.begin(), tree.feature.end());
    t->mutable_threshold()->Add(tree.threshold.begin(), tree.threshold.end());
    t->mutable_left()->Add(tree.left.begin(), tree.left.end());
    t->mutable_right()->Add(tree.right.begin(), tree.right.end());
    t->set_default_left(std::string(tree.default_left.begin(), tree.default_left.end()));
    t->mutable_category_set()->Add(tree.category_set.begin(), tree.category_set.end());
    t->mutable_value()->Add(tree.value.begin(), tree.value.end());
    t->mutable_cover()->Add(tree.cover.begin(), tree.cover.end());
    for (const auto& set : tree.category_bins) t->mutable_category_bins()->Add(set.begin(), set.end());
  }
  m.set_base_score(base_score_);
  m.mutable_validation_loss()->Add(validation_loss_.begin(), validation_loss_.end());
  m.mutable_feature_importance()->Add(feature_importance_.begin(), feature_importance_.end());
  COMPTOIR_RETURN_IF_ERROR(file.AddBlob("model", m.SerializeAsString()));
  COMPTOIR_RETURN_IF_ERROR(schema_.AppendTo(file));
  COMPTOIR_RETURN_IF_ERROR(training_profile_.AddTo(file));
  return file;
}

absl::StatusOr<GradientBoosting> GradientBoosting::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  const auto corrupt = [](std::string_view what) { return MarkModelFormatError(absl::DataLossError(absl::StrCat("gradient boosting model: ", internal::Sv(what)))); };
  v1::GradientBoostingConfig c;
  if (!c.ParseFromString(file.config())) return corrupt("the config does not parse");
  COMPTOIR_ASSIGN_OR_RETURN(const std::string_view blob, file.Blob("model"));
  v1::GradientBoostingModel m;
  if (!m.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) return corrupt("the trees do not parse");

  GradientBoosting model;
  GradientBoostingConfig& config = model.config_;
  if (!ConfigFromProto(c, config)) return corrupt("the config is invalid");
  model.seed_ = c.seed();

  std::vector<std::vector<double>> bounds;
  std::vector<std::vector<std::int32_t>> categories;
  std::vector<bool> categorical;
  for (const v1::FeatureBins& bins : m.binning()) {
    categorical.push_back(bins.categorical());
    bounds.emplace_back(bins.upper_bounds().begin(), bins.upper_bounds().end());
    categories.emplace_back(bins.categories().begin(), bins.categories().end());
  }
  absl::StatusOr<FeatureBinning> binning = FeatureBinning::FromParts(std::move(bounds), std::move(categories), std::move(categorical));
  if (!binning.ok()) return MarkModelFormatError(binning.status());
  model.binning_ = *std::move(binning);
  const std::int32_t p = model.num_features();
  // The scoring layout indexes all nodes with int32 and all category sets with 24 bits.
  std::int64_t total_nodes = 0, total_sets = 0;
  for (const v1::Tree& t : m.trees()) {
    total_nodes += t.feature_size();
    total_sets += t.category_bins_size() / 4;
  }
  if (total_nodes >= std::numeric_limits<std::int32_t>::max() || total_sets >= (std::int64_t{1} << 23)) {
    return corrupt("more nodes or category sets than a model can hold");
  }
  for (const v1::Tree& t : m.trees()) {
    Tree tree;
    tree.feature.assign(t.feature().begin(), t.feature().end());
    tree.threshold.assign(t.threshold().begin(), t.threshold().end());
    tree.left.assign(t.left().begin(), t.left().end());
    tree.right.assign(t.right().begin(), t.right().end());
    tree.default_left.assign(t.default_left().begin(), t.default_left().end());
    tree.category_set.assign(t.category_set().begin(), t.category_set().end());
    tree.value.assign(t.value().begin(), t.value().end());
    tree.cover.assign(t.cover().begin(), t.cover().end());
    if (t.category_bins_size() % 4 != 0) return corrupt("a tree's category sets are truncated");
    for (int k = 0; k < t.category_bins_size(); k += 4) {
      tree.category_bins.push_back({t.category_bins(k), t.category_bins(k + 1), t.category_bins(k + 2), t.category_bins(k + 3)});
    }
    if (absl::Status s = CheckTree(tree, p); !s.ok()) return MarkModelFormatError(s);
    model.trees_.push_back(std::move(tree));
  }
  model.base_score_ = m.base_score();
  model.validation_loss_.assign(m.validation_loss().begin(), m.validation_loss().end());
  model.feature_importance_.assign(m.feature_importance().begin(), m.feature_importance().end());
  model.schema_.feature_names.assign(m.feature_names().begin(), m.feature_names().end());
  if (!internal::AllUtf8(model.schema_.feature_names)) return corrupt("feature names are not UTF-8 text");
  if (static_cast<std::int32_t>(model.feature_importance_.size()) != p ||
      (!model.schema_.feature_names.empty() && static_cast<std::int32_t>(model.schema_.feature_names.size()) != p)) {
    return corrupt("per-feature arrays do not match the feature count");
  }
  if (file.Blob(kSchemaBlob).ok()) {
    COMPTOIR_ASSIGN_OR_RETURN(model.schema_, FeatureSchema::ReadFrom(file, p));
  }
  COMPTOIR_ASSIGN_OR_RETURN(model.training_profile_, features::FeatureProfile::FromModelFile(file, p));
  model.BuildScoringLayout();
  return model;
}

}  // namespace comptoir::trees
