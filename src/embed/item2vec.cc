#include "comptoir/embed/item2vec.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <utility>

#include <Eigen/Core>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/embed.pb.h"
#include "embed/negative_sampler.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "internal/vector_kernels.h"

namespace comptoir::embed {
namespace {

using VecMap = Eigen::Map<Eigen::VectorXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;

// A set of rows, listed in insertion order (or sorted).
class TouchedRows {
 public:
  explicit TouchedRows(std::int32_t num_items) : flags_(static_cast<std::size_t>(num_items), 0) {}
  void Mark(std::int32_t row) {
    if (flags_[row] == 0) {
      flags_[row] = 1;
      rows_.push_back(row);
    }
  }
  const std::vector<std::int32_t>& rows() const { return rows_; }
  // The members in ascending order (a sort when they are few, a scan of the flags otherwise):
  // rows visited in memory order let the hardware prefetcher stream them.
  void Sort() {
    if (rows_.size() * 16 < flags_.size()) {
      std::sort(rows_.begin(), rows_.end());
      return;
    }
    rows_.clear();
    for (std::size_t row = 0; row < flags_.size(); ++row) {
      if (flags_[row] != 0) rows_.push_back(static_cast<std::int32_t>(row));
    }
  }
  void Clear() {
    for (std::int32_t row : rows_) flags_[row] = 0;
    rows_.clear();
  }

 private:
  std::vector<std::uint8_t> flags_;
  std::vector<std::int32_t> rows_;
};

// Cache-line aligned storage: a 64-float row is exactly four lines to prefetch. Matrices of
// megabytes also ask for transparent huge pages: rows are read at random over tens of megabytes,
// and with 4 KiB pages nearly every read also misses the TLB.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;
  CacheLineAllocator() = default;
  template <typename U>
  explicit CacheLineAllocator(const CacheLineAllocator<U>&) {}
  static std::align_val_t Alignment(std::size_t bytes) { return std::align_val_t(bytes >= kHugePage ? kHugePage : 64); }
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    void* p = ::operator new(bytes, Alignment(bytes));
#ifdef MADV_HUGEPAGE
    if (bytes >= kHugePage) (void)madvise(p, bytes - bytes % kHugePage, MADV_HUGEPAGE);  // a hint: failure is fine
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) { ::operator delete(p, Alignment(n * sizeof(T))); }
  bool operator==(const CacheLineAllocator&) const { return true; }
  bool operator!=(const CacheLineAllocator&) const { return false; }
};
using Floats = std::vector<float, CacheLineAllocator<float>>;

// The two embedding matrices of the model (hogwild workers train them in place).
struct Weights {
  Floats input;
  Floats output;
};

inline void PrefetchRow(const float* row, std::int32_t dim) {
  for (std::int32_t d = 0; d < dim; d += 16) __builtin_prefetch(row + d, 1, 3);
  if (dim % 16 != 0) __builtin_prefetch(row + dim - 1, 1, 3);
}

// Pairs are planned ahead (rows resolved, negatives drawn), then trained with the rows of the
// pair kPrefetchAhead places on already on their way to the cache: the rows are random draws over
// tens of megabytes, so the loads, not the arithmetic, set the pace. Random draws never depend on
// the weights, so planning first changes nothing in what is computed.
constexpr std::size_t kPlanPairs = 256;
constexpr std::size_t kPrefetchAhead = 6;  // pairs; 1 to 12 measured within noise of each other, none far slower

// A list that appends without branching on whether to: the next slot is written either way and
// the size moves by the condition. Where the condition is a coin flip (a row's first touch in a
// round), a branch would mispredict and discard the sampling work queued behind it.
template <typename T>
class MaskedList {
 public:
  // Room for `more` appends.
  void Reserve(std::size_t more) {
    if (slots_.size() < size_ + more + 1) slots_.resize(2 * (size_ + more + 1));
  }
  void PushIf(bool keep, const T& value) {
    slots_[size_] = value;
    size_ += keep ? 1 : 0;
  }
  std::size_t size() const { return size_; }
  const T& operator[](std::size_t i) const { return slots_[i]; }
  const T* begin() const { return slots_.data(); }
  const T* end() const { return slots_.data() + size_; }
  void Clear() { size_ = 0; }

 private:
  std::vector<T> slots_;
  std::size_t size_ = 0;
};

struct RowCopy {
  float* to;
  const float* from;
};

struct Plan {
  std::vector<float*> inputs;            // per pair: the centre's input row
  std::vector<float> learning_rates;     // per pair
  std::vector<std::uint32_t> starts{0};  // per pair + 1: its output rows in `targets`
  std::vector<float*> targets;           // the context's row, then the negatives'
  // Stale rows of a shard's copy, filled from the master just before the pair that first uses
  // them: per pair + 1 into `copies`.
  std::vector<std::uint32_t> copy_starts{0};
  MaskedList<RowCopy> copies;

  std::size_t size() const { return inputs.size(); }
  void Clear() {
    inputs.clear();
    learning_rates.clear();
    starts.resize(1);
    targets.clear();
    copy_starts.resize(1);
    copies.Clear();
  }
};

// One embedding matrix as a sharded worker trains it: the shard's own copy of the rows, with two
// stamps a row (bytes, so that they stay in L2 beside the sampler; round ids restart every 255
// rounds). valid[row] == round: the copy holds the round's starting value, because the last merge
// refreshed it or the round's first use filled it from the master. modified[row] == round: the
// shard changed the row this round, and `touched` lists it, once.
struct alignas(64) ShardMatrix {
  ShardMatrix(std::size_t size, std::int32_t num_items)
      : rows(size), valid(static_cast<std::size_t>(num_items), 0), modified(static_cast<std::size_t>(num_items), 0) {
    touched.Reserve(static_cast<std::size_t>(num_items));
  }
  void ForgetStamps() {
    std::fill(valid.begin(), valid.end(), 0);
    std::fill(modified.begin(), modified.end(), 0);
  }

  Floats rows;
  std::vector<std::uint8_t> valid, modified;
  MaskedList<std::int32_t> touched;
};

// Cache-line aligned, like Scratch: shards sit side by side in a vector, one worker each, and their
// list sizes change on every pair (a shared line would bounce between cores).
struct alignas(64) Shard {
  Shard(std::size_t size, std::int32_t num_items) : input(size, num_items), output(size, num_items) {}
  ShardMatrix input, output;
};

// Where a worker's rows live: the master itself (hogwild), or a shard's copy whose stale rows are
// filled from the master (which only merges change) just before their first use in a round.
struct RowView {
  float* rows;
  const float* master = nullptr;  // null: `rows` is the master
  ShardMatrix* shard = nullptr;
  std::uint8_t round = 0;

  float* Resolve(std::int32_t item, std::int32_t dim, Plan& plan) const {
    const std::size_t offset = static_cast<std::size_t>(item) * dim;
    if (shard != nullptr) {  // the same in every call of a worker: predicted
      const bool stale = shard->valid[item] != round;
      shard->valid[item] = round;
      plan.copies.PushIf(stale, RowCopy{rows + offset, master + offset});
      const bool first_change = shard->modified[item] != round;
      shard->modified[item] = round;
      shard->touched.PushIf(first_change, item);
    }
    return rows + offset;
  }
};

// What one worker reuses from session to session.
struct alignas(64) Scratch {
  std::vector<std::int32_t> sentence;
  Plan plan;
  Floats gradient;
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
    sampler_.Build(counts, config_.ns_exponent);
    return absl::OkStatus();
  }

  Weights InitialWeights() const {
    const std::size_t size = static_cast<std::size_t>(num_items_) * config_.dim;
    Weights w{Floats(size), Floats(size, 0.0f)};
    for (std::int32_t row = 0; row < num_items_; ++row) {
      internal::CounterRng rng(options_.seed, static_cast<std::uint64_t>(row));
      for (std::int32_t d = 0; d < config_.dim; ++d) {
        w.input[static_cast<std::size_t>(row) * config_.dim + d] = static_cast<float>((rng.Uniform() - 0.5) / config_.dim);
      }
    }
    return w;
  }

  // Trains sessions [begin, end) of `epoch` into the rows `input` and `output` resolve to.
  void TrainRange(std::int32_t epoch, std::int64_t begin, std::int64_t end, const RowView& input_rows,
                  const RowView& output_rows, Scratch& scratch) const {
    const std::int32_t dim = config_.dim;
    scratch.gradient.resize(static_cast<std::size_t>(dim));
    Plan& plan = scratch.plan;
    plan.Clear();
    std::vector<std::int32_t>& sentence = scratch.sentence;
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
        float* input = nullptr;  // resolved with the centre's first pair
        for (std::int32_t j = std::max(0, i - reach); j <= std::min(n - 1, i + reach); ++j) {
          if (j == i) continue;
          plan.copies.Reserve(static_cast<std::size_t>(config_.negative) + 2);  // the centre, the context, the negatives
          if (input == nullptr) input = input_rows.Resolve(sentence[i], dim, plan);
          const std::int32_t context = sentence[j];
          plan.inputs.push_back(input);
          plan.learning_rates.push_back(lr);
          plan.targets.push_back(output_rows.Resolve(context, dim, plan));
          for (std::int32_t d = 0; d < config_.negative; ++d) {
            const std::int32_t target = sampler_.Draw(rng);
            if (target == context) continue;
            plan.targets.push_back(output_rows.Resolve(target, dim, plan));
          }
          plan.starts.push_back(static_cast<std::uint32_t>(plan.targets.size()));
          plan.copy_starts.push_back(static_cast<std::uint32_t>(plan.copies.size()));
        }
        // A long session flushes mid-way: the plan stays small whatever the session's length.
        if (plan.size() >= kPlanPairs) TrainPlan(plan, scratch.gradient.data());
      }
    }
    TrainPlan(plan, scratch.gradient.data());
  }

 private:
  void PrefetchPair(const Plan& plan, std::size_t p) const {
    for (std::uint32_t c = plan.copy_starts[p]; c < plan.copy_starts[p + 1]; ++c) PrefetchRow(plan.copies[c].from, config_.dim);
    PrefetchRow(plan.inputs[p], config_.dim);
    for (std::uint32_t t = plan.starts[p]; t < plan.starts[p + 1]; ++t) PrefetchRow(plan.targets[t], config_.dim);
  }

  void TrainPlan(Plan& plan, float* gradient) const {
    const std::size_t pairs = plan.size();
    for (std::size_t p = 0; p < std::min(pairs, kPrefetchAhead); ++p) PrefetchPair(plan, p);
    for (std::size_t p = 0; p < pairs; ++p) {
      if (p + kPrefetchAhead < pairs) PrefetchPair(plan, p + kPrefetchAhead);
      for (std::uint32_t c = plan.copy_starts[p]; c < plan.copy_starts[p + 1]; ++c) {
        std::copy_n(plan.copies[c].from, config_.dim, plan.copies[c].to);
      }
      internal::kernels::NegativeSamplingStep(plan.inputs[p], plan.targets.data() + plan.starts[p],
                                              plan.starts[p + 1] - plan.starts[p], plan.learning_rates[p],
                                              config_.dim, gradient);
    }
    plan.Clear();
  }

  const data::SessionsView& sessions_;
  std::int32_t num_items_;
  const Item2VecConfig& config_;
  const ExecutionOptions& options_;
  double total_words_ = 0;
  std::vector<float> keep_probability_;
  NegativeSampler sampler_;
};

// master += sum over shards (in shard order) of (shard copy - master) on the rows each shard
// changed this round; those shards' copies take the new value too, valid in round `next` (their
// lines were just read, so this costs little, and most are used again next round). Rows go in
// memory order, so the hardware streams them; they are independent, so this runs in parallel and
// stays deterministic.
void MergeShards(Floats& master, std::vector<Shard>& shards, ShardMatrix Shard::*matrix, std::uint8_t round,
                 std::uint8_t next, std::int32_t dim, TouchedRows& union_rows, int num_threads) {
  union_rows.Clear();
  for (Shard& shard : shards) {
    for (std::int32_t row : (shard.*matrix).touched) union_rows.Mark(row);
  }
  union_rows.Sort();
  const std::vector<std::int32_t>& rows = union_rows.rows();
  (void)internal::ParallelForChunks(num_threads, static_cast<std::int64_t>(rows.size()), 512,
                                    [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    std::vector<float> accumulator(static_cast<std::size_t>(dim));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int32_t row = rows[r];
      const std::size_t offset = static_cast<std::size_t>(row) * dim;
      float* m = master.data() + offset;
      std::copy_n(m, dim, accumulator.data());
      for (const Shard& shard : shards) {
        const ShardMatrix& copy = shard.*matrix;
        if (copy.modified[row] == round) internal::kernels::AddDifference(copy.rows.data() + offset, m, accumulator.data(), dim);
      }
      std::copy_n(accumulator.data(), dim, m);
      for (Shard& shard : shards) {
        ShardMatrix& copy = shard.*matrix;
        if (copy.modified[row] != round) continue;
        std::copy_n(accumulator.data(), dim, copy.rows.data() + offset);
        copy.valid[row] = next;
      }
    }
  });
  for (Shard& shard : shards) (shard.*matrix).touched.Clear();
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
    const RowView input_rows{master.input.data()}, output_rows{master.output.data()};
    for (std::int32_t epoch = 0; epoch < config.epochs; ++epoch) {
      COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
          options.num_threads, num_sessions, 256,
          [&](std::int64_t, std::int64_t begin, std::int64_t end) {
            Scratch scratch;
            trainer.TrainRange(epoch, begin, end, input_rows, output_rows, scratch);
          },
          &progress));
    }
  } else {
    const std::int32_t shards = config.num_shards;
    std::vector<Shard> copies;
    copies.reserve(static_cast<std::size_t>(shards));
    for (std::int32_t s = 0; s < shards; ++s) copies.emplace_back(master.input.size(), num_items);
    TouchedRows union_rows(num_items);
    std::vector<Scratch> scratch(static_cast<std::size_t>(shards));
    std::uint8_t round_id = 0;  // stamps start at 0: no row is valid before the first round
    for (std::int32_t epoch = 0; epoch < config.epochs; ++epoch) {
      for (std::int32_t round = 0; round < config.sync_rounds; ++round) {
        if (++round_id == 0) {  // wrapped: stamps of 255 rounds ago would look current
          for (Shard& shard : copies) shard.input.ForgetStamps(), shard.output.ForgetStamps();
          round_id = 1;
        }
        const std::int64_t round_begin = num_sessions * round / config.sync_rounds;
        const std::int64_t round_end = num_sessions * (round + 1) / config.sync_rounds;
        (void)internal::ParallelForChunks(options.num_threads, shards, 1,
                                          [&](std::int64_t s, std::int64_t, std::int64_t) {
          Shard& shard = copies[s];
          const RowView input_rows{shard.input.rows.data(), master.input.data(), &shard.input, round_id};
          const RowView output_rows{shard.output.rows.data(), master.output.data(), &shard.output, round_id};
          const std::int64_t span = round_end - round_begin;
          trainer.TrainRange(epoch, round_begin + span * s / shards, round_begin + span * (s + 1) / shards,
                             input_rows, output_rows, scratch[s]);
        });
        // The id after 255 is 0, which no round has: the wrap forgets every stamp anyway.
        const auto next = static_cast<std::uint8_t>(round_id + 1);
        MergeShards(master.input, copies, &Shard::input, round_id, next, config.dim, union_rows, options.num_threads);
        MergeShards(master.output, copies, &Shard::output, round_id, next, config.dim, union_rows, options.num_threads);
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
  std::vector<float> vectors(master.input.begin(), master.input.end());
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<retrieval::VectorIndex> index,
                            retrieval::BuildExactIndex({vectors, num_items, config.dim}, retrieval::Metric::kCosine));
  return Item2Vec(config, num_items, std::move(vectors), std::move(counts), std::move(index));
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
