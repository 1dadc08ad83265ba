#include "comptoir/embed/item2vec.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include <Eigen/Core>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/embed.pb.h"
#include "internal/parallel.h"
#include "internal/rng.h"

namespace comptoir::embed {
namespace {

using VecMap = Eigen::Map<Eigen::VectorXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;

// Rows of one embedding matrix that a shard changed since the last merge.
class TouchedRows {
 public:
  explicit TouchedRows(std::int32_t num_items) : flags_(static_cast<std::size_t>(num_items), 0) {}
  void Mark(std::int32_t row) {
    if (flags_[row] == 0) {
      flags_[row] = 1;
      rows_.push_back(row);
    }
  }
  bool Contains(std::int32_t row) const { return flags_[row] != 0; }
  const std::vector<std::int32_t>& rows() const { return rows_; }
  void Clear() {
    for (std::int32_t row : rows_) flags_[row] = 0;
    rows_.clear();
  }

 private:
  std::vector<std::uint8_t> flags_;
  std::vector<std::int32_t> rows_;
};

// A pair of embedding matrices being trained: the master, a shard's copy, or (hogwild) shared.
struct Weights {
  std::vector<float> input;
  std::vector<float> output;
};

class Trainer {
 public:
  Trainer(const data::SessionsView& sessions, std::int32_t num_items, const Item2VecConfig& config,
          const ExecutionOptions& options)
      : sessions_(sessions), num_items_(num_items), config_(config), options_(options) {}

  absl::Status Prepare(std::vector<std::int64_t>& counts) {
    counts.assign(static_cast<std::size_t>(num_items_), 0);
    for (std::int32_t item : sessions_.items) {
      if (item < 0 || item >= num_items_) {
        return absl::InvalidArgumentError(
            absl::StrCat("session item id ", item, " is outside [0, ", num_items_, ")"));
      }
      ++counts[item];
    }
    total_words_ = static_cast<double>(sessions_.items.size());
    if (total_words_ == 0) return absl::InvalidArgumentError("item2vec needs at least one session event");
    keep_probability_.resize(counts.size());
    const double threshold = config_.subsample * total_words_;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      const double c = static_cast<double>(counts[i]);
      keep_probability_[i] =
          (config_.subsample <= 0 || c == 0) ? 1.0f
                                             : static_cast<float>(std::min(1.0, (std::sqrt(c / threshold) + 1) * threshold / c));
    }
    // Unigram^ns_exponent table: a negative is one uniform draw away.
    std::vector<double> weights(counts.size());
    double total = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) total += weights[i] = std::pow(static_cast<double>(counts[i]), config_.ns_exponent);
    const std::size_t table_size = std::clamp<std::size_t>(counts.size() * 32, 1 << 16, 1 << 25);
    negative_table_.resize(table_size);
    double cumulative = 0;
    std::size_t item = 0;
    for (std::size_t slot = 0; slot < table_size; ++slot) {
      const double position = (static_cast<double>(slot) + 0.5) / static_cast<double>(table_size) * total;
      while (item + 1 < counts.size() && cumulative + weights[item] < position) cumulative += weights[item++];
      negative_table_[slot] = static_cast<std::int32_t>(item);
    }
    return absl::OkStatus();
  }

  Weights InitialWeights() const {
    const std::size_t size = static_cast<std::size_t>(num_items_) * config_.dim;
    Weights w{std::vector<float>(size), std::vector<float>(size, 0.0f)};
    for (std::int32_t row = 0; row < num_items_; ++row) {
      internal::CounterRng rng(options_.seed, static_cast<std::uint64_t>(row));
      for (std::int32_t d = 0; d < config_.dim; ++d) {
        w.input[static_cast<std::size_t>(row) * config_.dim + d] = static_cast<float>((rng.Uniform() - 0.5) / config_.dim);
      }
    }
    return w;
  }

  // Trains sessions [begin, end) of `epoch` into `w`, recording touched rows when asked.
  void TrainRange(std::int32_t epoch, std::int64_t begin, std::int64_t end, Weights& w,
                  TouchedRows* touched_input, TouchedRows* touched_output,
                  std::vector<std::int32_t>& sentence, std::vector<float>& gradient) const {
    const std::int32_t dim = config_.dim;
    gradient.resize(static_cast<std::size_t>(dim));
    const double epoch_words = total_words_;
    const double all_words = epoch_words * config_.epochs;
    for (std::int64_t s = begin; s < end; ++s) {
      // One stream per (epoch, session): sharded and hogwild modes draw the same numbers.
      internal::CounterRng rng(options_.seed ^ 0x5eed5eedULL,
                               static_cast<std::uint64_t>(epoch) * static_cast<std::uint64_t>(sessions_.num_sessions()) + s);
      sentence.clear();
      for (std::int32_t item : sessions_.SessionItems(s)) {
        if (rng.Uniform() < keep_probability_[item]) sentence.push_back(item);
      }
      const double progress = (epoch * epoch_words + static_cast<double>(sessions_.offsets[s])) / all_words;
      const float lr = std::max(config_.min_learning_rate,
                                static_cast<float>(config_.learning_rate * (1.0 - progress)));
      const auto n = static_cast<std::int32_t>(sentence.size());
      for (std::int32_t i = 0; i < n; ++i) {
        const std::int32_t reach = config_.window - static_cast<std::int32_t>(rng.UniformInt(config_.window));
        for (std::int32_t j = std::max(0, i - reach); j <= std::min(n - 1, i + reach); ++j) {
          if (j == i) continue;
          TrainPair(sentence[i], sentence[j], lr, rng, w, touched_input, touched_output, gradient);
        }
      }
    }
  }

  const data::SessionsView& sessions() const { return sessions_; }

 private:
  void TrainPair(std::int32_t centre, std::int32_t context, float lr, internal::CounterRng& rng,
                 Weights& w, TouchedRows* touched_input, TouchedRows* touched_output,
                 std::vector<float>& gradient_buffer) const {
    const std::int32_t dim = config_.dim;
    VecMap h(w.input.data() + static_cast<std::size_t>(centre) * dim, dim);
    VecMap gradient(gradient_buffer.data(), dim);
    gradient.setZero();
    for (std::int32_t d = 0; d <= config_.negative; ++d) {
      std::int32_t target = context;
      float label = 1.0f;
      if (d > 0) {
        target = negative_table_[rng.UniformInt(negative_table_.size())];
        if (target == context) continue;
        label = 0.0f;
      }
      VecMap out(w.output.data() + static_cast<std::size_t>(target) * dim, dim);
      const float f = h.dot(out);
      const float prediction = f > 8.0f ? 1.0f : f < -8.0f ? 0.0f : 1.0f / (1.0f + std::exp(-f));
      const float g = (label - prediction) * lr;
      gradient.noalias() += g * out;
      out.noalias() += g * h;
      if (touched_output != nullptr) touched_output->Mark(target);
    }
    h += gradient;
    if (touched_input != nullptr) touched_input->Mark(centre);
  }

  const data::SessionsView& sessions_;
  std::int32_t num_items_;
  const Item2VecConfig& config_;
  const ExecutionOptions& options_;
  double total_words_ = 0;
  std::vector<float> keep_probability_;
  std::vector<std::int32_t> negative_table_;
};

// master += sum over shards (in shard order) of (shard - master) on touched rows; then every
// shard copy of those rows is refreshed from the master. Rows are independent: parallel and
// still deterministic.
void MergeShards(std::vector<float>& master, std::vector<std::vector<float>*>& shards,
                 std::vector<TouchedRows*>& touched, std::int32_t dim, TouchedRows& union_rows,
                 int num_threads) {
  union_rows.Clear();
  for (TouchedRows* t : touched) {
    for (std::int32_t row : t->rows()) union_rows.Mark(row);
  }
  const std::vector<std::int32_t>& rows = union_rows.rows();
  (void)internal::ParallelForChunks(num_threads, static_cast<std::int64_t>(rows.size()), 512,
                                    [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    std::vector<float> accumulator(static_cast<std::size_t>(dim));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int32_t row = rows[r];
      float* m = master.data() + static_cast<std::size_t>(row) * dim;
      std::copy_n(m, dim, accumulator.data());
      for (std::size_t s = 0; s < shards.size(); ++s) {
        if (!touched[s]->Contains(row)) continue;
        const float* copy = shards[s]->data() + static_cast<std::size_t>(row) * dim;
        for (std::int32_t d = 0; d < dim; ++d) accumulator[d] += copy[d] - m[d];
      }
      std::copy_n(accumulator.data(), dim, m);
      for (std::vector<float>* shard : shards) std::copy_n(m, dim, shard->data() + static_cast<std::size_t>(row) * dim);
    }
  });
  for (TouchedRows* t : touched) t->Clear();
}

}  // namespace

absl::Status Item2VecConfig::Validate() const {
  if (dim <= 0 || dim > 4096) return absl::InvalidArgumentError(absl::StrCat("dim must be in [1, 4096], got ", dim));
  if (window <= 0) return absl::InvalidArgumentError("window must be positive");
  if (negative < 0) return absl::InvalidArgumentError("negative must be >= 0");
  if (epochs <= 0) return absl::InvalidArgumentError("epochs must be positive");
  if (!(learning_rate > 0) || !(min_learning_rate >= 0) || min_learning_rate > learning_rate) {
    return absl::InvalidArgumentError("need 0 <= min_learning_rate <= learning_rate and learning_rate > 0");
  }
  if (!(subsample >= 0)) return absl::InvalidArgumentError("subsample must be >= 0");
  if (!(ns_exponent >= 0 && ns_exponent <= 2)) return absl::InvalidArgumentError("ns_exponent must be in [0, 2]");
  if (num_shards <= 0) return absl::InvalidArgumentError("num_shards must be positive");
  if (sync_rounds <= 0) return absl::InvalidArgumentError("sync_rounds must be positive");
  return absl::OkStatus();
}

absl::Status SessionEncoderConfig::Validate() const {
  if (!(recency_decay > 0 && recency_decay <= 1)) return absl::InvalidArgumentError("recency_decay must be in (0, 1]");
  for (float w : kind_weights) {
    if (!(w >= 0) || !std::isfinite(w)) return absl::InvalidArgumentError("kind_weights must be finite and >= 0");
  }
  if (max_events <= 0) return absl::InvalidArgumentError("max_events must be positive");
  if (!(profile_weight >= 0 && profile_weight <= 1)) return absl::InvalidArgumentError("profile_weight must be in [0, 1]");
  return absl::OkStatus();
}

absl::StatusOr<Item2Vec> Item2Vec::Fit(const data::SessionsView& sessions, std::int32_t num_items,
                                       const Item2VecConfig& config, const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (num_items <= 0) return absl::InvalidArgumentError("num_items must be positive");
  if (sessions.offsets.empty() || sessions.offsets.back() != static_cast<std::int64_t>(sessions.items.size())) {
    return absl::InvalidArgumentError("session offsets do not cover the items");
  }
  Trainer trainer(sessions, num_items, config, options);
  std::vector<std::int64_t> counts;
  COMPTOIR_RETURN_IF_ERROR(trainer.Prepare(counts));
  Weights master = trainer.InitialWeights();
  const std::int64_t num_sessions = sessions.num_sessions();
  ProgressReporter progress(options.progress, num_sessions * config.epochs, "item2vec");

  if (config.hogwild) {
    for (std::int32_t epoch = 0; epoch < config.epochs; ++epoch) {
      COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
          options.num_threads, num_sessions, 256,
          [&](std::int64_t, std::int64_t begin, std::int64_t end) {
            std::vector<std::int32_t> sentence;
            std::vector<float> gradient;
            trainer.TrainRange(epoch, begin, end, master, nullptr, nullptr, sentence, gradient);
          },
          &progress));
    }
  } else {
    const std::int32_t shards = config.num_shards;
    std::vector<Weights> copies(static_cast<std::size_t>(shards), master);
    std::vector<TouchedRows> touched_in(shards, TouchedRows(num_items)), touched_out(shards, TouchedRows(num_items));
    TouchedRows union_rows(num_items);
    std::vector<std::vector<float>*> copy_in, copy_out;
    std::vector<TouchedRows*> t_in, t_out;
    for (std::int32_t s = 0; s < shards; ++s) {
      copy_in.push_back(&copies[s].input), copy_out.push_back(&copies[s].output);
      t_in.push_back(&touched_in[s]), t_out.push_back(&touched_out[s]);
    }
    std::vector<std::vector<std::int32_t>> sentences(shards);
    std::vector<std::vector<float>> gradients(shards);
    for (std::int32_t epoch = 0; epoch < config.epochs; ++epoch) {
      for (std::int32_t round = 0; round < config.sync_rounds; ++round) {
        const std::int64_t round_begin = num_sessions * round / config.sync_rounds;
        const std::int64_t round_end = num_sessions * (round + 1) / config.sync_rounds;
        (void)internal::ParallelForChunks(options.num_threads, shards, 1,
                                          [&](std::int64_t shard, std::int64_t, std::int64_t) {
          const std::int64_t span = round_end - round_begin;
          trainer.TrainRange(epoch, round_begin + span * shard / shards,
                             round_begin + span * (shard + 1) / shards, copies[shard],
                             &touched_in[shard], &touched_out[shard], sentences[shard], gradients[shard]);
        });
        MergeShards(master.input, copy_in, t_in, config.dim, union_rows, options.num_threads);
        MergeShards(master.output, copy_out, t_out, config.dim, union_rows, options.num_threads);
        progress.Advance(round_end - round_begin);
        COMPTOIR_RETURN_IF_ERROR(progress.status());
      }
    }
  }
  progress.Finish();
  // Items never seen keep no random vector: they must not look similar to anything.
  for (std::int32_t row = 0; row < num_items; ++row) {
    if (counts[row] == 0) std::fill_n(master.input.begin() + static_cast<std::ptrdiff_t>(row) * config.dim, config.dim, 0.0f);
  }
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::VectorIndex> index,
                            retrieval::BuildExactIndex({master.input, num_items, config.dim},
                                                       retrieval::Metric::kCosine));
  return Item2Vec(config, num_items, std::move(master.input), std::move(counts), std::move(index));
}

absl::Status Item2Vec::SimilarItems(std::int32_t item, int k, std::vector<retrieval::ScoredId>& out) const {
  if (item < 0 || item >= num_items_) {
    return absl::NotFoundError(absl::StrCat("item ", item, " is not in the model (", num_items_, " items)"));
  }
  if (item_counts_[item] == 0) {
    return absl::NotFoundError(absl::StrCat("item ", item, " was never seen in training: it has no embedding"));
  }
  const std::int32_t excluded[] = {item};
  return index_->Search(vectors().subspan(static_cast<std::size_t>(item) * dim(), dim()), k,
                        {seen_, excluded}, out);
}

absl::Status Item2Vec::EncodeSession(absl::Span<const std::int32_t> items,
                                     absl::Span<const data::EventKind> kinds,
                                     const SessionEncoderConfig& config, absl::Span<float> out) const {
  if (static_cast<std::int32_t>(out.size()) != dim()) {
    return absl::InvalidArgumentError(absl::StrCat("output has ", out.size(), " floats, need ", dim()));
  }
  if (!kinds.empty() && kinds.size() != items.size()) {
    return absl::InvalidArgumentError(absl::StrCat("session has ", items.size(), " items but ", kinds.size(), " event kinds"));
  }
  VecMap result(out.data(), dim());
  result.setZero();
  const auto n = static_cast<std::int64_t>(items.size());
  float weight = 1.0f;
  for (std::int64_t i = n - 1; i >= std::max<std::int64_t>(0, n - config.max_events); --i, weight *= config.recency_decay) {
    const std::int32_t item = items[i];
    if (item < 0 || item >= num_items_) {
      return absl::InvalidArgumentError(absl::StrCat("session event ", i, " has item ", item, ", outside [0, ", num_items_, ")"));
    }
    const auto kind = kinds.empty() ? 0 : static_cast<std::size_t>(kinds[i]);
    if (kind >= static_cast<std::size_t>(data::kNumEventKinds)) {
      return absl::InvalidArgumentError(absl::StrCat("session event ", i, " has an unknown event kind"));
    }
    result.noalias() += (weight * config.kind_weights[kind]) * ConstVecMap(vectors_.data() + static_cast<std::size_t>(item) * dim(), dim());
  }
  const float norm = result.norm();
  if (norm > 0) result /= norm;
  return absl::OkStatus();
}

void Item2Vec::BlendWithProfile(absl::Span<const float> profile, float profile_weight,
                                absl::Span<float> session_vector) {
  VecMap session(session_vector.data(), static_cast<Eigen::Index>(session_vector.size()));
  const ConstVecMap long_term(profile.data(), static_cast<Eigen::Index>(profile.size()));
  // An empty session leaves the profile alone in charge.
  const float session_weight = session.squaredNorm() > 0 ? 1.0f - profile_weight : 0.0f;
  session = session_weight * session + profile_weight * long_term;
  const float norm = session.norm();
  if (norm > 0) session /= norm;
}

absl::StatusOr<io::ModelFile> Item2Vec::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::Item2VecConfig proto;
  proto.set_dim(config_.dim);
  proto.set_window(config_.window);
  proto.set_negative(config_.negative);
  proto.set_epochs(config_.epochs);
  proto.set_learning_rate(config_.learning_rate);
  proto.set_min_learning_rate(config_.min_learning_rate);
  proto.set_subsample(config_.subsample);
  proto.set_ns_exponent(config_.ns_exponent);
  proto.set_num_shards(config_.num_shards);
  proto.set_sync_rounds(config_.sync_rounds);
  proto.set_hogwild(config_.hogwild);
  proto.set_num_items(num_items_);
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>("vectors", vectors_));
  COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>("item_counts", item_counts_));
  return file;
}

absl::StatusOr<Item2Vec> Item2Vec::FromModelFile(const io::ModelFile& file) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  v1::Item2VecConfig proto;
  if (!proto.ParseFromString(file.config())) {
    return MarkModelFormatError(absl::DataLossError("item2vec config does not parse"));
  }
  Item2VecConfig config;
  config.dim = proto.dim();
  config.window = proto.window();
  config.negative = proto.negative();
  config.epochs = proto.epochs();
  config.learning_rate = proto.learning_rate();
  config.min_learning_rate = proto.min_learning_rate();
  config.subsample = proto.subsample();
  config.ns_exponent = proto.ns_exponent();
  config.num_shards = proto.num_shards();
  config.sync_rounds = proto.sync_rounds();
  config.hogwild = proto.hogwild();
  const absl::Status valid = config.Validate();
  if (!valid.ok()) return MarkModelFormatError(absl::DataLossError(absl::StrCat("item2vec config is invalid: ", valid.message())));
  const std::int32_t num_items = proto.num_items();
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<float> vectors, file.Array<float>("vectors"));
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<std::int64_t> counts, file.Array<std::int64_t>("item_counts"));
  if (num_items <= 0 || vectors.size() != static_cast<std::size_t>(num_items) * config.dim ||
      counts.size() != static_cast<std::size_t>(num_items)) {
    return MarkModelFormatError(absl::DataLossError("item2vec blobs do not match its config"));
  }
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::VectorIndex> index,
                            retrieval::BuildExactIndex({vectors, num_items, config.dim}, retrieval::Metric::kCosine));
  return Item2Vec(config, num_items, std::move(vectors), std::move(counts), std::move(index));
}

}  // namespace comptoir::embed
