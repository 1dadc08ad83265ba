#include "internal/vector_kernels.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace comptoir::internal::kernels {
namespace {

// ---- portable versions -------------------------------------------------------------------

float DotPortable(const float* a, const float* b, std::int64_t n) {
  // Four partial sums: the compiler keeps them in registers and the chain is four times shorter.
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void AxpyPortable(float alpha, const float* x, float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void DotTablePortable(const float* a, std::int64_t rows_a, std::int64_t lda, const float* b, std::int64_t rows_b,
                      std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo) {
  for (std::int64_t i = 0; i < rows_a; ++i) {
    for (std::int64_t j = 0; j < rows_b; ++j) out[i * ldo + j] = DotPortable(a + i * lda, b + j * ldb, n);
  }
}

// The coefficient of output row i and b row j is coeff[i * row_stride + j * col_stride].
void CombineRowsPortable(const float* coeff, std::int64_t rows_out, std::int64_t row_stride, std::int64_t col_stride,
                         const float* b, std::int64_t rows_b, std::int64_t ldb, std::int64_t n, float* out,
                         std::int64_t ldo) {
  for (std::int64_t i = 0; i < rows_out; ++i) {
    for (std::int64_t j = 0; j < rows_b; ++j) {
      const float c = coeff[i * row_stride + j * col_stride];
      if (c != 0.0f) AxpyPortable(c, b + j * ldb, out + i * ldo, n);
    }
  }
}

void AdamPortable(float* param, float* m, float* v, const float* grad, std::int64_t n, float beta1, float beta2,
                  float step_size, float epsilon_hat) {
  for (std::int64_t i = 0; i < n; ++i) {
    m[i] = beta1 * m[i] + (1 - beta1) * grad[i];
    v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i];
    param[i] -= step_size * m[i] / (std::sqrt(v[i]) + epsilon_hat);
  }
}

// Sigmoid on a grid of kSigmoidSteps intervals over [-kSigmoidRange, kSigmoidRange]: an 8 KiB
// table that stays in L1 beside the rows being trained, where std::exp is a libm call per pair.
constexpr float kSigmoidRange = 8.0f;
constexpr int kSigmoidSteps = 2048;
constexpr float kSigmoidScale = kSigmoidSteps / (2 * kSigmoidRange);

struct SigmoidTable {
  float value[kSigmoidSteps + 1];
  SigmoidTable() {
    for (int i = 0; i <= kSigmoidSteps; ++i) {
      const double x = -static_cast<double>(kSigmoidRange) + i / static_cast<double>(kSigmoidScale);
      value[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    }
  }
};

const SigmoidTable kSigmoid;

inline float SigmoidFromTable(float x) {
  if (!(std::abs(x) < kSigmoidRange)) return x > 0 ? 1.0f : x < 0 ? 0.0f : x;  // NaN falls through as itself
  const float t = (x + kSigmoidRange) * kSigmoidScale;
  // t can round up to kSigmoidSteps just below the range's top: keep the last interval.
  const int i = std::min(static_cast<int>(t), kSigmoidSteps - 1);
  const float low = kSigmoid.value[i];
  return low + (t - static_cast<float>(i)) * (kSigmoid.value[i + 1] - low);
}

void NegativeSamplingPortable(float* input, float* const* rows, std::int64_t num_rows, float learning_rate,
                              std::int64_t n, float* grad) {
  std::fill_n(grad, n, 0.0f);
  for (std::int64_t r = 0; r < num_rows; ++r) {
    float* row = rows[r];
    const float label = r == 0 ? 1.0f : 0.0f;
    const float g = (label - SigmoidFromTable(DotPortable(input, row, n))) * learning_rate;
    for (std::int64_t i = 0; i < n; ++i) {
      grad[i] += g * row[i];
      row[i] += g * input[i];
    }
  }
  for (std::int64_t i = 0; i < n; ++i) input[i] += grad[i];
}

void AddDifferencePortable(const float* x, const float* base, float* acc, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) acc[i] += x[i] - base[i];
}

// Bit-exact IEEE binary16 conversions (subnormals, infinities and NaN included).
std::uint16_t HalfOf(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (magnitude < 0x38800000u) {  // a subnormal half (or zero)
    if (magnitude < 0x33000000u) return static_cast<std::uint16_t>(sign);
    const std::uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    // value = mantissa * 2^(e - 150), in units of the half's 2^-24: drop 126 - e bits.
    const int drop = 126 - static_cast<int>(magnitude >> 23);
    std::uint32_t rounded = mantissa >> drop;
    const std::uint32_t rest = mantissa & ((1u << drop) - 1);
    const std::uint32_t halfway = 1u << (drop - 1);
    if (rest > halfway || (rest == halfway && (rounded & 1u))) ++rounded;
    return static_cast<std::uint16_t>(sign | rounded);
  }
  std::uint32_t rounded = magnitude - 0x38000000u;  // rebias the exponent (127 -> 15)
  const std::uint32_t rest = rounded & 0x1fffu;
  rounded >>= 13;
  if (rest > 0x1000u || (rest == 0x1000u && (rounded & 1u))) ++rounded;
  return static_cast<std::uint16_t>(sign | rounded);
}

float FloatOf(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int shift = 0;
    while ((mantissa & 0x400u) == 0) mantissa <<= 1, ++shift;
    bits = sign | (static_cast<std::uint32_t>(113 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

void DotHalfRowsPortable(const float* query, const std::uint16_t* b, std::int64_t rows_b, std::int64_t ldb,
                         std::int64_t n, float* out) {
  for (std::int64_t j = 0; j < rows_b; ++j) {
    float sum = 0;
    for (std::int64_t k = 0; k < n; ++k) sum += query[k] * FloatOf(b[j * ldb + k]);
    out[j] = sum;
  }
}

// ---- AVX2 + FMA versions -----------------------------------------------------------------

#define COMPTOIR_AVX2 __attribute__((target("avx2,fma")))

alignas(32) const std::int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// Lanes [0, count) set, count in 0..8.
COMPTOIR_AVX2 inline __m256i TailMask(std::int64_t count) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - count));
}

COMPTOIR_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

// The horizontal sums of four registers, in one (lane i = sum of v[i]).
COMPTOIR_AVX2 inline __m128 HorizontalSums4(const __m256* v) {
  const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  return _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
}

// The horizontal sums of eight registers, in one.
COMPTOIR_AVX2 inline __m256 HorizontalSums8(const __m256* v) {
  const __m256 low = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 high = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(low, high, 0x20), _mm256_permute2f128_ps(low, high, 0x31));
}

COMPTOIR_AVX2 float DotAvx2(const float* a, const float* b, std::int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  if (i + 8 <= n) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    i += 8;
  }
  if (i < n) {
    const __m256i mask = TailMask(n - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask), s1);
  }
  return HorizontalSum(_mm256_add_ps(s0, s1));
}

COMPTOIR_AVX2 void AxpyAvx2(float alpha, const float* x, float* y, std::int64_t n) {
  const __m256 scale = _mm256_set1_ps(alpha);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(scale, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  if (i < n) {
    const __m256i mask = TailMask(n - i);
    _mm256_maskstore_ps(y + i, mask, _mm256_fmadd_ps(scale, _mm256_maskload_ps(x + i, mask), _mm256_maskload_ps(y + i, mask)));
  }
}

// A kRows x kCols tile of A B^T: every a row's slice is loaded once per step and met with every
// b row's, so each step does kRows * kCols FMAs for kRows + kCols loads.
template <int kRows, int kCols>
COMPTOIR_AVX2 void DotTile(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, std::int64_t n,
                           float* out, std::int64_t ldo) {
  __m256 acc[kRows][kCols];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  std::int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    __m256 bv[kCols];
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) bv[c] = _mm256_loadu_ps(b + c * ldb + k);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_loadu_ps(a + r * lda + k);
#pragma GCC unroll 8
      for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
    }
  }
  if (k < n) {
    const __m256i mask = TailMask(n - k);
    __m256 bv[kCols];
#pragma GCC unroll 8
    for (int c = 0; c < kCols; ++c) bv[c] = _mm256_maskload_ps(b + c * ldb + k, mask);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256 av = _mm256_maskload_ps(a + r * lda + k, mask);
#pragma GCC unroll 8
      for (int c = 0; c < kCols; ++c) acc[r][c] = _mm256_fmadd_ps(av, bv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    if constexpr (kCols == 8) {
      _mm256_storeu_ps(out + r * ldo, HorizontalSums8(acc[r]));
    } else if constexpr (kCols == 4) {
      _mm_storeu_ps(out + r * ldo, HorizontalSums4(acc[r]));
    } else {
#pragma GCC unroll 8
      for (int c = 0; c < kCols; ++c) out[r * ldo + c] = HorizontalSum(acc[r][c]);
    }
  }
}

COMPTOIR_AVX2 void DotTableAvx2(const float* a, std::int64_t rows_a, std::int64_t lda, const float* b,
                                std::int64_t rows_b, std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo) {
  // b rows in blocks that stay in L2 while every a row meets them.
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t j0 = 0; j0 < rows_b; j0 += kBlock) {
    const std::int64_t j1 = std::min(rows_b, j0 + kBlock);
    std::int64_t i = 0;
    if (rows_a == 1) {
      // One query (serving): eight rows at a time keep eight independent FMA chains in flight.
      std::int64_t j = j0;
      for (; j + 8 <= j1; j += 8) DotTile<1, 8>(a, lda, b + j * ldb, ldb, n, out + j, ldo);
      for (; j + 4 <= j1; j += 4) DotTile<1, 4>(a, lda, b + j * ldb, ldb, n, out + j, ldo);
      for (; j < j1; ++j) DotTile<1, 1>(a, lda, b + j * ldb, ldb, n, out + j, ldo);
      continue;
    }
    for (; i + 2 <= rows_a; i += 2) {
      std::int64_t j = j0;
      for (; j + 4 <= j1; j += 4) DotTile<2, 4>(a + i * lda, lda, b + j * ldb, ldb, n, out + i * ldo + j, ldo);
      for (; j < j1; ++j) DotTile<2, 1>(a + i * lda, lda, b + j * ldb, ldb, n, out + i * ldo + j, ldo);
    }
    for (; i < rows_a; ++i) {
      std::int64_t j = j0;
      for (; j + 4 <= j1; j += 4) DotTile<1, 4>(a + i * lda, lda, b + j * ldb, ldb, n, out + i * ldo + j, ldo);
      for (; j < j1; ++j) DotTile<1, 1>(a + i * lda, lda, b + j * ldb, ldb, n, out + i * ldo + j, ldo);
    }
  }
}

// kRows output rows x 16 columns (two registers each) accumulated over every b row; `mask0` and
// `mask1` cover the columns that exist when the tile is the last, partial one.
template <int kRows, bool kMasked>
COMPTOIR_AVX2 void CombineTile(const float* coeff, std::int64_t row_stride, std::int64_t col_stride, const float* b,
                               std::int64_t rows_b, std::int64_t ldb, float* out, std::int64_t ldo, __m256i mask0,
                               __m256i mask1) {
  __m256 acc[kRows][2];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    if constexpr (kMasked) {
      acc[r][0] = _mm256_maskload_ps(out + r * ldo, mask0);
      acc[r][1] = _mm256_maskload_ps(out + r * ldo + 8, mask1);
    } else {
      acc[r][0] = _mm256_loadu_ps(out + r * ldo);
      acc[r][1] = _mm256_loadu_ps(out + r * ldo + 8);
    }
  }
  for (std::int64_t j = 0; j < rows_b; ++j) {
    const float* row = b + j * ldb;
    __m256 b0, b1;
    if constexpr (kMasked) {
      b0 = _mm256_maskload_ps(row, mask0);
      b1 = _mm256_maskload_ps(row + 8, mask1);
    } else {
      b0 = _mm256_loadu_ps(row);
      b1 = _mm256_loadu_ps(row + 8);
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256 c = _mm256_broadcast_ss(coeff + r * row_stride + j * col_stride);
      acc[r][0] = _mm256_fmadd_ps(c, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(c, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    if constexpr (kMasked) {
      _mm256_maskstore_ps(out + r * ldo, mask0, acc[r][0]);
      _mm256_maskstore_ps(out + r * ldo + 8, mask1, acc[r][1]);
    } else {
      _mm256_storeu_ps(out + r * ldo, acc[r][0]);
      _mm256_storeu_ps(out + r * ldo + 8, acc[r][1]);
    }
  }
}

COMPTOIR_AVX2 void CombineRowsAvx2(const float* coeff, std::int64_t rows_out, std::int64_t row_stride,
                                   std::int64_t col_stride, const float* b, std::int64_t rows_b, std::int64_t ldb,
                                   std::int64_t n, float* out, std::int64_t ldo) {
  const __m256i all = TailMask(8);
  // Columns outermost: a 16-column strip of b (rows_b x 64 bytes) stays in L2 for every row tile.
  for (std::int64_t col = 0; col < n; col += 16) {
    const std::int64_t width = std::min<std::int64_t>(16, n - col);
    const bool partial = width < 16;
    const __m256i mask0 = TailMask(std::min<std::int64_t>(8, width));
    const __m256i mask1 = TailMask(std::max<std::int64_t>(0, width - 8));
    std::int64_t i = 0;
    for (; i + 4 <= rows_out; i += 4) {
      const float* c = coeff + i * row_stride;
      float* o = out + i * ldo + col;
      if (partial) {
        CombineTile<4, true>(c, row_stride, col_stride, b + col, rows_b, ldb, o, ldo, mask0, mask1);
      } else {
        CombineTile<4, false>(c, row_stride, col_stride, b + col, rows_b, ldb, o, ldo, all, all);
      }
    }
    for (; i < rows_out; ++i) {
      const float* c = coeff + i * row_stride;
      float* o = out + i * ldo + col;
      if (partial) {
        CombineTile<1, true>(c, row_stride, col_stride, b + col, rows_b, ldb, o, ldo, mask0, mask1);
      } else {
        CombineTile<1, false>(c, row_stride, col_stride, b + col, rows_b, ldb, o, ldo, all, all);
      }
    }
  }
}

COMPTOIR_AVX2 void AdamAvx2(float* param, float* m, float* v, const float* grad, std::int64_t n, float beta1,
                            float beta2, float step_size, float epsilon_hat) {
  const __m256 b1 = _mm256_set1_ps(beta1), b1c = _mm256_set1_ps(1 - beta1);
  const __m256 b2 = _mm256_set1_ps(beta2), b2c = _mm256_set1_ps(1 - beta2);
  const __m256 step = _mm256_set1_ps(step_size), eps = _mm256_set1_ps(epsilon_hat);
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(grad + i);
    const __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(b1c, g));
    const __m256 vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(b2c, _mm256_mul_ps(g, g)));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    const __m256 update = _mm256_div_ps(_mm256_mul_ps(step, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
    _mm256_storeu_ps(param + i, _mm256_sub_ps(_mm256_loadu_ps(param + i), update));
  }
  AdamPortable(param + i, m + i, v + i, grad + i, n - i, beta1, beta2, step_size, epsilon_hat);
}

// Dots of kRows rows with x, each summed exactly as DotAvx2 sums it (so either path of the
// negative-sampling step gives the same bits), sharing the loads of x.
template <int kRows>
COMPTOIR_AVX2 inline void DotRowsAvx2(const float* x, float* const* rows, std::int64_t n, float* out) {
  __m256 s0[kRows], s1[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) s0[r] = s1[r] = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      s0[r] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(rows[r] + i), s0[r]);
      s1[r] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(rows[r] + i + 8), s1[r]);
    }
  }
  if (i + 8 <= n) {
    const __m256 x0 = _mm256_loadu_ps(x + i);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) s0[r] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(rows[r] + i), s0[r]);
    i += 8;
  }
  if (i < n) {
    const __m256i mask = TailMask(n - i);
    const __m256 x1 = _mm256_maskload_ps(x + i, mask);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) s1[r] = _mm256_fmadd_ps(x1, _mm256_maskload_ps(rows[r] + i, mask), s1[r]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) out[r] = HorizontalSum(_mm256_add_ps(s0[r], s1[r]));
}

constexpr std::int64_t kMaxBatchedRows = 16;

bool AllDistinct(float* const* rows, std::int64_t count) {
  for (std::int64_t a = 1; a < count; ++a) {
    for (std::int64_t b = 0; b < a; ++b) {
      if (rows[a] == rows[b]) return false;
    }
  }
  return true;
}

COMPTOIR_AVX2 void NegativeSamplingAvx2(float* input, float* const* rows, std::int64_t num_rows,
                                        float learning_rate, std::int64_t n, float* grad) {
  const std::int64_t full = n - n % 8;
  const __m256i mask = TailMask(n - full);
  if (num_rows <= kMaxBatchedRows && AllDistinct(rows, num_rows)) {
    // Distinct rows do not see each other's updates, so every dot can be taken first and all
    // rows updated in one pass over the columns: the same arithmetic as the row-by-row path
    // below, without its chain of dot -> sigmoid -> update per row. The gradient stays in a register.
    float dots[kMaxBatchedRows];
    std::int64_t r = 0;
    for (; r + 4 <= num_rows; r += 4) DotRowsAvx2<4>(input, rows + r, n, dots + r);
    for (; r + 2 <= num_rows; r += 2) DotRowsAvx2<2>(input, rows + r, n, dots + r);
    for (; r < num_rows; ++r) DotRowsAvx2<1>(input, rows + r, n, dots + r);
    float g[kMaxBatchedRows];
    for (r = 0; r < num_rows; ++r) g[r] = ((r == 0 ? 1.0f : 0.0f) - SigmoidFromTable(dots[r])) * learning_rate;
    for (std::int64_t i = 0; i < full; i += 8) {
      const __m256 x = _mm256_loadu_ps(input + i);
      __m256 sum = _mm256_setzero_ps();
      for (r = 0; r < num_rows; ++r) {
        const __m256 step = _mm256_broadcast_ss(g + r);
        const __m256 old = _mm256_loadu_ps(rows[r] + i);
        sum = _mm256_fmadd_ps(step, old, sum);
        _mm256_storeu_ps(rows[r] + i, _mm256_fmadd_ps(step, x, old));
      }
      _mm256_storeu_ps(input + i, _mm256_add_ps(x, sum));
    }
    if (full < n) {
      const __m256 x = _mm256_maskload_ps(input + full, mask);
      __m256 sum = _mm256_setzero_ps();
      for (r = 0; r < num_rows; ++r) {
        const __m256 step = _mm256_broadcast_ss(g + r);
        const __m256 old = _mm256_maskload_ps(rows[r] + full, mask);
        sum = _mm256_fmadd_ps(step, old, sum);
        _mm256_maskstore_ps(rows[r] + full, mask, _mm256_fmadd_ps(step, x, old));
      }
      _mm256_maskstore_ps(input + full, mask, _mm256_add_ps(x, sum));
    }
    return;
  }
  std::fill_n(grad, n, 0.0f);
  for (std::int64_t r = 0; r < num_rows; ++r) {
    float* row = rows[r];
    const float label = r == 0 ? 1.0f : 0.0f;
    float dot;
    DotRowsAvx2<1>(input, &row, n, &dot);
    const __m256 g = _mm256_set1_ps((label - SigmoidFromTable(dot)) * learning_rate);
    // One pass over the row: its old value feeds the input's gradient, then takes its own step.
    for (std::int64_t i = 0; i < full; i += 8) {
      const __m256 old = _mm256_loadu_ps(row + i);
      _mm256_storeu_ps(grad + i, _mm256_fmadd_ps(g, old, _mm256_loadu_ps(grad + i)));
      _mm256_storeu_ps(row + i, _mm256_fmadd_ps(g, _mm256_loadu_ps(input + i), old));
    }
    if (full < n) {
      const __m256 old = _mm256_maskload_ps(row + full, mask);
      _mm256_maskstore_ps(grad + full, mask, _mm256_fmadd_ps(g, old, _mm256_maskload_ps(grad + full, mask)));
      _mm256_maskstore_ps(row + full, mask, _mm256_fmadd_ps(g, _mm256_maskload_ps(input + full, mask), old));
    }
  }
  for (std::int64_t i = 0; i < full; i += 8) {
    _mm256_storeu_ps(input + i, _mm256_add_ps(_mm256_loadu_ps(input + i), _mm256_loadu_ps(grad + i)));
  }
  if (full < n) {
    _mm256_maskstore_ps(input + full, mask,
                        _mm256_add_ps(_mm256_maskload_ps(input + full, mask), _mm256_maskload_ps(grad + full, mask)));
  }
}

COMPTOIR_AVX2 void AddDifferenceAvx2(const float* x, const float* base, float* acc, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i),
                                            _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(base + i))));
  }
  AddDifferencePortable(x + i, base + i, acc + i, n - i);
}

// Eight half rows at a time (eight FMA chains), converted in registers.
__attribute__((target("avx2,fma,f16c"))) void DotHalfRowsAvx2(const float* query, const std::uint16_t* b,
                                                              std::int64_t rows_b, std::int64_t ldb, std::int64_t n,
                                                              float* out) {
  const std::int64_t full = n / 8 * 8;
  std::int64_t j = 0;
  for (; j + 8 <= rows_b; j += 8) {
    __m256 acc[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) acc[r] = _mm256_setzero_ps();
    for (std::int64_t k = 0; k < full; k += 8) {
      const __m256 q = _mm256_loadu_ps(query + k);
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) {
        const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + (j + r) * ldb + k));
        acc[r] = _mm256_fmadd_ps(q, _mm256_cvtph_ps(half), acc[r]);
      }
    }
    _mm256_storeu_ps(out + j, HorizontalSums8(acc));
    for (std::int64_t k = full; k < n; ++k) {
      for (int r = 0; r < 8; ++r) out[j + r] += query[k] * FloatOf(b[(j + r) * ldb + k]);
    }
  }
  DotHalfRowsPortable(query, b + j * ldb, rows_b - j, ldb, n, out + j);
}

#undef COMPTOIR_AVX2

const bool kHasAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c").
bool CpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}
const bool kHasF16c = kHasAvx2 && CpuHasF16c();

}  // namespace

bool UsesAvx2() { return kHasAvx2; }

float Dot(const float* a, const float* b, std::int64_t n) { return kHasAvx2 ? DotAvx2(a, b, n) : DotPortable(a, b, n); }

void Axpy(float alpha, const float* x, float* y, std::int64_t n) {
  kHasAvx2 ? AxpyAvx2(alpha, x, y, n) : AxpyPortable(alpha, x, y, n);
}

void DotTable(const float* a, std::int64_t rows_a, std::int64_t lda, const float* b, std::int64_t rows_b,
              std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo) {
  kHasAvx2 ? DotTableAvx2(a, rows_a, lda, b, rows_b, ldb, n, out, ldo)
           : DotTablePortable(a, rows_a, lda, b, rows_b, ldb, n, out, ldo);
}

void CombineRows(const float* coeff, std::int64_t rows_out, std::int64_t ldc, const float* b, std::int64_t rows_b,
                 std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo) {
  kHasAvx2 ? CombineRowsAvx2(coeff, rows_out, ldc, 1, b, rows_b, ldb, n, out, ldo)
           : CombineRowsPortable(coeff, rows_out, ldc, 1, b, rows_b, ldb, n, out, ldo);
}

void CombineRowsTransposed(const float* coeff, std::int64_t rows_out, std::int64_t ldc, const float* b,
                           std::int64_t rows_b, std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo) {
  kHasAvx2 ? CombineRowsAvx2(coeff, rows_out, 1, ldc, b, rows_b, ldb, n, out, ldo)
           : CombineRowsPortable(coeff, rows_out, 1, ldc, b, rows_b, ldb, n, out, ldo);
}

void FloatsToHalves(const float* in, std::int64_t n, std::uint16_t* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = HalfOf(in[i]);
}

void HalvesToFloats(const std::uint16_t* in, std::int64_t n, float* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = FloatOf(in[i]);
}

void DotHalfRows(const float* query, const std::uint16_t* b, std::int64_t rows_b, std::int64_t ldb, std::int64_t n,
                 float* out) {
  kHasF16c ? DotHalfRowsAvx2(query, b, rows_b, ldb, n, out) : DotHalfRowsPortable(query, b, rows_b, ldb, n, out);
}

void AdamStep(float* param, float* first_moment, float* second_moment, const float* grad, std::int64_t n, float beta1,
              float beta2, float step_size, float epsilon_hat) {
  kHasAvx2 ? AdamAvx2(param, first_moment, second_moment, grad, n, beta1, beta2, step_size, epsilon_hat)
           : AdamPortable(param, first_moment, second_moment, grad, n, beta1, beta2, step_size, epsilon_hat);
}

float Sigmoid(float x) { return SigmoidFromTable(x); }

void NegativeSamplingStep(float* input, float* const* rows, std::int64_t num_rows, float learning_rate,
                          std::int64_t n, float* grad) {
  kHasAvx2 ? NegativeSamplingAvx2(input, rows, num_rows, learning_rate, n, grad)
           : NegativeSamplingPortable(input, rows, num_rows, learning_rate, n, grad);
}

void AddDifference(const float* x, const float* base, float* acc, std::int64_t n) {
  kHasAvx2 ? AddDifferenceAvx2(x, base, acc, n) : AddDifferencePortable(x, base, acc, n);
}

}  // namespace comptoir::internal::kernels
