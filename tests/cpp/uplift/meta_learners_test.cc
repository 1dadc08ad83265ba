#include "comptoir/uplift/meta_learners.h"

#include <cmath>
#include <string>
#include <vector>

#include "comptoir/model.h"
#include "comptoir/propensity/logistic.h"
#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "comptoir/uplift/forest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/rng.h"
#include "testing/status_matchers.h"

namespace comptoir::uplift {
namespace {

using ::comptoir::testing::StatusIs;
using ::testing::HasSubstr;

// Three arms, three features: offer 1 helps when x0 > 0, offer 2 grows with x1.
struct Data {
  RowMatrix X;
  std::vector<std::int32_t> arm;
  std::vector<double> converted, spend;
};

Data MakeData(Eigen::Index n, std::uint64_t seed) {
  internal::CounterRng rng(seed, 0);
  Data d{RowMatrix(n, 3), {}, {}, {}};
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) d.X(i, j) = rng.Uniform(-1, 1);
    const auto t = static_cast<std::int32_t>(rng.UniformInt(3));
    const double effect = t == 1 ? (d.X(i, 0) > 0 ? 0.2 : -0.05) : t == 2 ? 0.1 * (d.X(i, 1) + 1) : 0.0;
    const double p = 0.3 + 0.1 * d.X(i, 2) + effect;
    d.arm.push_back(t);
    d.converted.push_back(rng.Uniform() < p ? 1.0 : 0.0);
    d.spend.push_back(20 + 5 * d.X(i, 2) + 30 * effect + rng.Normal());
  }
  return d;
}

RowMatrix Rows(const RowMatrix& X, const std::vector<std::int32_t>& arm, std::int32_t a) {
  std::vector<Eigen::Index> keep;
  for (std::size_t i = 0; i < arm.size(); ++i) {
    if (a < 0 || arm[i] == a) keep.push_back(static_cast<Eigen::Index>(i));
  }
  RowMatrix out(static_cast<Eigen::Index>(keep.size()), X.cols());
  for (std::size_t r = 0; r < keep.size(); ++r) out.row(static_cast<Eigen::Index>(r)) = X.row(keep[r]);
  return out;
}

std::vector<double> Values(const std::vector<double>& y, const std::vector<std::int32_t>& arm, std::int32_t a) {
  std::vector<double> out;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (a < 0 || arm[i] == a) out.push_back(y[i]);
  }
  return out;
}

std::string Bytes(const absl::StatusOr<io::ModelFile>& file) { return io::SerializeModelFile(file.value()).value(); }

std::string Logistic(const RowMatrix& X, const std::vector<double>& y) {
  const std::vector<std::uint8_t> labels(y.begin(), y.end());
  return Bytes(propensity::LogisticRegression::Fit(X, labels, {}, {}, {}).value().ToModelFile());
}

std::string Boosted(const RowMatrix& X, const std::vector<double>& y, trees::Objective objective) {
  trees::GradientBoostingConfig config;
  config.objective = objective;
  return Bytes(trees::GradientBoosting::Fit(X, y, {}, RowMatrix(0, X.cols()), {}, config, {}).value().ToModelFile());
}

// A fitted learner of each kind (the parts are fitted as the Python layer fits them; what is
// under test is how the composite serves them).
MetaLearner Make(MetaLearnerType learner, const Data& d) {
  MetaLearnerSpec spec;
  spec.learner = learner;
  spec.num_arms = 3;
  std::vector<std::string> parts;
  switch (learner) {
    case MetaLearnerType::kTLearner:
      for (std::int32_t a = 0; a < 3; ++a) parts.push_back(Logistic(Rows(d.X, d.arm, a), Values(d.converted, d.arm, a)));
      break;
    case MetaLearnerType::kSLearner: {
      RowMatrix design(0, 3 + 2 + 6);
      std::vector<double> y;
      for (std::int32_t a = 0; a < 3; ++a) {
        const RowMatrix part = MetaLearner::Design(Rows(d.X, d.arm, a), a, 3);
        design.conservativeResize(design.rows() + part.rows(), Eigen::NoChange);
        design.bottomRows(part.rows()) = part;
        for (double v : Values(d.converted, d.arm, a)) y.push_back(v);
      }
      parts.push_back(Boosted(design, y, trees::Objective::kBinaryLogLoss));
      break;
    }
    case MetaLearnerType::kClassTransformation:
      for (std::int32_t a = 1; a < 3; ++a) parts.push_back(Boosted(d.X, d.converted, trees::Objective::kBinaryLogLoss));
      break;
    case MetaLearnerType::kXLearner:
      spec.binary_outcome = false;
      spec.blend = {0.3, 0.6};
      for (std::int32_t a = 0; a < 4; ++a) parts.push_back(Boosted(d.X, d.spend, trees::Objective::kSquaredError));
      break;
    case MetaLearnerType::kDRLearner:
      spec.binary_outcome = false;
      for (std::int32_t a = 1; a < 3; ++a) parts.push_back(Boosted(d.X, d.spend, trees::Objective::kSquaredError));
      break;
  }
  FeatureSchema schema;
  schema.feature_names = {"tenure", "price_sensitivity", "noise"};
  schema.arm_names.type = TypedValues::Type::kString;
  schema.arm_names.values = {"none", "ten off", "free shipping"};
  return MetaLearner::Create(spec, std::move(parts), std::move(schema)).value();
}

class MetaLearnerKindTest : public ::testing::TestWithParam<MetaLearnerType> {};

std::string LearnerName(const ::testing::TestParamInfo<MetaLearnerType>& info) {
  return MetaLearner::KindOf(info.param);
}

TEST_P(MetaLearnerKindTest, RoundTripsThroughTheLoaderWithIdenticalEffectsAndReasons) {
  const Data d = MakeData(3000, 1), test = MakeData(200, 2);
  const MetaLearner learner = Make(GetParam(), d);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix effect, learner.Effect(test.X));
  ASSERT_EQ(effect.rows(), 200);
  ASSERT_EQ(effect.cols(), 2);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, learner.ToModelFile());
  EXPECT_EQ(file.model_kind(), MetaLearner::KindOf(GetParam()));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, io::SerializeModelFile(file));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::unique_ptr<Model> model, LoadModelFromBytes(bytes));
  EXPECT_EQ(model->kind(), MetaLearner::KindOf(GetParam()));
  const UpliftModel* loaded = model->AsUpliftModel();
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(model->AsScorer(), nullptr);
  EXPECT_EQ(loaded->num_offers(), 2);
  EXPECT_EQ(loaded->schema().arm_names.values, (std::vector<std::string>{"none", "ten off", "free shipping"}));
  EXPECT_EQ(loaded->schema().feature_names[1], "price_sensitivity");
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix again, loaded->Effect(test.X));
  EXPECT_TRUE((again.array() == effect.array()).all());
  for (std::int32_t offer = 1; offer <= 2; ++offer) {
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix reasons, learner.Contributions(test.X, offer));
    ASSERT_EQ(reasons.cols(), 4);
    for (Eigen::Index i = 0; i < reasons.rows(); ++i) {
      EXPECT_NEAR(reasons.row(i).sum(), effect(i, offer - 1), 1e-9) << "row " << i << " offer " << offer;
    }
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix loaded_reasons, loaded->Contributions(test.X, offer));
    EXPECT_TRUE((loaded_reasons.array() == reasons.array()).all());
  }
  EXPECT_THAT(learner.Contributions(test.X, 3), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offer must be in 1..2")));
  EXPECT_THAT(learner.Effect(test.X.leftCols(2)), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3")));
}

INSTANTIATE_TEST_SUITE_P(Kinds, MetaLearnerKindTest,
                         ::testing::Values(MetaLearnerType::kSLearner, MetaLearnerType::kTLearner,
                                           MetaLearnerType::kXLearner, MetaLearnerType::kDRLearner,
                                           MetaLearnerType::kClassTransformation),
                         LearnerName);

TEST(MetaLearnerTest, EffectsFollowThePythonArithmetic) {
  const Data d = MakeData(2000, 3), test = MakeData(50, 4);
  const MetaLearner t = Make(MetaLearnerType::kTLearner, d);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix outcomes, t.ArmOutcomes(test.X));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix effect, t.Effect(test.X));
  for (Eigen::Index i = 0; i < 50; ++i) {
    EXPECT_EQ(effect(i, 0), outcomes(i, 1) - outcomes(i, 0));
    EXPECT_EQ(effect(i, 1), outcomes(i, 2) - outcomes(i, 0));
  }
  const MetaLearner x = Make(MetaLearnerType::kXLearner, d);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix x_effect, x.Effect(test.X));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> on_control, x.part(2).Score(test.X));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> on_treated, x.part(3).Score(test.X));
  for (Eigen::Index i = 0; i < 50; ++i) {
    const auto r = static_cast<std::size_t>(i);
    EXPECT_EQ(x_effect(i, 1), 0.6 * on_control[r] + (1 - 0.6) * on_treated[r]);
  }
  // The X-learner's reasons are its regressors' TreeSHAP, blended.
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix a, x.part(2).Contributions(test.X));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix b, x.part(3).Contributions(test.X));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix reasons, x.Contributions(test.X, 2));
  EXPECT_TRUE((reasons.array() == (0.6 * a.array() + (1 - 0.6) * b.array())).all());
  EXPECT_THAT(x.ArmOutcomes(test.X), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("models effects")));
}

TEST(MetaLearnerTest, TheSLearnerDesignMatchesThePythonLayout) {
  RowMatrix X(2, 2);
  X << 1, -2, 3, 4;
  const RowMatrix design = MetaLearner::Design(X, 2, 3);
  RowMatrix expected(2, 2 + 2 + 4);
  expected << 1, -2, 0, 1, 0, -0.0, 1, -2,  //
      3, 4, 0, 1, 0, 0, 3, 4;
  EXPECT_TRUE((design.array() == expected.array()).all());
  EXPECT_TRUE(std::signbit(design(0, 5)));  // 0 * -2, as NumPy computes it
}

TEST(MetaLearnerTest, LinkedOutputsAreExplainedOnTheirOwnScale) {
  // A T-learner of Poisson regressors: its reasons are rescaled from the log scale.
  const Data d = MakeData(3000, 5), test = MakeData(100, 6);
  MetaLearnerSpec spec;
  spec.learner = MetaLearnerType::kTLearner;
  spec.binary_outcome = false;
  spec.num_arms = 3;
  std::vector<std::string> parts;
  for (std::int32_t a = 0; a < 3; ++a) parts.push_back(Boosted(Rows(d.X, d.arm, a), Values(d.spend, d.arm, a), trees::Objective::kPoisson));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const MetaLearner learner, MetaLearner::Create(spec, parts, {}));
  EXPECT_EQ(learner.schema().arm_names.values, (std::vector<std::string>{"control", "offer 1", "offer 2"}));
  EXPECT_EQ(learner.schema().feature_names, (std::vector<std::string>{"x0", "x1", "x2"}));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix effect, learner.Effect(test.X));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix reasons, learner.Contributions(test.X, 1));
  for (Eigen::Index i = 0; i < 100; ++i) EXPECT_NEAR(reasons.row(i).sum(), effect(i, 0), 1e-9);
}

TEST(MetaLearnerTest, PartsThatDoNotFitAreRefused) {
  const Data d = MakeData(1500, 7);
  MetaLearnerSpec spec;
  spec.learner = MetaLearnerType::kTLearner;
  spec.num_arms = 3;
  const std::string classifier = Logistic(d.X, d.converted);
  const std::string regressor = Boosted(d.X, d.spend, trees::Objective::kSquaredError);
  EXPECT_THAT(MetaLearner::Create(spec, {classifier, classifier}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 3 parts, got 2")));
  EXPECT_THAT(MetaLearner::Create(spec, {classifier, regressor, classifier}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t_learner part 1 (the response model of arm 1) gives a prediction")));
  spec.learner = MetaLearnerType::kXLearner;
  spec.binary_outcome = false;
  EXPECT_THAT(MetaLearner::Create(spec, {regressor, regressor, regressor, regressor}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0 blend weights for 2 offers")));
  // A nested forest is not a scorer: a ModelFormatError naming the part.
  UpliftForestConfig config;
  config.n_estimators = 2;
  config.min_samples_leaf = 50;
  const std::string forest = Bytes(UpliftForest::Fit(d.X, d.arm, d.converted, config, {}).value().ToModelFile());
  spec.learner = MetaLearnerType::kDRLearner;
  const absl::StatusOr<MetaLearner> nested = MetaLearner::Create(spec, {regressor, forest}, {});
  EXPECT_THAT(nested, StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("dr_learner part 1 (offer 2's effect regressor) is a 'uplift_forest' model")));
  EXPECT_TRUE(IsModelFormatError(nested.status()));
}

TEST(MetaLearnerTest, DamagedOrMislabelledFilesAreModelFormatErrors) {
  const Data d = MakeData(1500, 8);
  const MetaLearner learner = Make(MetaLearnerType::kDRLearner, d);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const io::ModelFile file, learner.ToModelFile());
  // The kind says T-learner, the config DR-learner.
  io::ModelFile relabelled("t_learner");
  relabelled.set_config(file.config());
  for (const auto& blob : file.blobs()) COMPTOIR_ASSERT_OK(relabelled.AddBlob(blob.name, blob.bytes));
  absl::StatusOr<std::unique_ptr<Model>> loaded = LoadModelFromFile(relabelled);
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("config names learner")));
  EXPECT_TRUE(IsModelFormatError(loaded.status()));
  // A missing part.
  io::ModelFile missing = file;
  ASSERT_TRUE(missing.RemoveBlob("part_1"));
  loaded = LoadModelFromFile(missing);
  EXPECT_FALSE(loaded.ok());
  EXPECT_TRUE(IsModelFormatError(loaded.status()));
  // A part of another family where a scorer belongs.
  io::ModelFile foreign = file;
  UpliftForestConfig config;
  config.n_estimators = 2;
  config.min_samples_leaf = 50;
  foreign.SetBlob("part_0", Bytes(UpliftForest::Fit(d.X, d.arm, d.converted, config, {}).value().ToModelFile()));
  loaded = LoadModelFromFile(foreign);
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a scorer")));
  EXPECT_TRUE(IsModelFormatError(loaded.status()));
  // A meta-learner file is no forest.
  EXPECT_THAT(UpliftForest::FromModelFile(file), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                          HasSubstr("holds a 'dr_learner' model, not a 'uplift_forest'")));
}

}  // namespace
}  // namespace comptoir::uplift
