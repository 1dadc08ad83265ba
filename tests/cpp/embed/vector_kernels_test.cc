#include "internal/vector_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace comptoir::internal::kernels {
namespace {

std::vector<float> Random(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

double NaiveDot(const float* a, const float* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Sizes around the 8- and 16-lane boundaries and the 4 x 2 tiles, with padded strides.
class KernelSizes : public ::testing::TestWithParam<int> {};

TEST_P(KernelSizes, DotAndAxpyMatchDoubleSums) {
  const int n = GetParam();
  std::mt19937 rng(n);
  const std::vector<float> a = Random(n, rng), b = Random(n, rng);
  EXPECT_NEAR(Dot(a.data(), b.data(), n), NaiveDot(a.data(), b.data(), n), 1e-4 * (n + 1));
  std::vector<float> y = b;
  Axpy(0.5f, a.data(), y.data(), n);
  for (int i = 0; i < n; ++i) EXPECT_FLOAT_EQ(y[i], b[i] + 0.5f * a[i]) << i;
}

TEST_P(KernelSizes, DotTableIsTheProductWithTheTransposeOnStridedRows) {
  const int n = GetParam();
  std::mt19937 rng(100 + n);
  const int rows_a = 7, rows_b = 13, lda = n + 3, ldb = n + 5, ldo = rows_b + 2;
  const std::vector<float> a = Random(rows_a * lda, rng), b = Random(rows_b * ldb, rng);
  std::vector<float> out(rows_a * ldo, -7.0f);
  DotTable(a.data(), rows_a, lda, b.data(), rows_b, ldb, n, out.data(), ldo);
  for (int i = 0; i < rows_a; ++i) {
    for (int j = 0; j < rows_b; ++j) {
      EXPECT_NEAR(out[i * ldo + j], NaiveDot(&a[i * lda], &b[j * ldb], n), 1e-4 * (n + 1)) << i << "," << j;
    }
    for (int j = rows_b; j < ldo; ++j) EXPECT_EQ(out[i * ldo + j], -7.0f) << "wrote past the row";
  }
}

TEST_P(KernelSizes, DotTableOfOneQueryCoversEveryRowTile) {
  const int n = GetParam();
  std::mt19937 rng(500 + n);
  const int rows_b = 8 * 3 + 4 + 3;  // eight-row tiles, a four-row tile and single rows
  const std::vector<float> a = Random(n, rng), b = Random(rows_b * (n + 1), rng);
  std::vector<float> out(rows_b + 1, -7.0f);
  DotTable(a.data(), 1, n, b.data(), rows_b, n + 1, n, out.data(), 1);
  for (int j = 0; j < rows_b; ++j) EXPECT_NEAR(out[j], NaiveDot(a.data(), &b[j * (n + 1)], n), 1e-4 * (n + 1)) << j;
  EXPECT_EQ(out[rows_b], -7.0f);
}

TEST_P(KernelSizes, CombineRowsAddsTheProductAndLeavesPaddingAlone) {
  const int n = GetParam();
  std::mt19937 rng(200 + n);
  const int rows_out = 9, rows_b = 11, ldc = rows_b + 1, ldb = n + 2, ldo = n + 4;
  const std::vector<float> coeff = Random(rows_out * ldc, rng), b = Random(rows_b * ldb, rng);
  std::vector<float> out = Random(rows_out * ldo, rng);
  const std::vector<float> before = out;
  CombineRows(coeff.data(), rows_out, ldc, b.data(), rows_b, ldb, n, out.data(), ldo);
  for (int i = 0; i < rows_out; ++i) {
    for (int k = 0; k < ldo; ++k) {
      double expected = before[i * ldo + k];
      if (k < n) {
        for (int j = 0; j < rows_b; ++j) expected += static_cast<double>(coeff[i * ldc + j]) * b[j * ldb + k];
      }
      EXPECT_NEAR(out[i * ldo + k], expected, 1e-4 * (rows_b + 1)) << i << "," << k;
    }
  }
}

TEST_P(KernelSizes, CombineRowsTransposedReadsTheCoefficientsByColumn) {
  const int n = GetParam();
  std::mt19937 rng(400 + n);
  const int rows_out = 10, rows_b = 6, ldc = rows_out + 3, ldb = n + 1, ldo = n + 2;
  const std::vector<float> coeff = Random(rows_b * ldc, rng), b = Random(rows_b * ldb, rng);
  std::vector<float> out = Random(rows_out * ldo, rng);
  const std::vector<float> before = out;
  CombineRowsTransposed(coeff.data(), rows_out, ldc, b.data(), rows_b, ldb, n, out.data(), ldo);
  for (int i = 0; i < rows_out; ++i) {
    for (int k = 0; k < n; ++k) {
      double expected = before[i * ldo + k];
      for (int j = 0; j < rows_b; ++j) expected += static_cast<double>(coeff[j * ldc + i]) * b[j * ldb + k];
      EXPECT_NEAR(out[i * ldo + k], expected, 1e-4 * (rows_b + 1)) << i << "," << k;
    }
  }
}

TEST_P(KernelSizes, AdamStepMatchesTheTextbookUpdate) {
  const int n = GetParam();
  std::mt19937 rng(300 + n);
  std::vector<float> param = Random(n, rng), m = Random(n, rng), v = Random(n, rng), grad = Random(n, rng);
  for (float& x : v) x = std::abs(x);
  const std::vector<float> p0 = param, m0 = m, v0 = v;
  AdamStep(param.data(), m.data(), v.data(), grad.data(), n, 0.9f, 0.999f, 0.01f, 1e-8f);
  for (int i = 0; i < n; ++i) {
    const double mi = 0.9 * m0[i] + 0.1 * grad[i];
    const double vi = 0.999 * v0[i] + 0.001 * grad[i] * grad[i];
    EXPECT_NEAR(m[i], mi, 1e-6);
    EXPECT_NEAR(v[i], vi, 1e-6);
    EXPECT_NEAR(param[i], p0[i] - 0.01 * mi / (std::sqrt(vi) + 1e-8), 1e-5);
  }
}

// The step written out in doubles, row by row, as its header describes it.
void ReferenceNegativeSampling(std::vector<double>& input, std::vector<std::vector<double>*>& rows, double lr) {
  std::vector<double> grad(input.size(), 0.0);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::vector<double>& row = *rows[r];
    double f = 0;
    for (std::size_t i = 0; i < input.size(); ++i) f += input[i] * row[i];
    const double sigmoid = f >= 8 ? 1.0 : f <= -8 ? 0.0 : 1.0 / (1.0 + std::exp(-f));
    const double g = ((r == 0 ? 1.0 : 0.0) - sigmoid) * lr;
    for (std::size_t i = 0; i < input.size(); ++i) {
      grad[i] += g * row[i];
      row[i] += g * input[i];
    }
  }
  for (std::size_t i = 0; i < input.size(); ++i) input[i] += grad[i];
}

TEST_P(KernelSizes, NegativeSamplingStepMatchesTheScalarStepWithRepeatedRows) {
  const int n = GetParam();
  std::mt19937 rng(400 + n);
  // Large enough values that some dot products leave the sigmoid's clipped range.
  std::vector<float> input = Random(n, rng);
  for (float& x : input) x *= 3.0f;
  std::vector<std::vector<float>> table(4);
  for (auto& row : table) row = Random(n, rng);
  // Row 2 is used twice: the second use must see the first update.
  const int order[] = {0, 2, 1, 2, 3};
  std::vector<float*> rows;
  for (int r : order) rows.push_back(table[r].data());

  std::vector<double> input_ref(input.begin(), input.end());
  std::vector<std::vector<double>> table_ref;
  for (const auto& row : table) table_ref.emplace_back(row.begin(), row.end());
  std::vector<std::vector<double>*> rows_ref;
  for (int r : order) rows_ref.push_back(&table_ref[r]);

  std::vector<float> scratch(n, 123.0f);  // scratch contents must not matter
  NegativeSamplingStep(input.data(), rows.data(), static_cast<std::int64_t>(rows.size()), 0.1f, n, scratch.data());
  ReferenceNegativeSampling(input_ref, rows_ref, 0.1);
  for (int i = 0; i < n; ++i) EXPECT_NEAR(input[i], input_ref[i], 1e-4) << i;
  for (std::size_t r = 0; r < table.size(); ++r) {
    for (int i = 0; i < n; ++i) EXPECT_NEAR(table[r][i], table_ref[r][i], 1e-4) << r << "," << i;
  }
}

TEST_P(KernelSizes, NegativeSamplingStepWithNoRowsLeavesTheInputAlone) {
  const int n = GetParam();
  std::mt19937 rng(500 + n);
  std::vector<float> input = Random(n, rng);
  const std::vector<float> before = input;
  std::vector<float> scratch(n);
  NegativeSamplingStep(input.data(), nullptr, 0, 0.1f, n, scratch.data());
  EXPECT_EQ(input, before);
}

TEST_P(KernelSizes, AddDifferenceIsExactlyTheScalarSum) {
  const int n = GetParam();
  std::mt19937 rng(600 + n);
  const std::vector<float> x = Random(n, rng), base = Random(n, rng);
  std::vector<float> acc = Random(n, rng);
  std::vector<float> expected = acc;
  for (int i = 0; i < n; ++i) expected[i] += x[i] - base[i];
  AddDifference(x.data(), base.data(), acc.data(), n);
  // Bit for bit: shard merges must not depend on which version ran.
  EXPECT_EQ(acc, expected);
}

TEST(Sigmoid, IsCloseToTheExactFunctionAndClipsLikeWord2Vec) {
  double worst = 0;
  for (int i = -9000; i <= 9000; ++i) {
    const float x = static_cast<float>(i) * 0.001f + 0.0003f;
    const double exact = 1.0 / (1.0 + std::exp(-static_cast<double>(x)));
    if (std::abs(x) < 8.0f) worst = std::max(worst, std::abs(Sigmoid(x) - exact));
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(Sigmoid(8.0f), 1.0f);
  EXPECT_EQ(Sigmoid(-8.0f), 0.0f);
  EXPECT_EQ(Sigmoid(1e30f), 1.0f);
  EXPECT_EQ(Sigmoid(-INFINITY), 0.0f);
  EXPECT_EQ(Sigmoid(0.0f), 0.5f);
  const float below_top = std::nextafter(8.0f, 0.0f);  // the top of the table, not past it
  EXPECT_NEAR(Sigmoid(below_top), 1.0 / (1.0 + std::exp(-static_cast<double>(below_top))), 1e-6);
  EXPECT_TRUE(std::isnan(Sigmoid(NAN)));
}

TEST_P(KernelSizes, DotHalfRowsMatchesTheRoundedFloats) {
  const int n = GetParam();
  std::mt19937 rng(600 + n);
  const int rows = 8 * 2 + 5, ld = n + 3;
  const std::vector<float> query = Random(n, rng), table = Random(rows * ld, rng);
  std::vector<std::uint16_t> halves(table.size());
  FloatsToHalves(table.data(), static_cast<std::int64_t>(table.size()), halves.data());
  std::vector<float> rounded(table.size());
  HalvesToFloats(halves.data(), static_cast<std::int64_t>(halves.size()), rounded.data());
  std::vector<float> out(rows);
  DotHalfRows(query.data(), halves.data(), rows, ld, n, out.data());
  for (int j = 0; j < rows; ++j) {
    EXPECT_NEAR(out[j], NaiveDot(query.data(), &rounded[j * ld], n), 1e-4 * (n + 1)) << j;
    EXPECT_NEAR(out[j], NaiveDot(query.data(), &table[j * ld], n), 2e-3 * (n + 1)) << "half precision is close";
  }
}

INSTANTIATE_TEST_SUITE_P(Lengths, KernelSizes, ::testing::Values(0, 1, 5, 8, 9, 15, 16, 17, 31, 64, 100));

std::uint16_t Half(float v) {
  std::uint16_t h;
  FloatsToHalves(&v, 1, &h);
  return h;
}

TEST(Halves, RoundToNearestEvenAtEveryEdge) {
  EXPECT_EQ(Half(1.0f), 0x3c00);
  EXPECT_EQ(Half(-2.0f), 0xc000);
  EXPECT_EQ(Half(-0.0f), 0x8000);
  EXPECT_EQ(Half(65504.0f), 0x7bff);
  EXPECT_EQ(Half(65519.0f), 0x7bff);
  EXPECT_EQ(Half(65520.0f), 0x7c00) << "rounds past the largest half: infinity";
  EXPECT_EQ(Half(std::ldexp(1.0f, -24)), 0x0001) << "smallest subnormal";
  EXPECT_EQ(Half(std::ldexp(1.0f, -25)), 0x0000) << "a tie rounds to even: zero";
  EXPECT_EQ(Half(std::ldexp(3.0f, -25)), 0x0002) << "a tie rounds to even: two units";
  EXPECT_EQ(Half(std::ldexp(1.0f, -14)), 0x0400) << "smallest normal";
  EXPECT_EQ(Half(1.0f + std::ldexp(1.0f, -11)), 0x3c00) << "tie to even";
  EXPECT_EQ(Half(1.0f + std::ldexp(3.0f, -11)), 0x3c02) << "tie to even, upwards";
  EXPECT_EQ(Half(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(Half(std::nanf("")) & 0x7c00, 0x7c00);
  EXPECT_NE(Half(std::nanf("")) & 0x03ff, 0) << "NaN stays NaN";
}

TEST(Halves, EveryHalfSurvivesTheRoundTrip) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    if ((half & 0x7c00) == 0x7c00 && (half & 0x03ff) != 0) continue;  // NaN payloads
    float f;
    HalvesToFloats(&half, 1, &f);
    ASSERT_EQ(Half(f), half) << h;
  }
}

}  // namespace
}  // namespace comptoir::internal::kernels
