// Model files saved by Python, served by C++ through comptoir::LoadModel, must give exactly what
// Python computed with them: the committed format-1 golden files (one per kind, kept loading in
// every later version) and, when COMPTOIR_PARITY_DIR is set (.ci/run sets it), files that the
// Python layer has just saved (tests/golden/make_golden.py writes both).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "comptoir/model.h"
#include "gtest/gtest.h"
#include "model/expected_outputs.h"
#include "testing/status_matchers.h"

namespace comptoir {
namespace {

using testing::Block;
using testing::ExpectedOutputs;

// Bit for bit: NaN matches NaN, nothing else differs by even one ulp.
void ExpectSame(double actual, double expected, const std::string& what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what;
  } else {
    EXPECT_EQ(actual, expected) << what;
  }
}

RowMatrix MatrixOf(const Block& block) {
  RowMatrix m(block.rows, block.cols);
  for (std::int64_t r = 0; r < block.rows; ++r) {
    for (std::int64_t c = 0; c < block.cols; ++c) m(r, c) = block.at(r, c);
  }
  return m;
}

void ExpectMatrix(const RowMatrix& actual, const Block& expected, const std::string& what) {
  ASSERT_EQ(actual.rows(), expected.rows) << what;
  ASSERT_EQ(actual.cols(), expected.cols) << what;
  for (std::int64_t r = 0; r < expected.rows; ++r) {
    for (std::int64_t c = 0; c < expected.cols; ++c) {
      ExpectSame(actual(r, c), expected.at(r, c), absl::StrCat(what, "(", r, ", ", c, ")"));
    }
  }
}

const Block& Get(const ExpectedOutputs& expected, const std::string& name) {
  static const Block kEmpty;
  auto it = expected.find(name);
  EXPECT_NE(it, expected.end()) << "expected outputs lack '" << name << "'";
  return it == expected.end() ? kEmpty : it->second;
}

void CheckScorer(const Scorer& scorer, const ExpectedOutputs& expected) {
  const RowMatrix X = MatrixOf(Get(expected, "X"));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::vector<double> score, scorer.Score(X));
  ExpectMatrix(Eigen::Map<const RowMatrix>(score.data(), static_cast<Eigen::Index>(score.size()), 1), Get(expected, "score"),
               "score");
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix contributions, scorer.Contributions(X));
  ExpectMatrix(contributions, Get(expected, "contributions"), "contributions");
  // The link the scorer declares turns each row's contributions into its score.
  for (Eigen::Index r = 0; r < X.rows() && scorer.link() != Scorer::Link::kNone; ++r) {
    const double f = contributions.row(r).sum();
    const double linked = scorer.link() == Scorer::Link::kIdentity ? f
                          : scorer.link() == Scorer::Link::kExp     ? std::exp(f)
                                                                    : 1 / (1 + std::exp(-f));
    EXPECT_NEAR(linked, score[static_cast<std::size_t>(r)], 1e-9 * (1 + std::abs(linked))) << "row " << r;
  }
  if (auto it = expected.find("feature_names"); it != expected.end()) {
    EXPECT_EQ(scorer.schema().feature_names, it->second.strings);
  }
  if (auto it = expected.find("class_labels"); it != expected.end()) {
    EXPECT_EQ(scorer.schema().class_labels.values, it->second.strings);
  }
}

void CheckUplift(const UpliftModel& uplift, const ExpectedOutputs& expected) {
  const RowMatrix X = MatrixOf(Get(expected, "X"));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix effect, uplift.Effect(X));
  ExpectMatrix(effect, Get(expected, "effect"), "effect");
  for (std::int32_t offer = 1; offer <= uplift.num_offers(); ++offer) {
    const std::string name = absl::StrCat("contributions_", offer);
    if (expected.count(name) == 0) continue;  // a learner without an additive explanation
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const RowMatrix contributions, uplift.Contributions(X, offer));
    ExpectMatrix(contributions, expected.at(name), name);
  }
  if (auto it = expected.find("arm_names"); it != expected.end()) {
    EXPECT_EQ(uplift.schema().arm_names.values, it->second.strings);
  }
}

void CheckRecommender(const Model& model, const ExpectedOutputs& expected) {
  const Block& offsets = Get(expected, "session_offsets");
  const Block& items = Get(expected, "session_items");
  const auto k = static_cast<std::int32_t>(Get(expected, "k").at(0, 0));
  // Python's call filtered the session's own items out (Item2Vec.recommend_session does by default).
  const bool exclude_session_items = expected.count("exclude_session_items") != 0 && expected.at("exclude_session_items").at(0, 0) != 0;
  for (std::int64_t s = 0; s + 1 < offsets.rows; ++s) {
    ShopRecommendRequest request;
    for (auto i = static_cast<std::int64_t>(offsets.at(s, 0)); i < static_cast<std::int64_t>(offsets.at(s + 1, 0)); ++i) {
      request.session_items.push_back(items.strings[static_cast<std::size_t>(i)]);
    }
    request.k = k;
    request.filters.exclude_session_items = exclude_session_items;
    COMPTOIR_ASSERT_OK_AND_ASSIGN(const ShopRecommendation answer, model.Recommend(request));
    EXPECT_EQ(answer.items, Get(expected, absl::StrCat("items_", s)).strings) << "session " << s;
    const Block& scores = Get(expected, absl::StrCat("scores_", s));
    ASSERT_EQ(static_cast<std::int64_t>(answer.scores.size()), scores.cols) << "session " << s;
    for (std::size_t i = 0; i < answer.scores.size(); ++i) {
      EXPECT_EQ(answer.scores[i], static_cast<float>(scores.at(0, static_cast<std::int64_t>(i)))) << "session " << s;
    }
  }
}

void CheckIndex(const retrieval::VectorIndex& index, const ExpectedOutputs& expected) {
  const Block& queries = Get(expected, "queries");
  const Block& ids = Get(expected, "ids");
  const Block& scores = Get(expected, "scores");
  std::vector<float> query(static_cast<std::size_t>(queries.cols));
  std::vector<retrieval::ScoredId> hits;
  for (std::int64_t q = 0; q < queries.rows; ++q) {
    for (std::int64_t c = 0; c < queries.cols; ++c) query[static_cast<std::size_t>(c)] = static_cast<float>(queries.at(q, c));
    COMPTOIR_ASSERT_OK(index.Search(query, static_cast<int>(ids.cols), {}, hits));
    ASSERT_EQ(static_cast<std::int64_t>(hits.size()), ids.cols);
    for (std::int64_t i = 0; i < ids.cols; ++i) {
      EXPECT_EQ(hits[static_cast<std::size_t>(i)].id, static_cast<std::int32_t>(ids.at(q, i)));
      EXPECT_EQ(hits[static_cast<std::size_t>(i)].score, static_cast<float>(scores.at(q, i)));
    }
  }
}

// Checks every <name>.cmf with a <name>.expected beside it; returns the kinds seen.
std::set<std::string> CheckDirectory(const std::string& dir) {
  std::set<std::string> kinds;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".cmf") continue;
    std::filesystem::path expected_path = entry.path();
    expected_path.replace_extension(".expected");
    if (!std::filesystem::exists(expected_path)) continue;
    SCOPED_TRACE(entry.path().string());
    absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(entry.path().string());
    EXPECT_THAT(model, ::comptoir::testing::IsOk());
    absl::StatusOr<ExpectedOutputs> expected = testing::ReadExpectedOutputs(expected_path.string());
    EXPECT_THAT(expected, ::comptoir::testing::IsOk());
    if (!model.ok() || !expected.ok()) continue;
    const Model& m = **model;
    kinds.insert(m.kind());
    EXPECT_EQ(m.kind(), Get(*expected, "kind").strings.at(0));
    if (const Scorer* scorer = m.AsScorer()) CheckScorer(*scorer, *expected);
    if (const UpliftModel* uplift = m.AsUpliftModel()) CheckUplift(*uplift, *expected);
    if (m.AsRecommender() != nullptr) CheckRecommender(m, *expected);
    if (const retrieval::VectorIndex* index = m.AsVectorIndex()) CheckIndex(*index, *expected);
  }
  return kinds;
}

void ExpectEveryKind(const std::set<std::string>& seen) {
  for (const std::string& kind : ModelKinds()) EXPECT_EQ(seen.count(kind), 1u) << "no file of kind '" << kind << "'";
}

TEST(GoldenFiles, EveryFormatOneKindLoadsAndPredictsAsWhenSaved) {
  const std::string dir = std::string(COMPTOIR_SOURCE_DIR) + "/tests/golden/v1";
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  ExpectEveryKind(CheckDirectory(dir));
}

TEST(Parity, CppServesWhatPythonSavedBitForBit) {
  const char* dir = std::getenv("COMPTOIR_PARITY_DIR");
  if (dir == nullptr) GTEST_SKIP() << "COMPTOIR_PARITY_DIR is not set (.ci/run sets it after Python saved the models)";
  ExpectEveryKind(CheckDirectory(dir));
}

}  // namespace
}  // namespace comptoir
