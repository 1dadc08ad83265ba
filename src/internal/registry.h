// The model registry's internals: composite models (hybrid, calibrated classifier, meta-learners)
// load their nested model files through it, so that no file but src/model.cc switches on kinds.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "comptoir/io/model_file.h"
#include "comptoir/recommend/recommender.h"
#include "comptoir/retrieval/vector_index.h"
#include "comptoir/scorer.h"

namespace comptoir::internal {

// What a model file loads into: exactly one family object is set.
struct ModelParts {
  std::unique_ptr<recommend::Recommender> recommender;
  std::unique_ptr<Scorer> scorer;
  std::unique_ptr<UpliftModel> uplift;
  std::unique_ptr<retrieval::VectorIndex> index;
};

// Loads `file` by its kind. Composites nest at most kMaxModelNesting deep (a crafted file cannot
// recurse without end); an unknown kind is a ModelFormatError naming it.
inline constexpr int kMaxModelNesting = 8;
absl::StatusOr<ModelParts> LoadParts(const io::ModelFile& file);

// A composite's nested part from its serialised bytes; a part of another family is a
// ModelFormatError naming its kind and `role` ("hybrid component 2", "calibrated base model").
absl::StatusOr<std::unique_ptr<Scorer>> LoadNestedScorer(std::string_view bytes, std::string_view role);
absl::StatusOr<std::unique_ptr<recommend::Recommender>> LoadNestedRecommender(std::string_view bytes,
                                                                              std::string_view role);
// The bytes a composite stores for a part.
absl::StatusOr<std::string> SerializePart(const absl::StatusOr<io::ModelFile>& part);

}  // namespace comptoir::internal
