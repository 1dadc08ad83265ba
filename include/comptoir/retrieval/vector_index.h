// Top-k retrieval over item vectors: an exact index that streams the whole matrix (memory-bandwidth
// bound) and an inverted-file (IVF) approximate index for catalogues of a million items and more.
// Both are immutable after Build and safe to search from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/io/model_file.h"
#include "comptoir/options.h"
#include "comptoir/retrieval/top_k.h"

namespace comptoir::retrieval {

enum class Metric : std::int32_t {
  kInnerProduct = 0,
  kCosine = 1,  // vectors and queries are L2-normalised, then inner product
};

// Which items may be returned. Empty spans mean "no constraint".
struct SearchFilter {
  absl::Span<const std::uint8_t> allowed;  // num_items flags; nonzero = may be returned
  absl::Span<const std::int32_t> excluded;  // ids never returned (any order)
};

// Row-major float matrix (rows = items), the layout NumPy's C order uses.
struct VectorsView {
  absl::Span<const float> data;
  std::int64_t rows = 0;
  std::int32_t dim = 0;
};

struct IvfConfig {
  std::int32_t num_lists = 0;       // 0 = about 4 * sqrt(num_items)
  std::int32_t num_probes = 0;      // lists scanned per query; 0 = a sixteenth of them (at least 16)
  std::int32_t kmeans_iterations = 12;
  std::int64_t training_sample = 100'000;  // vectors used to train the coarse quantiser
  absl::Status Validate() const;
};

class VectorIndex {
 public:
  static constexpr const char* kModelKind = "vector_index";

  virtual ~VectorIndex() = default;

  virtual std::int64_t size() const = 0;
  virtual std::int32_t dim() const = 0;
  virtual Metric metric() const = 0;
  // IVF lists built and scanned per query; 0 for the exact index.
  virtual std::int32_t num_lists() const { return 0; }
  virtual std::int32_t num_probes() const { return 0; }
  bool approximate() const { return num_lists() > 0; }

  // The k best items for one query (best first). Scratch is per thread: no allocation per call
  // beyond `out`'s growth. k <= 0 or a query of the wrong length is InvalidArgument.
  virtual absl::Status Search(absl::Span<const float> query, int k, const SearchFilter& filter,
                              std::vector<ScoredId>& out) const = 0;

  // Queries row-major (num_queries x dim), searched in parallel; results[q] best first.
  absl::StatusOr<std::vector<std::vector<ScoredId>>> SearchBatch(
      VectorsView queries, int k, const SearchFilter& filter, const ExecutionOptions& options) const;

  // Adds this index's blobs (named `prefix` + ...) to a model file, and reads them back.
  virtual absl::Status AppendTo(io::ModelFile& file, const std::string& prefix) const = 0;

  // The index as a model file of kind "vector_index" (its build in the config, the arrays as
  // blobs); comptoir::LoadModel serves it through Model::AsVectorIndex.
  absl::StatusOr<io::ModelFile> ToModelFile() const;
  // `num_probes` > 0 overrides the saved value. Sizes are checked before use: a crafted file is a
  // ModelFormatError, never an out-of-bounds read.
  static absl::StatusOr<std::unique_ptr<VectorIndex>> FromModelFile(const io::ModelFile& file, int num_probes = 0);
};

// Copies `vectors` (normalising them for kCosine).
absl::StatusOr<std::unique_ptr<VectorIndex>> BuildExactIndex(VectorsView vectors, Metric metric);

// Trains the coarse quantiser (k-means, deterministic for options.seed whatever num_threads) and
// builds the inverted lists.
absl::StatusOr<std::unique_ptr<VectorIndex>> BuildIvfIndex(VectorsView vectors, Metric metric,
                                                           const IvfConfig& config,
                                                           const ExecutionOptions& options);

// Loads an index written by AppendTo; `num_probes` > 0 overrides the saved value.
absl::StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(const io::ModelFile& file,
                                                       const std::string& prefix,
                                                       int num_probes = 0);

// Fraction of exact top-k ids the approximate results recover, averaged over queries.
double RecallAtK(const std::vector<std::vector<ScoredId>>& exact,
                 const std::vector<std::vector<ScoredId>>& approximate);

}  // namespace comptoir::retrieval
