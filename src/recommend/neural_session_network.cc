#include "recommend/neural_session_network.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "internal/rng.h"
#include "internal/vector_kernels.h"

namespace comptoir::recommend::neural {
namespace {

namespace kernels = internal::kernels;

void FillUniform(float* out, std::int64_t n, double fan_in, internal::CounterRng& rng) {
  const double bound = 1.0 / std::sqrt(fan_in);
  for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((2.0 * rng.Uniform() - 1.0) * bound);
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

Network InitialNetwork(std::int32_t num_items, const NeuralSessionConfig& config, std::uint64_t seed) {
  Network net;
  net.num_items = num_items;
  net.dim = config.dim;
  net.max_len = config.max_session_length;
  net.scale = config.scale;
  const DenseLayout layout = net.layout();
  const std::int64_t d = net.dim;
  net.items.resize(static_cast<std::size_t>(num_items * d));
  net.dense.assign(static_cast<std::size_t>(layout.size()), 0.0f);
  internal::CounterRng rng(seed, /*stream_id=*/0x6e657572616cULL);
  FillUniform(net.items.data(), static_cast<std::int64_t>(net.items.size()), static_cast<double>(d), rng);
  float* dense = net.dense.data();
  FillUniform(dense + layout.positions(), layout.w1() - layout.positions(), static_cast<double>(d), rng);
  FillUniform(dense + layout.w1(), d * d, static_cast<double>(d), rng);
  FillUniform(dense + layout.w2(), d * d, static_cast<double>(d), rng);
  FillUniform(dense + layout.query(), d, static_cast<double>(d), rng);
  FillUniform(dense + layout.w3(), 2 * d * d, static_cast<double>(2 * d), rng);
  return net;
}

float Normalise(const float* row, std::int32_t dim, float* out) {
  const float norm = std::sqrt(kernels::Dot(row, row, dim));
  const float inv = norm > 0 ? 1.0f / norm : 0.0f;
  for (std::int32_t k = 0; k < dim; ++k) out[k] = row[k] * inv;
  return inv;
}

void Activations::Reserve(std::int32_t dim, std::int32_t max_len) {
  const auto rows = static_cast<std::size_t>(max_len) * dim;
  for (std::vector<float>* v : {&unit, &hidden, &gates, &d_hidden, &d_gates, &d_gates_t, &item_grads}) v->resize(rows);
  inv_norm.resize(static_cast<std::size_t>(max_len));
  alpha.resize(static_cast<std::size_t>(max_len));
  readout.resize(2 * static_cast<std::size_t>(dim));
  d_readout.resize(2 * static_cast<std::size_t>(dim));
  combined.resize(static_cast<std::size_t>(dim));
  d_combined.resize(static_cast<std::size_t>(dim));
  session.resize(static_cast<std::size_t>(dim));
}

void DropoutScales(float rate, std::uint64_t seed, std::uint64_t key, std::int64_t count, float* out) {
  const auto threshold = static_cast<std::uint32_t>(std::lround(static_cast<double>(rate) * 65536.0));
  const float kept = threshold < 65536 ? static_cast<float>(65536.0 / (65536.0 - threshold)) : 0.0f;
  internal::CounterRng rng(seed, key);
  std::uint64_t bits = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    if (i % 4 == 0) bits = rng.NextU64();  // four 16-bit draws per number
    out[i] = (bits & 0xffffu) < threshold ? 0.0f : kept;
    bits >>= 16;
  }
}

void Forward(const Network& net, absl::Span<const std::int32_t> items, Activations& act, const float* keep) {
  const std::int32_t d = net.dim;
  const auto n = static_cast<std::int32_t>(items.size());
  act.Reserve(d, net.max_len);
  act.n = n;
  act.keep = keep;
  const DenseLayout layout = net.layout();
  const float* dense = net.dense.data();
  for (std::int32_t i = 0; i < n; ++i) {
    float* u = act.unit.data() + static_cast<std::int64_t>(i) * d;
    act.inv_norm[i] = Normalise(net.item(items[i]), d, u);
    const float* position = dense + layout.positions() + static_cast<std::int64_t>(n - 1 - i) * d;
    float* h = act.hidden.data() + static_cast<std::int64_t>(i) * d;
    if (keep == nullptr) {
      for (std::int32_t k = 0; k < d; ++k) h[k] = u[k] + position[k];
    } else {
      const float* scales = keep + static_cast<std::int64_t>(i) * d;
      for (std::int32_t k = 0; k < d; ++k) h[k] = scales[k] * u[k] + position[k];
    }
  }
  const float* last = act.hidden.data() + static_cast<std::int64_t>(n - 1) * d;
  // The last item's query (W1 h_last + b) is shared by every gate: combined[] holds it for now.
  float* query_part = act.combined.data();
  kernels::DotTable(dense + layout.w1(), d, d, last, 1, d, d, query_part, 1);
  for (std::int32_t k = 0; k < d; ++k) query_part[k] += dense[layout.bias() + k];
  kernels::DotTable(act.hidden.data(), n, d, dense + layout.w2(), d, d, d, act.gates.data(), d);
  float* readout = act.readout.data();
  std::fill(readout, readout + d, 0.0f);
  for (std::int32_t i = 0; i < n; ++i) {
    float* z = act.gates.data() + static_cast<std::int64_t>(i) * d;
    for (std::int32_t k = 0; k < d; ++k) z[k] = Sigmoid(z[k] + query_part[k]);
    act.alpha[i] = kernels::Dot(dense + layout.query(), z, d);
    kernels::Axpy(act.alpha[i], act.hidden.data() + static_cast<std::int64_t>(i) * d, readout, d);
  }
  std::copy(last, last + d, readout + d);
  kernels::DotTable(dense + layout.w3(), d, 2 * d, readout, 1, 2 * d, 2 * d, act.combined.data(), 1);
  act.combined_norm = std::sqrt(kernels::Dot(act.combined.data(), act.combined.data(), d));
  const float inv = act.combined_norm > 0 ? 1.0f / act.combined_norm : 0.0f;
  for (std::int32_t k = 0; k < d; ++k) act.session[k] = act.combined[k] * inv;
}

void Backward(const Network& net, absl::Span<const std::int32_t> items, const float* d_session, Activations& act,
              float* dense_grad) {
  const std::int32_t d = net.dim;
  const std::int32_t n = act.n;
  const DenseLayout layout = net.layout();
  const float* dense = net.dense.data();
  // s = c / ||c||: dc = (ds - s (s . ds)) / ||c||.
  float* dc = act.d_combined.data();
  const float along = kernels::Dot(act.session.data(), d_session, d);
  const float inv = act.combined_norm > 0 ? 1.0f / act.combined_norm : 0.0f;
  for (std::int32_t k = 0; k < d; ++k) dc[k] = (d_session[k] - act.session[k] * along) * inv;
  // c = W3 readout.
  float* dw3 = dense_grad + layout.w3();
  for (std::int32_t r = 0; r < d; ++r) kernels::Axpy(dc[r], act.readout.data(), dw3 + static_cast<std::int64_t>(r) * 2 * d, 2 * d);
  float* d_readout = act.d_readout.data();
  std::fill(d_readout, d_readout + 2 * d, 0.0f);
  kernels::CombineRows(dc, 1, d, dense + layout.w3(), d, 2 * d, 2 * d, d_readout, 2 * d);
  // readout[:d] = sum_i alpha_i h_i; alpha_i = q . z_i; z_i = sigmoid(W1 h_last + W2 h_i + b).
  float* dh = act.d_hidden.data();
  std::fill(dh, dh + static_cast<std::int64_t>(n) * d, 0.0f);
  float* dz = act.d_gates.data();  // becomes d loss / d (gate pre-activation)
  const float* q = dense + layout.query();
  float* dq = dense_grad + layout.query();
  for (std::int32_t i = 0; i < n; ++i) {
    const float* h = act.hidden.data() + static_cast<std::int64_t>(i) * d;
    const float* z = act.gates.data() + static_cast<std::int64_t>(i) * d;
    const float d_alpha = kernels::Dot(d_readout, h, d);
    kernels::Axpy(act.alpha[i], d_readout, dh + static_cast<std::int64_t>(i) * d, d);
    kernels::Axpy(d_alpha, z, dq, d);
    float* dzi = dz + static_cast<std::int64_t>(i) * d;
    for (std::int32_t k = 0; k < d; ++k) dzi[k] = d_alpha * q[k] * z[k] * (1.0f - z[k]);
  }
  // The shared query part: its gradient is the sum over gates (reused: d_combined is free now).
  float* d_query_part = act.d_combined.data();
  std::fill(d_query_part, d_query_part + d, 0.0f);
  for (std::int32_t i = 0; i < n; ++i) kernels::Axpy(1.0f, dz + static_cast<std::int64_t>(i) * d, d_query_part, d);
  kernels::Axpy(1.0f, d_query_part, dense_grad + layout.bias(), d);
  const float* last = act.hidden.data() + static_cast<std::int64_t>(n - 1) * d;
  float* dw1 = dense_grad + layout.w1();
  for (std::int32_t r = 0; r < d; ++r) kernels::Axpy(d_query_part[r], last, dw1 + static_cast<std::int64_t>(r) * d, d);
  float* d_last = d_readout + d;  // d loss / d h_last so far (from the readout's second half)
  kernels::CombineRows(d_query_part, 1, d, dense + layout.w1(), d, d, d, d_last, d);
  // W2 h_i: dW2 += dz^T H (rows of dz^T are per output unit), dH += dz W2.
  float* dz_t = act.d_gates_t.data();
  for (std::int32_t i = 0; i < n; ++i) {
    for (std::int32_t k = 0; k < d; ++k) dz_t[static_cast<std::int64_t>(k) * n + i] = dz[static_cast<std::int64_t>(i) * d + k];
  }
  kernels::CombineRows(dz_t, d, n, act.hidden.data(), n, d, d, dense_grad + layout.w2(), d);
  kernels::CombineRows(dz, n, d, dense + layout.w2(), d, d, d, dh, d);
  kernels::Axpy(1.0f, d_last, dh + static_cast<std::int64_t>(n - 1) * d, d);
  // h_i = keep_i u_i + P[n - 1 - i]; u_i = e_i / ||e_i||.
  for (std::int32_t i = 0; i < n; ++i) {
    float* dhi = dh + static_cast<std::int64_t>(i) * d;
    kernels::Axpy(1.0f, dhi, dense_grad + layout.positions() + static_cast<std::int64_t>(n - 1 - i) * d, d);
    if (act.keep != nullptr) {  // d h_i / d u_i = keep_i (dh is not read again)
      const float* scales = act.keep + static_cast<std::int64_t>(i) * d;
      for (std::int32_t k = 0; k < d; ++k) dhi[k] *= scales[k];
    }
    const float* u = act.unit.data() + static_cast<std::int64_t>(i) * d;
    const float radial = kernels::Dot(u, dhi, d);
    float* de = act.item_grads.data() + static_cast<std::int64_t>(i) * d;
    for (std::int32_t k = 0; k < d; ++k) de[k] = (dhi[k] - u[k] * radial) * act.inv_norm[i];
  }
}

std::int32_t StrongestItem(const Network& net, const Activations& act, const float* item_vector,
                           std::vector<float>& scratch) {
  const std::int32_t d = net.dim;
  scratch.assign(2 * static_cast<std::size_t>(d), 0.0f);
  // a = W3^T u: the score is (alpha-weighted h's and h_last) . a, up to tau / ||c||.
  kernels::CombineRows(item_vector, 1, d, net.dense.data() + net.layout().w3(), d, 2 * d, 2 * d, scratch.data(), 2 * d);
  std::int32_t best = act.n - 1;
  float best_part = -std::numeric_limits<float>::infinity();
  for (std::int32_t i = 0; i < act.n; ++i) {
    const float* h = act.hidden.data() + static_cast<std::int64_t>(i) * d;
    float part = act.alpha[i] * kernels::Dot(h, scratch.data(), d);
    if (i == act.n - 1) part += kernels::Dot(h, scratch.data() + d, d);
    if (part > best_part) best_part = part, best = i;
  }
  return best;
}

}  // namespace comptoir::recommend::neural
