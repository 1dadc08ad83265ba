// Gradient boosting model files through the registry: every kind of model comes back exactly, and
// crafted files with valid checksums are format errors, never crashes.
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "comptoir/model.h"
#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "comptoir/v1/trees.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::trees {
namespace {

using ::testing::HasSubstr;

struct Data {
  RowMatrix X;
  std::vector<double> y;
};

// Column 0 a category code (0..5, some missing), the others numeric; y binary or a count.
Data Synthetic(Eigen::Index n, bool counts) {
  internal::CounterRng rng(21, 0);
  Data d{RowMatrix(n, 3), std::vector<double>(static_cast<std::size_t>(n))};
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto category = static_cast<double>(rng.UniformInt(6));
    d.X(i, 0) = rng.Uniform() < 0.05 ? std::numeric_limits<double>::quiet_NaN() : category;
    d.X(i, 1) = rng.Normal();
    d.X(i, 2) = rng.Normal();
    const double z = (category == 2 || category == 5 ? 1.0 : -0.5) + d.X(i, 1) - 0.5 * d.X(i, 2) * d.X(i, 2);
    d.y[static_cast<std::size_t>(i)] = counts ? std::floor(std::exp(0.5 * z) * 2 * rng.Uniform()) : rng.Uniform() < 1 / (1 + std::exp(-z));
  }
  return d;
}

FeatureSchema SchemaFor(bool classifier) {
  FeatureSchema schema;
  schema.feature_names = {"segment", "recency", "spend"};
  schema.categorical = {{0, {TypedValues::Type::kString, {"a", "b", "c", "d", "e", "f"}}}};
  if (classifier) schema.class_labels = {TypedValues::Type::kString, {"no", "yes"}};
  return schema;
}

std::unique_ptr<Model> RoundTrip(const Scorer& scorer) {
  const std::string bytes = io::SerializeModelFile(scorer.ToModelFile().value()).value();
  absl::StatusOr<std::unique_ptr<Model>> model = LoadModelFromBytes(bytes);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

TEST(GradientBoostingModelFile, EveryObjectiveComesBackBitIdenticalThroughTheRegistry) {
  for (const Objective objective : {Objective::kBinaryLogLoss, Objective::kSquaredError, Objective::kPoisson, Objective::kTweedie}) {
    const bool classifier = objective == Objective::kBinaryLogLoss;
    const Data d = Synthetic(1500, !classifier);
    GradientBoostingConfig config;
    config.objective = objective;
    config.power = 1.3;
    config.n_estimators = 15;
    config.subsample = 0.8;
    config.colsample = 0.7;
    config.l2_regularization = 0.5;
    config.histogram_layout = GradientBoostingConfig::HistogramLayout::kDense;
    config.binning.categorical_features = {0};
    config.binning.max_bins = 64;
    ExecutionOptions options;
    options.seed = 7;
    GradientBoosting model = GradientBoosting::Fit(d.X, d.y, {}, RowMatrix(0, 3), {}, config, options).value();
    ASSERT_TRUE(model.set_schema(SchemaFor(classifier)).ok());

    const std::unique_ptr<Model> loaded = RoundTrip(model);
    const Scorer* scorer = loaded->AsScorer();
    ASSERT_NE(scorer, nullptr);
    EXPECT_EQ(scorer->output(), model.output());
    EXPECT_EQ(scorer->Score(d.X).value(), model.Score(d.X).value());
    EXPECT_EQ(scorer->Contributions(d.X.topRows(50)).value(), model.Contributions(d.X.topRows(50)).value());
    EXPECT_EQ(scorer->schema().Serialize(), model.schema().Serialize());

    const auto* gb = dynamic_cast<const GradientBoosting*>(scorer);
    ASSERT_NE(gb, nullptr);
    const GradientBoostingConfig& c = gb->config();
    EXPECT_EQ(c.objective, objective);
    EXPECT_EQ(c.power, 1.3);
    EXPECT_EQ(c.n_estimators, 15);
    EXPECT_EQ(c.subsample, 0.8);
    EXPECT_EQ(c.colsample, 0.7);
    EXPECT_EQ(c.l2_regularization, 0.5);
    EXPECT_EQ(c.histogram_layout, GradientBoostingConfig::HistogramLayout::kDense);
    EXPECT_EQ(c.binning.categorical_features, std::vector<std::int32_t>{0});
    EXPECT_EQ(c.binning.max_bins, 64);
    EXPECT_FALSE(c.early_stopping);
    EXPECT_EQ(gb->seed(), 7u);
  }
}

// An old file's config: early stopping was n_iter_no_change (then early_stopping_rounds) > 0.
TEST(GradientBoostingModelFile, FilesWithoutTheEarlyStoppingFlagReadItFromTheRounds) {
  const Data d = Synthetic(500, false);
  GradientBoostingConfig config;
  config.n_estimators = 3;
  const GradientBoosting model = GradientBoosting::Fit(d.X, d.y, {}, RowMatrix(0, 3), {}, config, {}).value();
  io::ModelFile file = model.ToModelFile().value();
  for (const int rounds : {0, 5}) {
    v1::GradientBoostingConfig old;
    ASSERT_TRUE(old.ParseFromString(file.config()));
    old.clear_early_stopping();
    old.set_n_iter_no_change(rounds);
    file.set_config(old.SerializeAsString());
    const GradientBoosting loaded = GradientBoosting::FromModelFile(file).value();
    EXPECT_EQ(loaded.config().early_stopping, rounds > 0);
    EXPECT_EQ(loaded.PredictRaw(d.X).value(), model.PredictRaw(d.X).value());
  }
}

// The crafted file: a valid container whose one tree is a chain of 150,001 nodes (75,000 deep).
io::ModelFile WithTree(const GradientBoosting& model, const std::function<void(v1::Tree&)>& craft) {
  io::ModelFile file = model.ToModelFile().value();
  v1::GradientBoostingModel m;
  const std::string_view blob = file.Blob("model").value();
  EXPECT_TRUE(m.ParseFromArray(blob.data(), static_cast<int>(blob.size())));
  craft(*m.mutable_trees(0));
  file.SetBlob("model", m.SerializeAsString());
  return file;
}

void Chain(v1::Tree& t, int nodes) {
  t.Clear();
  for (int k = 0; k < nodes; ++k) {
    // Even nodes split (left: the next split, right: a leaf); odd nodes and the last are leaves.
    const bool split = k % 2 == 0 && k + 2 < nodes;
    t.add_feature(split ? 1 : -1);
    t.add_threshold(0.0);
    t.add_left(split ? k + 2 : -1);
    t.add_right(split ? k + 1 : -1);
    t.add_category_set(-1);
    t.add_value(0.01);
    t.add_cover(1.0);
  }
  t.set_default_left(std::string(static_cast<std::size_t>(nodes), '\1'));
}

// Found by fuzz_load_model: an old file's feature names that are not UTF-8 made protobuf log to
// stderr; they are bytes on the wire now, and the loader refuses them without a word printed.
TEST(GradientBoostingModelFile, LegacyFeatureNamesThatAreNotUtf8AreFormatErrors) {
  const Data d = Synthetic(300, false);
  GradientBoostingConfig config;
  config.n_estimators = 2;
  const GradientBoosting model = GradientBoosting::Fit(d.X, d.y, {}, RowMatrix(0, 3), {}, config, {}).value();
  io::ModelFile file = model.ToModelFile().value();
  file.RemoveBlob(kSchemaBlob);
  v1::GradientBoostingModel m;
  const std::string_view blob = file.Blob("model").value();
  ASSERT_TRUE(m.ParseFromArray(blob.data(), static_cast<int>(blob.size())));
  m.clear_feature_names();
  for (const char* name : {"a", "b\xff", "c"}) m.add_feature_names(name);
  file.SetBlob("model", m.SerializeAsString());
  ::testing::internal::CaptureStderr();
  const absl::Status status = GradientBoosting::FromModelFile(file).status();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(IsModelFormatError(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("not UTF-8"));
}

TEST(GradientBoostingModelFile, CraftedTreesAreFormatErrorsNotCrashes) {
  const Data d = Synthetic(500, false);
  GradientBoostingConfig config;
  config.n_estimators = 2;
  const GradientBoosting model = GradientBoosting::Fit(d.X, d.y, {}, RowMatrix(0, 3), {}, config, {}).value();

  const auto load = [](const io::ModelFile& file) {
    return LoadModelFromBytes(io::SerializeModelFile(file).value()).status();
  };
  const absl::Status deep = load(WithTree(model, [](v1::Tree& t) { Chain(t, 150001); }));
  EXPECT_TRUE(IsModelFormatError(deep)) << deep;
  EXPECT_THAT(deep.message(), HasSubstr("levels deep"));

  // Shared children would make TreeSHAP's paths grow exponentially with depth.
  const absl::Status shared = load(WithTree(model, [](v1::Tree& t) {
    Chain(t, 9);
    t.set_right(0, 2);
  }));
  EXPECT_TRUE(IsModelFormatError(shared)) << shared;
  const absl::Status orphan = load(WithTree(model, [](v1::Tree& t) {
    Chain(t, 9);
    t.add_feature(-1), t.add_threshold(0), t.add_left(-1), t.add_right(-1), t.add_category_set(-1), t.add_value(0), t.add_cover(1);
    t.set_default_left(std::string(10, '\1'));
  }));
  EXPECT_TRUE(IsModelFormatError(orphan)) << orphan;

  // At the bound a chain loads and explains.
  const io::ModelFile ok = WithTree(model, [](v1::Tree& t) { Chain(t, 2 * kMaxTreeDepth + 1); });
  const std::unique_ptr<Model> loaded = LoadModelFromBytes(io::SerializeModelFile(ok).value()).value();
  const RowMatrix contributions = loaded->AsScorer()->Contributions(d.X.topRows(3)).value();
  const std::vector<double> raw = dynamic_cast<const GradientBoosting*>(loaded->AsScorer())->PredictRaw(d.X.topRows(3)).value();
  for (Eigen::Index i = 0; i < 3; ++i) EXPECT_NEAR(contributions.row(i).sum(), raw[static_cast<std::size_t>(i)], 1e-9);

  v1::GradientBoostingConfig bad;
  ASSERT_TRUE(bad.ParseFromString(model.ToModelFile().value().config()));
  bad.set_objective(static_cast<v1::Objective>(9));
  io::ModelFile unknown = model.ToModelFile().value();
  unknown.set_config(bad.SerializeAsString());
  EXPECT_TRUE(IsModelFormatError(load(unknown)));
}

}  // namespace
}  // namespace comptoir::trees
