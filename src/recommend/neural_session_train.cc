// Training the neural session recommender: mini-batches of session prefixes, a sampled (or full)
// softmax over shared candidates, hand-written backward passes, Adam (lazy on the item table),
// validation every epoch with early stopping, and a guard against divergence.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "comptoir/logging.h"
#include "comptoir/recommend/neural_session.h"
#include "comptoir/status.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "internal/vector_kernels.h"
#include "recommend/neural_session_network.h"
#include "recommend/neural_session_train.h"

namespace comptoir::recommend {
namespace neural {
namespace {

namespace kernels = internal::kernels;

constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;
constexpr std::int64_t kExampleChunk = 16;
constexpr int kMaxRestarts = 3;
constexpr int kCutoff = 20;
constexpr std::uint64_t kDropoutStream = 0x44524f50ULL << 44;  // apart from batch keys << 20

struct AdamState {
  std::vector<float> item_m, item_v, dense_m, dense_v;
  std::int64_t step = 0;
};

// What one batch needs, sized once.
struct Workspace {
  std::vector<Activations> acts;
  std::vector<float> sessions, d_sessions;            // batch x dim
  std::vector<std::int32_t> candidates, target_column;
  std::vector<float> candidate_log_q, candidate_units, candidate_inv_norm;  // C, C x dim, C
  std::vector<float> logits;                          // batch x C
  std::vector<float> d_units;                         // C x dim
  std::vector<float> chunk_grads;                     // chunks x dense size
  std::vector<float> dense_grad;
  std::vector<std::int32_t> row_of_item;              // num_items, -1 when not touched
  std::vector<std::int32_t> touched;                  // item of each gradient row
  std::vector<float> item_grads;                      // touched x dim
  std::vector<double> losses;                         // per example
  std::vector<float> dropout_scales;                  // batch x max_len x dim (with dropout)
};

class Trainer {
 public:
  Trainer(const Examples& train, std::vector<std::int64_t> target_counts, std::int32_t num_items,
          const NeuralSessionConfig& config, const ExecutionOptions& options, const char* run = "training")
      : train_(train), config_(config), options_(options), run_(run), num_items_(num_items),
        target_counts_(std::move(target_counts)) {
    double total = 0;
    cdf_.resize(target_counts_.size());
    for (std::size_t j = 0; j < target_counts_.size(); ++j) {
      total += target_counts_[j] > 0 ? std::pow(static_cast<double>(target_counts_[j]), config.negative_exponent) : 0.0;
      cdf_[j] = total;
    }
    log_q_.resize(target_counts_.size());
    for (std::size_t j = 0; j < target_counts_.size(); ++j) {
      const double weight = cdf_[j] - (j > 0 ? cdf_[j - 1] : 0.0);
      log_q_[j] = weight > 0 ? static_cast<float>(std::log(weight / total)) : 0.0f;
      if (target_counts_[j] > 0) targets_.push_back(static_cast<std::int32_t>(j));
    }
  }

  // One pass over the shuffled examples; returns the mean loss (NaN once it diverged).
  absl::StatusOr<double> Epoch(Network& net, AdamState& adam, float learning_rate, std::int32_t epoch) {
    const std::int64_t n = train_.size();
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    internal::CounterRng shuffle(options_.seed, 0x5348554646ULL + static_cast<std::uint64_t>(epoch));
    for (std::int64_t i = n - 1; i > 0; --i) {
      std::swap(order[i], order[static_cast<std::int64_t>(shuffle.UniformInt(static_cast<std::uint64_t>(i + 1)))]);
    }
    const std::int64_t batches = internal::NumChunks(n, config_.batch_size);
    ProgressReporter progress(options_.progress, batches, absl::StrCat(run_, " epoch ", epoch, "/", config_.epochs));
    double loss_sum = 0;
    for (std::int64_t b = 0; b < batches; ++b) {
      if (progress.Cancelled()) return progress.status();
      const std::int64_t begin = b * config_.batch_size;
      const std::int64_t end = std::min(n, begin + config_.batch_size);
      const double loss = Step(net, adam, learning_rate,
                               absl::MakeConstSpan(order).subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)),
                               static_cast<std::uint64_t>(epoch) * 1'000'003ULL + static_cast<std::uint64_t>(b));
      if (!std::isfinite(loss)) return std::numeric_limits<double>::quiet_NaN();
      loss_sum += loss * static_cast<double>(end - begin);
      progress.Advance(1);
    }
    COMPTOIR_RETURN_IF_ERROR(progress.status());
    return loss_sum / static_cast<double>(std::max<std::int64_t>(n, 1));
  }

  // One optimiser step on the examples `batch`; returns the batch's mean loss.
  double Step(Network& net, AdamState& adam, float learning_rate, absl::Span<const std::int64_t> batch,
              std::uint64_t batch_key) {
    const double loss = Gradient(net, batch, batch_key);
    if (std::isfinite(loss)) Apply(net, adam, learning_rate);
    Workspace& w = workspace_;
    for (std::int32_t item : w.touched) w.row_of_item[item] = -1;
    w.touched.clear();
    return loss;
  }

  // The batch's mean loss; its gradient lands in the workspace (dense_grad, and item_grads by
  // touched row).
  double Gradient(const Network& net, absl::Span<const std::int64_t> batch, std::uint64_t batch_key) {
    const std::int32_t d = net.dim;
    const auto size = static_cast<std::int64_t>(batch.size());
    Workspace& w = workspace_;
    Prepare(net, size);
    // Forward, one session per example.
    Parallel(size, kExampleChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      for (std::int64_t e = begin; e < end; ++e) {
        const float* keep = nullptr;
        if (config_.dropout > 0) {
          const auto count = static_cast<std::int64_t>(train_.Context(batch[e]).size()) * d;
          float* scales = w.dropout_scales.data() + e * net.max_len * d;
          DropoutScales(config_.dropout, options_.seed, (batch_key << 20) ^ static_cast<std::uint64_t>(e) ^ kDropoutStream,
                        count, scales);
          keep = scales;
        }
        Forward(net, train_.Context(batch[e]), w.acts[e], keep);
        std::copy(w.acts[e].session.begin(), w.acts[e].session.begin() + d, w.sessions.begin() + e * d);
      }
    });
    ChooseCandidates(net, batch, batch_key);
    const auto c = static_cast<std::int64_t>(w.candidates.size());
    // Scores and softmax per example.
    Parallel(size, kExampleChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      kernels::DotTable(w.sessions.data() + begin * d, end - begin, d, w.candidate_units.data(), c, d, d,
                        w.logits.data() + begin * c, c);
      for (std::int64_t e = begin; e < end; ++e) w.losses[e] = SoftmaxRow(net.scale, w.logits.data() + e * c, c, w.target_column[e], size);
    });
    double loss = 0;
    for (std::int64_t e = 0; e < size; ++e) loss += w.losses[e];
    loss /= static_cast<double>(size);
    if (!std::isfinite(loss)) return loss;
    // d loss / d session = scale * dlogits U; d loss / d unit item = scale * dlogits^T S.
    Parallel(size, kExampleChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      std::fill(w.d_sessions.begin() + begin * d, w.d_sessions.begin() + end * d, 0.0f);
      kernels::CombineRows(w.logits.data() + begin * c, end - begin, c, w.candidate_units.data(), c, d, d,
                           w.d_sessions.data() + begin * d, d);
    });
    Parallel(c, 128, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      std::fill(w.d_units.begin() + begin * d, w.d_units.begin() + end * d, 0.0f);
      kernels::CombineRowsTransposed(w.logits.data() + begin, end - begin, c, w.sessions.data(), size, d, d,
                                     w.d_units.data() + begin * d, d);
      for (std::int64_t j = begin; j < end; ++j) {
        // Through u = e / ||e||, into the candidate's gradient row (row j).
        const float* u = w.candidate_units.data() + j * d;
        const float* du = w.d_units.data() + j * d;
        const float radial = kernels::Dot(u, du, d);
        float* g = w.item_grads.data() + j * d;
        const float factor = net.scale * w.candidate_inv_norm[j];
        for (std::int32_t k = 0; k < d; ++k) g[k] = (du[k] - u[k] * radial) * factor;
      }
    });
    // Backward through the encoder, dense gradients per chunk, reduced in chunk order.
    const DenseLayout layout = net.layout();
    const std::int64_t dense_size = layout.size();
    const std::int64_t chunks = internal::NumChunks(size, kExampleChunk);
    std::fill(w.chunk_grads.begin(), w.chunk_grads.begin() + chunks * dense_size, 0.0f);
    Parallel(size, kExampleChunk, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
      for (std::int64_t e = begin; e < end; ++e) {
        for (std::int32_t k = 0; k < d; ++k) w.d_sessions[e * d + k] *= net.scale;
        Backward(net, train_.Context(batch[e]), w.d_sessions.data() + e * d, w.acts[e],
                 w.chunk_grads.data() + chunk * dense_size);
      }
    });
    std::fill(w.dense_grad.begin(), w.dense_grad.end(), 0.0f);
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      kernels::Axpy(1.0f, w.chunk_grads.data() + chunk * dense_size, w.dense_grad.data(), dense_size);
    }
    for (std::int64_t e = 0; e < size; ++e) {
      const absl::Span<const std::int32_t> context = train_.Context(batch[e]);
      for (std::size_t i = 0; i < context.size(); ++i) {
        kernels::Axpy(1.0f, w.acts[e].item_grads.data() + static_cast<std::int64_t>(i) * d, GradientRow(context[i], d), d);
      }
    }
    return loss;
  }

  // Adam: every dense parameter, and the item rows the batch touched.
  void Apply(Network& net, AdamState& adam, float learning_rate) {
    Workspace& w = workspace_;
    const std::int32_t d = net.dim;
    const std::int64_t dense_size = net.layout().size();
    ++adam.step;
    const double correction1 = 1.0 - std::pow(kBeta1, static_cast<double>(adam.step));
    const double correction2 = 1.0 - std::pow(kBeta2, static_cast<double>(adam.step));
    const auto step_size = static_cast<float>(learning_rate * std::sqrt(correction2) / correction1);
    const auto epsilon_hat = static_cast<float>(kEpsilon * std::sqrt(correction2));
    kernels::AdamStep(net.dense.data(), adam.dense_m.data(), adam.dense_v.data(), w.dense_grad.data(), dense_size,
                      kBeta1, kBeta2, step_size, epsilon_hat);
    const auto rows = static_cast<std::int64_t>(w.touched.size());
    Parallel(rows, 256, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const std::int64_t offset = std::int64_t{w.touched[r]} * d;
        kernels::AdamStep(net.items.data() + offset, adam.item_m.data() + offset, adam.item_v.data() + offset,
                          w.item_grads.data() + r * d, d, kBeta1, kBeta2, step_size, epsilon_hat);
      }
    });
  }

  const Workspace& workspace() const { return workspace_; }

 private:
  template <typename Fn>
  void Parallel(std::int64_t n, std::int64_t chunk, Fn&& fn) {
    (void)internal::ParallelForChunks(options_.num_threads, n, chunk, std::forward<Fn>(fn));
  }

  void Prepare(const Network& net, std::int64_t size) {
    Workspace& w = workspace_;
    const std::int64_t d = net.dim;
    if (static_cast<std::int64_t>(w.acts.size()) < size) w.acts.resize(static_cast<std::size_t>(size));
    w.sessions.resize(static_cast<std::size_t>(size * d));
    w.d_sessions.resize(static_cast<std::size_t>(size * d));
    w.losses.resize(static_cast<std::size_t>(size));
    if (config_.dropout > 0) w.dropout_scales.resize(static_cast<std::size_t>(size * net.max_len * d));
    w.chunk_grads.resize(static_cast<std::size_t>(internal::NumChunks(size, kExampleChunk) * net.layout().size()));
    w.dense_grad.resize(static_cast<std::size_t>(net.layout().size()));
    if (w.row_of_item.empty()) w.row_of_item.assign(static_cast<std::size_t>(num_items_), -1);
  }

  // The item's gradient row, added (zeroed) the first time the batch touches the item.
  float* GradientRow(std::int32_t item, std::int32_t d) {
    Workspace& w = workspace_;
    std::int32_t& row = w.row_of_item[item];
    if (row < 0) {
      row = static_cast<std::int32_t>(w.touched.size());
      w.touched.push_back(item);
      w.item_grads.resize(w.touched.size() * static_cast<std::size_t>(d), 0.0f);
    }
    return w.item_grads.data() + static_cast<std::int64_t>(row) * d;
  }

  // Candidates: the batch's targets and the shared sampled negatives (every seen target item for
  // the full softmax), each once; they own the first gradient rows, in candidate order.
  void ChooseCandidates(const Network& net, absl::Span<const std::int64_t> batch, std::uint64_t batch_key) {
    Workspace& w = workspace_;
    const std::int32_t d = net.dim;
    w.candidates.clear();
    w.target_column.resize(batch.size());
    const auto add = [&](std::int32_t item) {
      std::int32_t& row = w.row_of_item[item];
      if (row < 0) {
        row = static_cast<std::int32_t>(w.candidates.size());
        w.candidates.push_back(item);
      }
      return row;
    };
    const bool full = config_.num_negatives == 0;
    if (full) {
      for (std::int32_t item : targets_) add(item);
    }
    for (std::size_t e = 0; e < batch.size(); ++e) w.target_column[e] = add(train_.targets[batch[e]]);
    if (!full) {
      internal::CounterRng rng(options_.seed, 0x4e4547ULL ^ (batch_key << 8));
      const double total = cdf_.back();
      for (std::int32_t s = 0; s < config_.num_negatives; ++s) {
        const double u = rng.Uniform() * total;
        const auto j = std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
        add(static_cast<std::int32_t>(std::min<std::ptrdiff_t>(j, static_cast<std::ptrdiff_t>(cdf_.size()) - 1)));
      }
    }
    const auto c = static_cast<std::int64_t>(w.candidates.size());
    w.touched.assign(w.candidates.begin(), w.candidates.end());
    w.item_grads.assign(static_cast<std::size_t>(c * d), 0.0f);
    w.candidate_units.resize(static_cast<std::size_t>(c * d));
    w.candidate_inv_norm.resize(static_cast<std::size_t>(c));
    w.candidate_log_q.resize(static_cast<std::size_t>(c));
    w.d_units.resize(static_cast<std::size_t>(c * d));
    w.logits.resize(static_cast<std::size_t>(c) * batch.size());
    for (std::int64_t j = 0; j < c; ++j) {
      const std::int32_t item = w.candidates[j];
      w.candidate_inv_norm[j] = Normalise(net.item(item), d, w.candidate_units.data() + j * d);
      w.candidate_log_q[j] = full ? 0.0f : log_q_[item];
    }
  }

  // Turns a row of cosines into d loss / d logit / batch size (in place); returns the example's loss.
  double SoftmaxRow(float scale, float* row, std::int64_t c, std::int32_t target, std::int64_t batch_size) const {
    const float* log_q = workspace_.candidate_log_q.data();
    float top = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < c; ++j) {
      row[j] = scale * row[j] - log_q[j];
      top = std::max(top, row[j]);
    }
    double sum = 0;
    for (std::int64_t j = 0; j < c; ++j) {
      row[j] = std::exp(row[j] - top);
      sum += row[j];
    }
    const double loss = std::log(sum) - std::log(static_cast<double>(row[target]));
    const auto inv = static_cast<float>(1.0 / (sum * static_cast<double>(batch_size)));
    for (std::int64_t j = 0; j < c; ++j) row[j] *= inv;
    row[target] -= 1.0f / static_cast<float>(batch_size);
    return loss;
  }

  const Examples& train_;
  const NeuralSessionConfig& config_;
  const ExecutionOptions& options_;
  const char* run_;
  std::int32_t num_items_;
  std::vector<std::int64_t> target_counts_;
  std::vector<double> cdf_;
  std::vector<float> log_q_;
  std::vector<std::int32_t> targets_;
  Workspace workspace_;
};

// Finite and far from overflow: Adam moves a weight by about the learning rate per step, so a
// magnitude past 1e6 only comes from a run that blew up (squared norms overflow soon after).
bool Healthy(const Network& net) {
  constexpr float kLimit = 1e6f;
  const auto sane = [&](const std::vector<float>& values) {
    return std::all_of(values.begin(), values.end(), [&](float v) { return std::abs(v) <= kLimit; });
  };
  return sane(net.items) && sane(net.dense);
}

}  // namespace

absl::Span<const std::int32_t> Examples::Context(std::int64_t e) const {
  return absl::MakeConstSpan(context).subspan(static_cast<std::size_t>(offsets[e]),
                                              static_cast<std::size_t>(offsets[e + 1] - offsets[e]));
}

Examples Prefixes(const data::SessionsView& sessions, std::int32_t max_len, absl::Span<const std::uint8_t> known) {
  Examples out;
  out.offsets.push_back(0);
  std::vector<std::int32_t> window;
  for (std::int64_t s = 0; s < sessions.num_sessions(); ++s) {
    const absl::Span<const std::int32_t> items = sessions.SessionItems(s);
    window.clear();
    for (std::size_t t = 0; t < items.size(); ++t) {
      if (t > 0 && !window.empty()) {
        const std::size_t from = window.size() > static_cast<std::size_t>(max_len) ? window.size() - max_len : 0;
        out.context.insert(out.context.end(), window.begin() + static_cast<std::ptrdiff_t>(from), window.end());
        out.offsets.push_back(static_cast<std::int64_t>(out.context.size()));
        out.targets.push_back(items[t]);
      } else if (t > 0) {
        ++out.skipped;  // nothing known to encode before this target: it counts as a miss
      }
      if (known.empty() || known[items[t]]) window.push_back(items[t]);
    }
  }
  return out;
}

Metrics Evaluate(const Network& net, absl::Span<const std::uint8_t> seen, const Examples& examples, int num_threads) {
  const std::int32_t d = net.dim;
  // A compact table of the seen items: unseen ones are never candidates.
  std::vector<std::int32_t> column(seen.size(), -1);
  std::vector<float> units;
  std::int64_t candidates = 0;
  for (std::size_t item = 0; item < seen.size(); ++item) {
    if (!seen[item]) continue;
    column[item] = static_cast<std::int32_t>(candidates++);
    units.resize(static_cast<std::size_t>(candidates * d));
    Normalise(net.item(static_cast<std::int32_t>(item)), d, units.data() + (candidates - 1) * d);
  }
  constexpr std::int64_t kChunk = 32;
  const std::int64_t n = examples.size();
  struct Sums {
    double hits = 0, reciprocal = 0;
  };
  const Sums sums = internal::DeterministicReduce(
      num_threads, n, kChunk, Sums{},
      [&](std::int64_t begin, std::int64_t end) {
        thread_local Activations act;
        thread_local std::vector<float> queries, scores;
        queries.assign(static_cast<std::size_t>((end - begin) * d), 0.0f);
        scores.resize(static_cast<std::size_t>((end - begin) * candidates));
        for (std::int64_t e = begin; e < end; ++e) {
          Forward(net, examples.Context(e), act);
          std::copy(act.session.begin(), act.session.begin() + d, queries.begin() + (e - begin) * d);
        }
        kernels::DotTable(queries.data(), end - begin, d, units.data(), candidates, d, d, scores.data(), candidates);
        Sums part;
        for (std::int64_t e = begin; e < end; ++e) {
          const std::int32_t target = column[examples.targets[e]];
          if (target < 0) continue;
          const float* row = scores.data() + (e - begin) * candidates;
          const float score = row[target];
          std::int64_t rank = 0;
          for (std::int64_t j = 0; j < candidates; ++j) rank += row[j] >= score;
          if (rank <= kCutoff) part.hits += 1, part.reciprocal += 1.0 / static_cast<double>(rank);
        }
        return part;
      },
      [](Sums& total, const Sums& part) { total.hits += part.hits, total.reciprocal += part.reciprocal; });
  const auto total = static_cast<double>(n + examples.skipped);
  return {total > 0 ? sums.hits / total : 0.0, total > 0 ? sums.reciprocal / total : 0.0};
}

BatchGradient ComputeBatchGradient(const Network& net, const Examples& examples, absl::Span<const std::int64_t> batch,
                                   std::vector<std::int64_t> target_counts, const NeuralSessionConfig& config,
                                   const ExecutionOptions& options, std::uint64_t batch_key) {
  Trainer trainer(examples, std::move(target_counts), net.num_items, config, options);
  BatchGradient out;
  out.loss = trainer.Gradient(net, batch, batch_key);
  const Workspace& w = trainer.workspace();
  out.dense = w.dense_grad;
  out.items = w.touched;
  out.item_rows = w.item_grads;
  return out;
}

absl::StatusOr<TrainedNetwork> Train(const data::SessionsView& sessions, const data::SessionsView& validation,
                                     std::int32_t num_items, const NeuralSessionConfig& config,
                                     const ExecutionOptions& options, bool refit) {
  const char* run = refit ? "refit" : "training";
  TrainedNetwork result;
  result.counts.assign(static_cast<std::size_t>(num_items), 0);
  std::vector<std::int64_t> target_counts(static_cast<std::size_t>(num_items), 0);
  for (std::int64_t s = 0; s < sessions.num_sessions(); ++s) {
    const absl::Span<const std::int32_t> items = sessions.SessionItems(s);
    for (std::size_t t = 0; t < items.size(); ++t) {
      ++result.counts[items[t]];
      if (t > 0) ++target_counts[items[t]];
    }
  }
  std::vector<std::uint8_t> seen(result.counts.size());
  for (std::size_t j = 0; j < seen.size(); ++j) seen[j] = result.counts[j] > 0;
  const Examples train = Prefixes(sessions, config.max_session_length, {});
  if (train.size() == 0) {
    return absl::InvalidArgumentError("no training session has two items: there is no next item to learn from");
  }
  const Examples held_out = Prefixes(validation, config.max_session_length, seen);
  const bool validate = validation.num_sessions() > 0;
  if (validate && held_out.size() == 0) {
    return absl::InvalidArgumentError(
        "the validation sessions have no prefix with an item seen in training: nothing to validate on");
  }
  Network net = InitialNetwork(num_items, config, options.seed);
  AdamState adam;
  adam.item_m.assign(net.items.size(), 0.0f);
  adam.item_v.assign(net.items.size(), 0.0f);
  adam.dense_m.assign(net.dense.size(), 0.0f);
  adam.dense_v.assign(net.dense.size(), 0.0f);
  Trainer trainer(train, std::move(target_counts), num_items, config, options, run);
  Network best = net;
  double best_mrr = -1;
  std::int32_t since_best = 0;
  float learning_rate = config.learning_rate;
  int restarts = 0;
  const absl::Status status = internal::RunInArena(options.num_threads, [&]() -> absl::Status {
    for (std::int32_t epoch = 1; epoch <= config.epochs; ++epoch) {
      const Network before = net;
      const AdamState adam_before = adam;
      const auto start = std::chrono::steady_clock::now();
      COMPTOIR_ASSIGN_OR_RETURN(const double loss, trainer.Epoch(net, adam, learning_rate, epoch));
      NeuralSessionEpoch report;
      report.epoch = epoch;
      report.learning_rate = learning_rate;
      if (!std::isfinite(loss) || !Healthy(net)) {
        if (++restarts > kMaxRestarts) {
          // The hyperparameters are what is wrong: an InvalidArgument, as for a bad value.
          return absl::InvalidArgumentError(absl::StrCat(
              "training diverged (non-finite loss or weights) ", kMaxRestarts + 1, " times, down to learning_rate ", learning_rate,
              ": lower learning_rate or scale"));
        }
        Logf(LogLevel::kWarning, "neural session training diverged in epoch ", epoch, " at learning_rate ",
             learning_rate, ": rerunning it from the last good epoch at half the rate");
        net = before;
        adam = adam_before;
        learning_rate *= 0.5f;
        --epoch;
        report.restarted = true;
        report.loss = loss;
        result.history.push_back(report);
        continue;
      }
      report.loss = loss;
      learning_rate *= config.learning_rate_decay;
      report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string stage = absl::StrFormat("%sepoch %d/%d: loss %.4f", refit ? "refit " : "", epoch, config.epochs, loss);
      if (validate) {
        const Metrics metrics = Evaluate(net, seen, held_out, options.num_threads);
        report.validation_hit_rate = metrics.hit_rate;
        report.validation_mrr = metrics.mrr;
        absl::StrAppendFormat(&stage, ", validation HR@20 %.4f, MRR@20 %.4f", metrics.hit_rate, metrics.mrr);
      }
      result.history.push_back(report);
      Logf(LogLevel::kInfo, "neural session ", stage, absl::StrFormat(" (%.1f s)", report.seconds));
      if (options.progress && !options.progress(epoch, config.epochs, stage)) {
        return absl::CancelledError("neural session training was cancelled");
      }
      if (!validate || report.validation_mrr > best_mrr) {
        best_mrr = report.validation_mrr;
        best = net;
        result.best_epoch = epoch;
        since_best = 0;
      } else if (config.patience > 0 && ++since_best >= config.patience) {
        Logf(LogLevel::kInfo, "neural session: validation MRR@20 has not improved for ", since_best,
             " epochs; keeping epoch ", epoch - since_best);
        break;
      }
    }
    return absl::OkStatus();
  });
  COMPTOIR_RETURN_IF_ERROR(status);
  result.net = std::move(best);
  return result;
}

}  // namespace neural

absl::StatusOr<std::unique_ptr<NeuralSession>> NeuralSession::Fit(const data::SessionsView& sessions,
                                                                  const data::SessionsView& validation,
                                                                  std::int32_t num_items,
                                                                  const NeuralSessionConfig& config,
                                                                  const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (num_items <= 0) return absl::InvalidArgumentError("num_items must be positive");
  for (const data::SessionsView* view : {&sessions, &validation}) {
    const char* name = view == &sessions ? "training" : "validation";
    if (view->offsets.empty() && view->items.empty()) continue;
    if (view->offsets.empty() || view->offsets.front() != 0 ||
        view->offsets.back() != static_cast<std::int64_t>(view->items.size())) {
      return absl::InvalidArgumentError(absl::StrCat(name, " session offsets must start at 0 and end at the number of items"));
    }
    for (std::size_t s = 1; s < view->offsets.size(); ++s) {
      if (view->offsets[s] < view->offsets[s - 1]) {
        return absl::InvalidArgumentError(absl::StrCat(name, " session offsets decrease at session ", s - 1));
      }
    }
    for (std::size_t i = 0; i < view->items.size(); ++i) {
      if (view->items[i] < 0 || view->items[i] >= num_items) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, " item ", i, " is ", view->items[i], ", outside [0, ", num_items, ")"));
      }
    }
  }
  COMPTOIR_ASSIGN_OR_RETURN(neural::TrainedNetwork trained, neural::Train(sessions, validation, num_items, config, options));
  if (config.refit && validation.num_sessions() > 0) {
    // The same start (seed) on the sessions end to end: the validation sessions follow the
    // training ones, as they follow them in time.
    std::vector<std::int64_t> offsets(sessions.offsets.begin(), sessions.offsets.end());
    if (offsets.empty()) offsets.push_back(0);
    std::vector<std::int32_t> items(sessions.items.begin(), sessions.items.end());
    for (std::size_t s = 1; s < validation.offsets.size(); ++s) {
      offsets.push_back(offsets.back() + validation.offsets[s] - validation.offsets[s - 1]);
    }
    items.insert(items.end(), validation.items.begin(), validation.items.end());
    NeuralSessionConfig again = config;
    again.epochs = trained.best_epoch;
    again.patience = 0;
    COMPTOIR_ASSIGN_OR_RETURN(neural::TrainedNetwork refit,
                              neural::Train({offsets, items, {}, {}, {}}, {}, num_items, again, options, /*refit=*/true));
    for (NeuralSessionEpoch& epoch : refit.history) epoch.refit = true;
    refit.history.insert(refit.history.begin(), trained.history.begin(), trained.history.end());
    trained = std::move(refit);
  }
  COMPTOIR_ASSIGN_OR_RETURN(auto state, MakeServingState(config, std::move(trained.net), std::move(trained.counts),
                                                         std::move(trained.history)));
  return std::unique_ptr<NeuralSession>(new NeuralSession(std::move(state)));
}

}  // namespace comptoir::recommend
