// The dense float kernels that embedding training and serving spend their time in: dot products,
// scaled row sums, the two matrix products of a sampled softmax, and Adam steps. Each has an
// AVX2+FMA version chosen at run time when the CPU has it (the library itself is built for the
// baseline x86-64 instruction set, so that one build runs everywhere) and a portable one.
// Results are deterministic for a given machine: the choice is made once per process, and every
// output element is summed in a fixed order whatever the thread count.
#pragma once

#include <cstdint>

namespace comptoir::internal::kernels {

// True when the AVX2+FMA versions run on this CPU.
bool UsesAvx2();

float Dot(const float* a, const float* b, std::int64_t n);

// y += alpha * x
void Axpy(float alpha, const float* x, float* y, std::int64_t n);

// out[i * ldo + j] = dot(a_i, b_j) over n columns, for rows a_i = a + i * lda (i < rows_a) and
// b_j = b + j * ldb (j < rows_b): the product A B^T.
void DotTable(const float* a, std::int64_t rows_a, std::int64_t lda, const float* b, std::int64_t rows_b,
              std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo);

// out_i += sum_j coeff[i * ldc + j] * b_j over n columns, for i < rows_out and j < rows_b: the
// product C B added to the output rows. Each output element sums over j in order.
void CombineRows(const float* coeff, std::int64_t rows_out, std::int64_t ldc, const float* b, std::int64_t rows_b,
                 std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo);

// The same with the coefficients transposed: out_i += sum_j coeff[j * ldc + i] * b_j (C^T B),
// so that a gradient matrix need not be transposed first.
void CombineRowsTransposed(const float* coeff, std::int64_t rows_out, std::int64_t ldc, const float* b,
                           std::int64_t rows_b, std::int64_t ldb, std::int64_t n, float* out, std::int64_t ldo);

// IEEE half-precision storage for tables that are scanned more than they are read exactly:
// round to nearest even, and back.
void FloatsToHalves(const float* in, std::int64_t n, std::uint16_t* out);
void HalvesToFloats(const std::uint16_t* in, std::int64_t n, float* out);

// out[j] = dot(query, row_j) for rows_b half-precision rows b + j * ldb (n columns each): half
// the memory traffic of a float scan, with float accumulation.
void DotHalfRows(const float* query, const std::uint16_t* b, std::int64_t rows_b, std::int64_t ldb, std::int64_t n,
                 float* out);

// One Adam step (Kingma & Ba) on n parameters with bias-corrected rates folded into
// `step_size` = lr * sqrt(1 - beta2^t) / (1 - beta1^t) and `epsilon_hat` = epsilon * sqrt(1 - beta2^t).
void AdamStep(float* param, float* first_moment, float* second_moment, const float* grad, std::int64_t n,
              float beta1, float beta2, float step_size, float epsilon_hat);

// sigmoid(x) = 1 / (1 + e^-x) read from a table with linear interpolation: within 1e-6 of the
// exact value on (-8, 8), exactly 0 and 1 outside (word2vec's clipping); NaN stays NaN.
float Sigmoid(float x);

// One negative-sampling step of skip-gram (word2vec's inner loop) for the input row `input`
// against `num_rows` output rows, rows[0] the positive (label 1) and the rest negatives (label 0),
// taken in order: g = (label - Sigmoid(dot(input, row))) * learning_rate; grad += g * row;
// row += g * input; and once all rows are done, input += grad. A row may appear more than once
// (the later use sees the earlier update); no row may be `input`. `grad` is n floats of scratch.
void NegativeSamplingStep(float* input, float* const* rows, std::int64_t num_rows, float learning_rate,
                          std::int64_t n, float* grad);

// acc += x - base, element by element: folds one copy's change since `base` into an accumulator.
void AddDifference(const float* x, const float* base, float* acc, std::int64_t n);

}  // namespace comptoir::internal::kernels
