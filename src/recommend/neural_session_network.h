// The neural session encoder's parameters and its forward and backward passes for one session
// (include/comptoir/recommend/neural_session.h has the architecture). Shared by training,
// serving and the gradient-check tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/recommend/neural_session.h"
#include "comptoir/retrieval/vector_index.h"

namespace comptoir::recommend::neural {

// The dense parameters live in one array (one Adam call, one snapshot), in this order.
struct DenseLayout {
  std::int64_t dim = 0, max_len = 0;
  std::int64_t positions() const { return 0; }               // max_len x dim, by reverse position
  std::int64_t w1() const { return max_len * dim; }          // dim x dim: the last item's attention query
  std::int64_t w2() const { return w1() + dim * dim; }       // dim x dim: each item's attention key
  std::int64_t bias() const { return w2() + dim * dim; }     // dim
  std::int64_t query() const { return bias() + dim; }        // dim: attention weights from the gates
  std::int64_t w3() const { return query() + dim; }          // dim x 2 dim: [readout; last] -> session
  std::int64_t size() const { return w3() + 2 * dim * dim; }
};

struct Network {
  std::int32_t num_items = 0;
  std::int32_t dim = 0;
  std::int32_t max_len = 0;
  float scale = 1.0f;
  std::vector<float> items;  // num_items x dim, unnormalised (the item table Adam updates)
  std::vector<float> dense;  // DenseLayout

  DenseLayout layout() const { return {dim, max_len}; }
  const float* item(std::int32_t id) const { return items.data() + static_cast<std::int64_t>(id) * dim; }
};

// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every parameter, the attention bias zero.
Network InitialNetwork(std::int32_t num_items, const NeuralSessionConfig& config, std::uint64_t seed);

// Writes row / ||row|| into `out` and returns 1 / ||row|| (0 for a zero row, which stays zero).
float Normalise(const float* row, std::int32_t dim, float* out);

// One session's intermediate values, kept for the backward pass; buffers are sized once for
// max_len and reused.
struct Activations {
  std::int32_t n = 0;
  std::vector<float> unit;      // n x dim: u_i = e_i / ||e_i||
  std::vector<float> inv_norm;  // n
  const float* keep = nullptr;  // n x dim dropout scales (0 or 1 / (1 - p)) or none: h_i = keep_i * u_i + P
  std::vector<float> hidden;    // n x dim: h_i = u_i + P[n - 1 - i]
  std::vector<float> gates;     // n x dim: z_i = sigmoid(W1 h_last + W2 h_i + b)
  std::vector<float> alpha;     // n: q . z_i
  std::vector<float> readout;   // 2 dim: [sum_i alpha_i h_i ; h_last]
  std::vector<float> combined;  // dim: c = W3 readout
  float combined_norm = 0;
  std::vector<float> session;   // dim: s = c / ||c||
  // Backward scratch and result: item_grads (n x dim) are d loss / d e_i for the input items.
  std::vector<float> d_hidden, d_gates, d_gates_t, d_readout, d_combined, item_grads;

  void Reserve(std::int32_t dim, std::int32_t max_len);
};

// Encodes `items` (1 <= n <= max_len known item ids, oldest first) into act.session; `keep`
// (training's dropout, n x dim scales, kept by pointer for Backward) multiplies the unit vectors.
void Forward(const Network& net, absl::Span<const std::int32_t> items, Activations& act, const float* keep = nullptr);

// Dropout scales for one example: n x dim entries, each 0 with probability `rate` (in steps of
// 2^-16) and 1 / (1 - rate) otherwise, a pure function of (seed, key).
void DropoutScales(float rate, std::uint64_t seed, std::uint64_t key, std::int64_t count, float* out);

// Given d loss / d s, adds the dense parameters' gradient into `dense_grad` (DenseLayout) and
// writes the input items' gradients into act.item_grads.
void Backward(const Network& net, absl::Span<const std::int32_t> items, const float* d_session, Activations& act,
              float* dense_grad);

// How much each session item's part of the session vector adds to `item_vector`'s score:
// c = W3 [sum_i alpha_i h_i ; h_last], so item i contributes W3_readout alpha_i h_i (and the
// last item also W3_last h_last). Returns the position of the largest contribution.
std::int32_t StrongestItem(const Network& net, const Activations& act, const float* item_vector,
                           std::vector<float>& scratch);

}  // namespace comptoir::recommend::neural

namespace comptoir::recommend {

// The trained network and what serving derives from it.
struct NeuralSession::State {
  NeuralSessionConfig config;
  neural::Network net;
  std::vector<NeuralSessionEpoch> history;
  std::vector<std::int64_t> counts;  // per item: times it was a training target or context item
  std::vector<std::uint8_t> seen;    // counts > 0
  std::vector<std::int32_t> popular; // seen items, most counted first (the cold-start fallback)
  std::vector<float> unit_items;     // num_items x dim normalised (zero for unseen items)
  // Retrieval: below ivf_min_items a scan of half-precision copies (half the memory traffic of
  // floats) whose best candidates are rescored in float; from there on an IVF index.
  std::vector<std::uint16_t> half_items;
  std::unique_ptr<retrieval::VectorIndex> ivf;

  // An item's score from its cosine to the session: exp(scale * (cosine - 1)), the softmax
  // probability up to the session's normaliser, so that blends (and users) compare likelihoods:
  // a hybrid divides by the best candidate's score, which gives p_j / p_best exactly.
  float Likelihood(float cosine) const { return std::exp(net.scale * (cosine - 1.0f)); }

  // The last max_len known items of `items` into `known`; the others, when asked, into `unknown`.
  void KnownItems(absl::Span<const std::int32_t> items, std::vector<std::int32_t>& known,
                  std::vector<std::int32_t>* unknown) const;
};

// Builds the serving tables (normalised items, the fallback order, the index) for a network.
absl::StatusOr<std::unique_ptr<NeuralSession::State>> MakeServingState(NeuralSessionConfig config, neural::Network net,
                                                                       std::vector<std::int64_t> counts,
                                                                       std::vector<NeuralSessionEpoch> history);

}  // namespace comptoir::recommend
