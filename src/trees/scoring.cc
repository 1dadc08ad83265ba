// GradientBoosting's batch scoring: the trees flattened into one compact layout and walked a block
// of rows at a time.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "internal/parallel.h"
#include "trees/loss.h"
#include "trees/tree_walk.h"

namespace comptoir::trees {

absl::Status CheckMatrix(const Eigen::Ref<const RowMatrix>& X, std::int32_t num_features) {
  if (X.cols() != num_features) {
    return absl::InvalidArgumentError(absl::StrCat("X has ", X.cols(), " features, the model was fitted on ", num_features));
  }
  return absl::OkStatus();
}

void GradientBoosting::BuildScoringLayout() {
  scoring_nodes_.clear();
  scoring_roots_.clear();
  scoring_category_bins_.clear();
  for (const Tree& tree : trees_) {
    const auto offset = static_cast<std::int32_t>(scoring_nodes_.size());
    const auto set_offset = static_cast<std::int32_t>(scoring_category_bins_.size());
    scoring_roots_.push_back(offset);
    for (std::size_t k = 0; k < tree.feature.size(); ++k) {
      const bool leaf = tree.left[k] < 0;
      scoring_nodes_.push_back({leaf ? tree.value[k] : tree.threshold[k], leaf ? -1 : tree.feature[k],
                                leaf ? -1 : offset + tree.left[k], leaf ? -1 : offset + tree.right[k],
                                tree.category_set[k] < 0 ? -1 : set_offset + tree.category_set[k], tree.default_left[k]});
    }
    scoring_category_bins_.insert(scoring_category_bins_.end(), tree.category_bins.begin(), tree.category_bins.end());
  }
}

absl::StatusOr<std::vector<double>> GradientBoosting::PredictRaw(const Eigen::Ref<const RowMatrix>& X,
                                                                 const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(CheckMatrix(X, num_features()));
  std::vector<double> out(static_cast<std::size_t>(X.rows()), base_score_);
  // Trees outer, a block of rows inner (each tree's nodes stay in cache across the block), and the
  // rows of a block walk a tree in lockstep so their independent node loads overlap.
  constexpr std::int64_t kBlock = 32;
  const auto next = [&](const ScoringNode& node, double x) {
    bool left;
    if (std::isnan(x)) {
      left = node.default_left != 0;
    } else if (node.category_set >= 0) {
      left = Contains(scoring_category_bins_[static_cast<std::size_t>(node.category_set)], binning_.BinOf(node.feature, x));
    } else {
      left = x <= node.threshold;
    }
    return left ? node.left : node.right;
  };
  (void)internal::ParallelForChunks(options.num_threads, X.rows(), 4096, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    std::array<std::int32_t, kBlock> at{};
    for (std::int64_t block = begin; block < end; block += kBlock) {
      const auto lanes = static_cast<std::size_t>(std::min(end - block, kBlock));
      for (const std::int32_t root : scoring_roots_) {
        std::fill(at.begin(), at.begin() + static_cast<std::ptrdiff_t>(lanes), root);
        for (bool moving = true; moving;) {
          moving = false;
          for (std::size_t lane = 0; lane < lanes; ++lane) {
            const ScoringNode& node = scoring_nodes_[static_cast<std::size_t>(at[lane])];
            if (node.feature < 0) continue;
            at[lane] = next(node, X(block + static_cast<std::int64_t>(lane), node.feature));
            moving = true;
          }
        }
        for (std::size_t lane = 0; lane < lanes; ++lane) {
          out[static_cast<std::size_t>(block) + lane] += scoring_nodes_[static_cast<std::size_t>(at[lane])].threshold;
        }
      }
    }
  });
  return out;
}

absl::StatusOr<std::vector<double>> GradientBoosting::Predict(const Eigen::Ref<const RowMatrix>& X,
                                                              const ExecutionOptions& options) const {
  COMPTOIR_ASSIGN_OR_RETURN(std::vector<double> out, PredictRaw(X, options));
  const Loss loss{config_.objective, config_.power};
  for (double& f : out) f = loss.Response(f);
  return out;
}

}  // namespace comptoir::trees
