#include "comptoir/retrieval/vector_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include <Eigen/Core>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/v1/embed.pb.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "internal/scratch.h"

namespace comptoir::retrieval {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstRowMap = Eigen::Map<const RowMatrix>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;

// Items scored per matrix-vector product: large enough for Eigen's kernel, small enough that the
// score buffer stays in L1.
constexpr std::int64_t kScanBlock = 1024;

enum class IndexType : std::int64_t { kExact = 0, kIvf = 1 };

absl::Status ValidateVectors(VectorsView vectors) {
  if (vectors.rows <= 0 || vectors.dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("an index needs at least one vector of positive dimension, got ",
                                                   vectors.rows, " x ", vectors.dim));
  }
  if (static_cast<std::int64_t>(vectors.data.size()) != vectors.rows * vectors.dim) {
    return absl::InvalidArgumentError(absl::StrCat("vector data holds ", vectors.data.size(),
                                                   " floats, expected rows x dim = ",
                                                   vectors.rows * vectors.dim));
  }
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(vectors.data.size()); ++i) {
    if (!std::isfinite(vectors.data[i])) {
      return absl::InvalidArgumentError(absl::StrCat("vector of item ", i / vectors.dim,
                                                     " has a non-finite value in dimension ",
                                                     i % vectors.dim));
    }
  }
  return absl::OkStatus();
}

void NormaliseRows(std::vector<float>& data, std::int32_t dim) {
  const std::int64_t rows = static_cast<std::int64_t>(data.size()) / dim;
  Eigen::Map<RowMatrix> m(data.data(), rows, dim);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float norm = m.row(r).norm();
    if (norm > 0) m.row(r) /= norm;
  }
}

// Per-thread buffers so that a search allocates nothing once a thread has warmed up.
struct SearchScratch {
  std::vector<float> query;
  std::vector<float> scores;
  std::vector<std::int32_t> excluded;
  TopKSelector selector;
  TopKSelector list_selector;
  std::vector<ScoredId> lists;
  internal::ScratchBound bound;
};

SearchScratch& ThreadScratch() {
  thread_local SearchScratch scratch;
  return scratch;
}

// Validates a query and prepares the scratch (normalised query, sorted exclusions, selector).
absl::Status PrepareSearch(absl::Span<const float> query, int k, const SearchFilter& filter,
                           std::int64_t size, std::int32_t dim, Metric metric,
                           SearchScratch& scratch) {
  if (k <= 0) return absl::InvalidArgumentError(absl::StrCat("k must be positive, got ", k));
  if (static_cast<std::int32_t>(query.size()) != dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", query.size(), " dimensions, the index has ", dim));
  }
  if (!filter.allowed.empty() && static_cast<std::int64_t>(filter.allowed.size()) != size) {
    return absl::InvalidArgumentError(absl::StrCat("allowed-items filter has ", filter.allowed.size(),
                                                   " flags for ", size, " items"));
  }
  // Exclusion lists and probe lists are bounded by the index; past that, they came from an
  // index or a request long gone.
  if (scratch.bound.Release(internal::HeldElements(scratch.query, scratch.excluded, scratch.lists),
                            static_cast<std::size_t>(size) + static_cast<std::size_t>(dim))) {
    const internal::ScratchBound kept = scratch.bound;
    scratch = SearchScratch();
    scratch.bound = kept;
  }
  scratch.query.assign(query.begin(), query.end());
  for (float v : scratch.query) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("query has a non-finite value");
  }
  if (metric == Metric::kCosine) NormaliseRows(scratch.query, dim);
  scratch.excluded.assign(filter.excluded.begin(), filter.excluded.end());
  std::sort(scratch.excluded.begin(), scratch.excluded.end());
  scratch.selector.Reset(static_cast<std::size_t>(std::min<std::int64_t>(k, size)));
  if (scratch.scores.size() < static_cast<std::size_t>(kScanBlock)) scratch.scores.resize(kScanBlock);
  return absl::OkStatus();
}

// Scores rows [0, n) of `block` (ids from `ids` or begin + i) and offers them to the selector.
void ScanBlock(const float* block, std::int64_t n, std::int32_t dim, std::int64_t first_id,
               const std::int32_t* ids, const SearchFilter& filter, SearchScratch& scratch) {
  Eigen::Map<Eigen::VectorXf> scores(scratch.scores.data(), n);
  scores.noalias() = ConstRowMap(block, n, dim) * ConstVecMap(scratch.query.data(), dim);
  TopKSelector& selector = scratch.selector;
  for (std::int64_t i = 0; i < n; ++i) {
    const float score = scores[i];
    if (selector.Full() && score < selector.Threshold()) continue;
    const auto id = ids != nullptr ? ids[i] : static_cast<std::int32_t>(first_id + i);
    if (!filter.allowed.empty() && filter.allowed[static_cast<std::size_t>(id)] == 0) continue;
    if (!scratch.excluded.empty() &&
        std::binary_search(scratch.excluded.begin(), scratch.excluded.end(), id)) {
      continue;
    }
    selector.Push(id, score);
  }
}

class ExactIndex final : public VectorIndex {
 public:
  ExactIndex(std::vector<float> data, std::int64_t rows, std::int32_t dim, Metric metric)
      : data_(std::move(data)), rows_(rows), dim_(dim), metric_(metric) {}

  std::int64_t size() const override { return rows_; }
  std::int32_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }

  absl::Status Search(absl::Span<const float> query, int k, const SearchFilter& filter,
                      std::vector<ScoredId>& out) const override {
    SearchScratch& scratch = ThreadScratch();
    COMPTOIR_RETURN_IF_ERROR(PrepareSearch(query, k, filter, rows_, dim_, metric_, scratch));
    for (std::int64_t begin = 0; begin < rows_; begin += kScanBlock) {
      const std::int64_t n = std::min(kScanBlock, rows_ - begin);
      ScanBlock(data_.data() + begin * dim_, n, dim_, begin, nullptr, filter, scratch);
    }
    scratch.selector.TakeSorted(out);
    return absl::OkStatus();
  }

  absl::Status AppendTo(io::ModelFile& file, const std::string& prefix) const override {
    const std::vector<std::int64_t> meta = {static_cast<std::int64_t>(IndexType::kExact),
                                            static_cast<std::int64_t>(metric_), rows_, dim_};
    COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>(prefix + "meta", meta));
    return file.AddArray<float>(prefix + "vectors", data_);
  }

 private:
  std::vector<float> data_;
  std::int64_t rows_;
  std::int32_t dim_;
  Metric metric_;
};

class IvfIndex final : public VectorIndex {
 public:
  IvfIndex(std::vector<float> centroids, std::vector<std::int64_t> list_offsets,
           std::vector<std::int32_t> list_ids, std::vector<float> list_vectors, std::int32_t dim,
           Metric metric, std::int32_t num_probes)
      : centroids_(std::move(centroids)),
        list_offsets_(std::move(list_offsets)),
        list_ids_(std::move(list_ids)),
        list_vectors_(std::move(list_vectors)),
        dim_(dim),
        metric_(metric),
        num_probes_(num_probes) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(list_ids_.size()); }
  std::int32_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  std::int32_t num_lists() const override { return static_cast<std::int32_t>(list_offsets_.size()) - 1; }
  std::int32_t num_probes() const override { return num_probes_; }

  absl::Status Search(absl::Span<const float> query, int k, const SearchFilter& filter,
                      std::vector<ScoredId>& out) const override {
    SearchScratch& scratch = ThreadScratch();
    COMPTOIR_RETURN_IF_ERROR(PrepareSearch(query, k, filter, size(), dim_, metric_, scratch));
    const std::int32_t lists = num_lists();
    scratch.list_selector.Reset(static_cast<std::size_t>(std::min(num_probes_, lists)));
    const ConstVecMap q(scratch.query.data(), dim_);
    for (std::int32_t l = 0; l < lists; ++l) {
      scratch.list_selector.Push(l, ConstVecMap(centroids_.data() + std::int64_t{l} * dim_, dim_).dot(q));
    }
    scratch.list_selector.TakeSorted(scratch.lists);
    for (const ScoredId& list : scratch.lists) {
      const std::int64_t begin = list_offsets_[list.id];
      const std::int64_t end = list_offsets_[list.id + 1];
      for (std::int64_t b = begin; b < end; b += kScanBlock) {
        const std::int64_t n = std::min(kScanBlock, end - b);
        ScanBlock(list_vectors_.data() + b * dim_, n, dim_, 0, list_ids_.data() + b, filter, scratch);
      }
    }
    scratch.selector.TakeSorted(out);
    return absl::OkStatus();
  }

  absl::Status AppendTo(io::ModelFile& file, const std::string& prefix) const override {
    const std::vector<std::int64_t> meta = {static_cast<std::int64_t>(IndexType::kIvf),
                                            static_cast<std::int64_t>(metric_), size(), dim_,
                                            num_probes_};
    COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>(prefix + "meta", meta));
    COMPTOIR_RETURN_IF_ERROR(file.AddArray<float>(prefix + "centroids", centroids_));
    COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int64_t>(prefix + "list_offsets", list_offsets_));
    COMPTOIR_RETURN_IF_ERROR(file.AddArray<std::int32_t>(prefix + "list_ids", list_ids_));
    return file.AddArray<float>(prefix + "vectors", list_vectors_);
  }

 private:
  std::vector<float> centroids_;
  std::vector<std::int64_t> list_offsets_;
  std::vector<std::int32_t> list_ids_;
  std::vector<float> list_vectors_;
  std::int32_t dim_;
  Metric metric_;
  std::int32_t num_probes_;
};

// Index of the centroid with the largest inner product with each row of `points`.
std::vector<std::int32_t> AssignToCentroids(const float* points, std::int64_t n,
                                            const std::vector<float>& centroids,
                                            std::int32_t num_lists, std::int32_t dim,
                                            int num_threads) {
  std::vector<std::int32_t> assignment(static_cast<std::size_t>(n));
  const ConstRowMap c(centroids.data(), num_lists, dim);
  (void)internal::ParallelForChunks(num_threads, n, 2048,
                                    [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    // One matrix-matrix product per chunk: chunk x lists scores.
    const RowMatrix scores = ConstRowMap(points + begin * dim, end - begin, dim) * c.transpose();
    for (std::int64_t i = begin; i < end; ++i) {
      Eigen::Index best;
      scores.row(i - begin).maxCoeff(&best);
      assignment[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(best);
    }
  });
  return assignment;
}

}  // namespace

namespace {

// A sixteenth of the lists (at least 16): recall@20 about 0.95 on item2vec vectors of a million
// items (benchmarks/recommenders_simulated.py), at a sixteenth of exact search's work.
std::int32_t DefaultProbes(std::int32_t num_lists) { return std::max(16, (num_lists + 15) / 16); }

}  // namespace

absl::Status IvfConfig::Validate() const {
  if (num_lists < 0) return absl::InvalidArgumentError("num_lists must be >= 0");
  if (num_probes < 0) return absl::InvalidArgumentError("num_probes must be >= 0 (0 = a sixteenth of the lists)");
  if (kmeans_iterations <= 0) return absl::InvalidArgumentError("kmeans_iterations must be positive");
  if (training_sample <= 0) return absl::InvalidArgumentError("training_sample must be positive");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<ScoredId>>> VectorIndex::SearchBatch(
    VectorsView queries, int k, const SearchFilter& filter, const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  if (queries.dim != dim() ||
      static_cast<std::int64_t>(queries.data.size()) != queries.rows * queries.dim) {
    return absl::InvalidArgumentError(absl::StrCat("queries must be rows x ", dim(), " floats"));
  }
  std::vector<std::vector<ScoredId>> results(static_cast<std::size_t>(queries.rows));
  std::vector<absl::Status> errors(static_cast<std::size_t>(internal::NumChunks(queries.rows, 64)));
  ProgressReporter progress(options.progress, queries.rows, "search");
  COMPTOIR_RETURN_IF_ERROR(internal::ParallelForChunks(
      options.num_threads, queries.rows, 64,
      [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
        for (std::int64_t q = begin; q < end && errors[chunk].ok(); ++q) {
          errors[chunk] = Search(queries.data.subspan(q * dim(), dim()), k, filter,
                                 results[static_cast<std::size_t>(q)]);
        }
      },
      &progress));
  for (const absl::Status& error : errors) COMPTOIR_RETURN_IF_ERROR(error);
  return results;
}

absl::StatusOr<std::unique_ptr<VectorIndex>> BuildExactIndex(VectorsView vectors, Metric metric) {
  COMPTOIR_RETURN_IF_ERROR(ValidateVectors(vectors));
  std::vector<float> data(vectors.data.begin(), vectors.data.end());
  if (metric == Metric::kCosine) NormaliseRows(data, vectors.dim);
  return std::unique_ptr<VectorIndex>(new ExactIndex(std::move(data), vectors.rows, vectors.dim, metric));
}

absl::StatusOr<std::unique_ptr<VectorIndex>> BuildIvfIndex(VectorsView vectors, Metric metric,
                                                           const IvfConfig& config,
                                                           const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(ValidateVectors(vectors));
  COMPTOIR_RETURN_IF_ERROR(config.Validate());
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  const std::int64_t n = vectors.rows;
  const std::int32_t dim = vectors.dim;
  std::vector<float> data(vectors.data.begin(), vectors.data.end());
  if (metric == Metric::kCosine) NormaliseRows(data, dim);
  const auto num_lists = static_cast<std::int32_t>(std::clamp<std::int64_t>(
      config.num_lists > 0 ? config.num_lists
                           : static_cast<std::int64_t>(4 * std::sqrt(static_cast<double>(n))),
      1, n));

  // Training sample: a seeded shuffle's prefix; the first num_lists points seed the centroids.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  internal::CounterRng rng(options.seed, 0);
  const std::int64_t sample = std::max<std::int64_t>(std::min(config.training_sample, n), num_lists);
  for (std::int64_t i = 0; i < sample; ++i) {
    std::swap(order[i], order[i + static_cast<std::int64_t>(rng.UniformInt(static_cast<std::uint64_t>(n - i)))]);
  }
  RowMatrix train(sample, dim);
  for (std::int64_t i = 0; i < sample; ++i) train.row(i) = ConstRowMap(data.data() + order[i] * dim, 1, dim);
  std::vector<float> centroids(static_cast<std::size_t>(num_lists) * dim);
  Eigen::Map<RowMatrix> c(centroids.data(), num_lists, dim);
  c = train.topRows(num_lists);

  ProgressReporter progress(options.progress, config.kmeans_iterations, "kmeans");
  for (int iteration = 0; iteration < config.kmeans_iterations; ++iteration) {
    const std::vector<std::int32_t> assignment =
        AssignToCentroids(train.data(), sample, centroids, num_lists, dim, options.num_threads);
    // Serial update: deterministic and cheap next to the assignment.
    RowMatrix sums = RowMatrix::Zero(num_lists, dim);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(num_lists), 0);
    for (std::int64_t i = 0; i < sample; ++i) {
      sums.row(assignment[i]) += train.row(i);
      ++counts[assignment[i]];
    }
    for (std::int32_t l = 0; l < num_lists; ++l) {
      if (counts[l] == 0) {
        // An empty list is re-seeded on a random training point.
        c.row(l) = train.row(static_cast<Eigen::Index>(rng.UniformInt(static_cast<std::uint64_t>(sample))));
      } else {
        c.row(l) = sums.row(l) / static_cast<float>(counts[l]);
      }
      if (metric == Metric::kCosine && c.row(l).norm() > 0) c.row(l).normalize();
    }
    progress.Advance(1);
    COMPTOIR_RETURN_IF_ERROR(progress.status());
  }

  const std::vector<std::int32_t> assignment =
      AssignToCentroids(data.data(), n, centroids, num_lists, dim, options.num_threads);
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(num_lists) + 1, 0);
  for (std::int32_t list : assignment) ++offsets[list + 1];
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  std::vector<std::int64_t> cursor(offsets.begin(), offsets.end() - 1);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
  std::vector<float> list_vectors(data.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t slot = cursor[assignment[i]]++;
    ids[slot] = static_cast<std::int32_t>(i);
    std::copy_n(data.data() + i * dim, dim, list_vectors.data() + slot * dim);
  }
  return std::unique_ptr<VectorIndex>(new IvfIndex(std::move(centroids), std::move(offsets),
                                                   std::move(ids), std::move(list_vectors), dim,
                                                   metric, config.num_probes > 0 ? config.num_probes : DefaultProbes(num_lists)));
}

namespace {

absl::Status BadIndex(const std::string& prefix, std::string_view what) {
  return MarkModelFormatError(absl::DataLossError(absl::StrCat("index '", prefix, "' ", std::string(what))));
}

}  // namespace

absl::StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(const io::ModelFile& file,
                                                       const std::string& prefix, int num_probes) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<std::int64_t> meta,
                            file.Array<std::int64_t>(prefix + "meta"));
  // Ids are int32 and rows x dim floats must be addressable: both bounds are checked before any
  // product is formed, so a crafted header cannot wrap a size to what the blobs happen to hold.
  constexpr std::int64_t kMaxDim = 1 << 20;
  if (meta.size() < 4 || meta[1] < 0 || meta[1] > 1 || meta[2] <= 0 ||
      meta[2] > std::numeric_limits<std::int32_t>::max() || meta[3] <= 0 || meta[3] > kMaxDim ||
      meta[2] > std::numeric_limits<std::int64_t>::max() / meta[3]) {
    return BadIndex(prefix, "has a bad header");
  }
  const auto metric = static_cast<Metric>(meta[1]);
  const std::int64_t rows = meta[2];
  const auto dim = static_cast<std::int32_t>(meta[3]);
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<float> vectors, file.Array<float>(prefix + "vectors"));
  if (vectors.size() / static_cast<std::size_t>(dim) != static_cast<std::size_t>(rows) ||
      vectors.size() % static_cast<std::size_t>(dim) != 0) {
    return BadIndex(prefix, "vectors do not match its header");
  }
  if (meta[0] == static_cast<std::int64_t>(IndexType::kExact)) {
    return std::unique_ptr<VectorIndex>(new ExactIndex(std::move(vectors), rows, dim, metric));
  }
  if (meta[0] != static_cast<std::int64_t>(IndexType::kIvf) || meta.size() < 5) {
    return BadIndex(prefix, "has an unknown type");
  }
  if (meta[4] <= 0 || meta[4] > std::numeric_limits<std::int32_t>::max()) return BadIndex(prefix, "has a bad probe count");
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<float> centroids, file.Array<float>(prefix + "centroids"));
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<std::int64_t> offsets, file.Array<std::int64_t>(prefix + "list_offsets"));
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<std::int32_t> ids, file.Array<std::int32_t>(prefix + "list_ids"));
  const auto lists = static_cast<std::int64_t>(offsets.size()) - 1;
  bool consistent = lists >= 1 && lists <= std::numeric_limits<std::int32_t>::max() &&
                    centroids.size() % static_cast<std::size_t>(dim) == 0 &&
                    centroids.size() / static_cast<std::size_t>(dim) == static_cast<std::size_t>(lists) &&
                    static_cast<std::int64_t>(ids.size()) == rows && offsets.front() == 0 &&
                    offsets.back() == rows && std::is_sorted(offsets.begin(), offsets.end());
  for (std::int32_t id : ids) consistent = consistent && id >= 0 && id < rows;
  if (!consistent) return BadIndex(prefix, "inverted lists are inconsistent");
  return std::unique_ptr<VectorIndex>(
      new IvfIndex(std::move(centroids), std::move(offsets), std::move(ids), std::move(vectors), dim,
                   metric, num_probes > 0 ? num_probes : static_cast<std::int32_t>(meta[4])));
}

absl::StatusOr<io::ModelFile> VectorIndex::ToModelFile() const {
  io::ModelFile file(kModelKind);
  v1::VectorIndexConfig proto;
  proto.set_metric(static_cast<v1::Metric>(metric()));
  proto.set_approximate(approximate());
  proto.set_num_lists(num_lists());
  proto.set_num_probes(num_probes());
  proto.set_num_items(size());
  proto.set_dim(dim());
  file.set_config(proto.SerializeAsString());
  COMPTOIR_RETURN_IF_ERROR(AppendTo(file, ""));
  return file;
}

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::FromModelFile(const io::ModelFile& file, int num_probes) {
  COMPTOIR_RETURN_IF_ERROR(file.ExpectKind(kModelKind));
  COMPTOIR_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, LoadIndex(file, "", num_probes));
  // Files written before the config was stored carry only the arrays; a config must agree with them.
  if (!file.config().empty()) {
    v1::VectorIndexConfig proto;
    if (!proto.ParseFromString(file.config()) || proto.num_items() != index->size() || proto.dim() != index->dim() ||
        static_cast<Metric>(proto.metric()) != index->metric() || proto.approximate() != index->approximate() ||
        proto.num_lists() != index->num_lists()) {
      return BadIndex("", "config does not match its arrays");
    }
  }
  return index;
}

double RecallAtK(const std::vector<std::vector<ScoredId>>& exact,
                 const std::vector<std::vector<ScoredId>>& approximate) {
  if (exact.empty()) return 0.0;
  double total = 0.0;
  std::vector<std::int32_t> truth;
  for (std::size_t q = 0; q < exact.size() && q < approximate.size(); ++q) {
    truth.clear();
    for (const ScoredId& s : exact[q]) truth.push_back(s.id);
    std::sort(truth.begin(), truth.end());
    std::size_t hits = 0;
    for (const ScoredId& s : approximate[q]) hits += std::binary_search(truth.begin(), truth.end(), s.id);
    if (!truth.empty()) total += static_cast<double>(hits) / static_cast<double>(truth.size());
  }
  return total / static_cast<double>(exact.size());
}

}  // namespace comptoir::retrieval
