// Every model kind's loader through the single loader, behind valid checksums: the custom
// mutator edits one part of a file (its config, a blob, its kind) and writes the container again,
// so mutations reach the loaders instead of dying at a checksum. A loaded model is then asked a
// small question of its family, which is where an unchecked size or depth would bite.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "comptoir/io/model_file.h"
#include "comptoir/model.h"
#include "comptoir/recommend/recommender.h"
#include "comptoir/retrieval/vector_index.h"
#include "comptoir/scorer.h"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

// Caps what one input may make the target allocate while exercising a model (not the loader).
constexpr std::int32_t kMaxExercisedFeatures = 4096;

void Exercise(const comptoir::Model& model) {
  if (const comptoir::recommend::Recommender* recommender = model.AsRecommender()) {
    const std::vector<std::int32_t> session = {0, 1, 0};
    comptoir::recommend::RecommendRequest request;
    request.session_items = session;
    request.k = 5;
    (void)recommender->Recommend(request);
    request.user = 0;
    (void)recommender->Recommend(request);
  }
  if (const comptoir::Scorer* scorer = model.AsScorer()) {
    const std::int32_t p = scorer->num_features();
    if (p >= 0 && p <= kMaxExercisedFeatures) {
      comptoir::RowMatrix X = comptoir::RowMatrix::Zero(2, p);
      if (p > 0) X(1, 0) = 1e6;
      (void)scorer->Score(X);
      (void)scorer->Contributions(X);
    }
  }
  if (const comptoir::UpliftModel* uplift = model.AsUpliftModel()) {
    const std::int32_t p = uplift->num_features();
    if (p >= 0 && p <= kMaxExercisedFeatures) {
      const comptoir::RowMatrix X = comptoir::RowMatrix::Ones(2, p);
      (void)uplift->Effect(X);
      for (std::int32_t offer = 0; offer <= std::min(uplift->num_offers(), 2) + 1; ++offer) (void)uplift->Contributions(X, offer);
    }
  }
  if (const comptoir::retrieval::VectorIndex* index = model.AsVectorIndex()) {
    const std::int32_t dim = index->dim();
    if (dim >= 0 && dim <= kMaxExercisedFeatures) {
      const std::vector<float> query(static_cast<std::size_t>(dim), 0.5f);
      std::vector<comptoir::retrieval::ScoredId> out;
      (void)index->Search(query, 3, {}, out);
    }
  }
  // A model that loaded writes a file that loads again.
  if (absl::StatusOr<comptoir::io::ModelFile> file = model.ToModelFile(); file.ok()) {
    (void)comptoir::LoadModelFromFile(*file);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::unique_ptr<comptoir::Model>> model = comptoir::LoadModelFromBytes(bytes);
  if (model.ok()) Exercise(**model);
  return 0;
}

namespace {

std::string MutateRaw(std::string bytes) {
  if (bytes.empty()) bytes.push_back('\0');
  const std::size_t size = bytes.size();
  bytes.resize(std::max<std::size_t>(size * 2, 64));
  bytes.resize(LLVMFuzzerMutate(reinterpret_cast<std::uint8_t*>(bytes.data()), size, bytes.size()));
  return bytes;
}

// One edit somewhere in a file, its checksums made valid again; composites nest files in blobs,
// and an edit inside a nested file is re-sealed at every level.
std::string MutateFile(const std::string& bytes, std::minstd_rand& rng, int depth) {
  absl::StatusOr<comptoir::io::ModelFile> file = comptoir::io::ParseModelFile(bytes);
  // Not a file (or now and then): plain byte mutation, which exercises the container itself.
  if (!file.ok() || depth > 4 || rng() % 10 == 0) return MutateRaw(bytes);
  const std::size_t part = rng() % (file->blobs().size() + 2);
  if (part == 0) {
    file->set_config(MutateRaw(file->config()));
  } else if (part == 1) {
    comptoir::io::ModelFile renamed(MutateRaw(file->model_kind()));
    renamed.set_config(file->config());
    for (const comptoir::io::ModelBlob& blob : file->blobs()) renamed.SetBlob(blob.name, blob.bytes);
    file = std::move(renamed);
  } else {
    const comptoir::io::ModelBlob& blob = file->blobs()[part - 2];
    const bool nested = comptoir::io::ParseModelFile(blob.bytes).ok();
    file->SetBlob(blob.name, nested ? MutateFile(blob.bytes, rng, depth + 1) : MutateRaw(blob.bytes));
  }
  absl::StatusOr<std::string> out = comptoir::io::SerializeModelFile(*file);
  return out.ok() ? *std::move(out) : MutateRaw(bytes);
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  std::minstd_rand rng(seed);
  const std::string out = MutateFile(std::string(reinterpret_cast<const char*>(data), size), rng, 0);
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}
