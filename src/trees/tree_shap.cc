// GradientBoosting::Contributions: exact TreeSHAP over the fitted trees.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "comptoir/status.h"
#include "comptoir/trees/gradient_boosting.h"
#include "internal/parallel.h"
#include "trees/tree_check.h"
#include "trees/tree_walk.h"

namespace comptoir::trees {
namespace {

double ExpectedOutput(const Tree& tree, std::int32_t node = 0) {
  const auto k = static_cast<std::size_t>(node);
  if (tree.left[k] < 0) return tree.value[k];
  const auto l = static_cast<std::size_t>(tree.left[k]), r = static_cast<std::size_t>(tree.right[k]);
  return (tree.cover[l] * ExpectedOutput(tree, tree.left[k]) + tree.cover[r] * ExpectedOutput(tree, tree.right[k])) / tree.cover[k];
}

// Exact TreeSHAP (Lundberg, Erion and Lee, 2018, algorithm 2): the path of unique features from the
// root holds, per feature, the fraction of "zero" (feature unknown: follow covers) and "one" (feature
// known: follow x) paths, and permutation weights that are extended and unwound in O(depth).
class TreeShap {
 public:
  // depth <= kMaxTreeDepth (checked at fit and load), so the path size fits easily in size_t.
  TreeShap(const Tree& tree, const FeatureBinning& binning, std::int32_t depth)
      : tree_(tree), binning_(binning), path_(PathSize(depth)) {}

  static std::size_t PathSize(std::int32_t depth) {
    const auto d = static_cast<std::size_t>(depth);
    return (d + 2) * (d + 3) / 2 + d + 2;
  }

  void Explain(const double* x, double* phi) { Recurse(0, x, phi, path_.data(), 0, 1, 1, -1); }

 private:
  struct PathElement {
    std::int32_t feature;
    double zero_fraction, one_fraction, weight;
  };

  static void Extend(PathElement* path, int depth, double zero_fraction, double one_fraction, std::int32_t feature) {
    path[depth] = {feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
    for (int i = depth - 1; i >= 0; --i) {
      path[i + 1].weight += one_fraction * path[i].weight * (i + 1) / (depth + 1);
      path[i].weight = zero_fraction * path[i].weight * (depth - i) / (depth + 1);
    }
  }

  static void Unwind(PathElement* path, int depth, int index) {
    const double one = path[index].one_fraction, zero = path[index].zero_fraction;
    double next = path[depth].weight;
    for (int i = depth - 1; i >= 0; --i) {
      if (one != 0) {
        const double held = path[i].weight;
        path[i].weight = next * (depth + 1) / ((i + 1) * one);
        next = held - path[i].weight * zero * (depth - i) / (depth + 1);
      } else {
        path[i].weight = path[i].weight * (depth + 1) / (zero * (depth - i));
      }
    }
    for (int i = index; i < depth; ++i) {
      path[i].feature = path[i + 1].feature;
      path[i].zero_fraction = path[i + 1].zero_fraction;
      path[i].one_fraction = path[i + 1].one_fraction;
    }
  }

  // The total permutation weight of the path with element `index` unwound, without unwinding it.
  static double UnwoundSum(const PathElement* path, int depth, int index) {
    const double one = path[index].one_fraction, zero = path[index].zero_fraction;
    double next = path[depth].weight, total = 0;
    for (int i = depth - 1; i >= 0; --i) {
      if (one != 0) {
        const double w = next * (depth + 1) / ((i + 1) * one);
        total += w;
        next = path[i].weight - w * zero * (depth - i) / (depth + 1);
      } else {
        total += path[i].weight * (depth + 1) / (zero * (depth - i));
      }
    }
    return total;
  }

  void Recurse(std::int32_t node, const double* x, double* phi, PathElement* parent_path, int depth,
               double zero_fraction, double one_fraction, std::int32_t feature) {
    PathElement* path = parent_path + depth + 1;
    std::copy(parent_path, parent_path + depth + 1, path);
    Extend(path, depth, zero_fraction, one_fraction, feature);
    const auto k = static_cast<std::size_t>(node);
    if (tree_.left[k] < 0) {
      for (int i = 1; i <= depth; ++i) {
        const double w = UnwoundSum(path, depth, i);
        phi[path[i].feature] += w * (path[i].one_fraction - path[i].zero_fraction) * tree_.value[k];
      }
      return;
    }
    const std::int32_t split = tree_.feature[k];
    const bool left = GoesLeftRaw(tree_, k, x[split], binning_);
    const std::int32_t hot = left ? tree_.left[k] : tree_.right[k];
    const std::int32_t cold = left ? tree_.right[k] : tree_.left[k];
    double incoming_zero = 1, incoming_one = 1;
    int seen = 1;
    while (seen <= depth && path[seen].feature != split) ++seen;
    if (seen <= depth) {
      incoming_zero = path[seen].zero_fraction;
      incoming_one = path[seen].one_fraction;
      Unwind(path, depth, seen);
      --depth;
    }
    const double cover = tree_.cover[k];
    Recurse(hot, x, phi, path, depth + 1, incoming_zero * tree_.cover[static_cast<std::size_t>(hot)] / cover, incoming_one, split);
    Recurse(cold, x, phi, path, depth + 1, incoming_zero * tree_.cover[static_cast<std::size_t>(cold)] / cover, 0, split);
  }

  const Tree& tree_;
  const FeatureBinning& binning_;
  std::vector<PathElement> path_;
};

}  // namespace

absl::StatusOr<RowMatrix> GradientBoosting::Contributions(const Eigen::Ref<const RowMatrix>& X,
                                                          const ExecutionOptions& options) const {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  COMPTOIR_RETURN_IF_ERROR(CheckMatrix(X, num_features()));
  const std::int32_t p = num_features();
  double expected = base_score_;
  std::int32_t depth = 0;
  for (const Tree& tree : trees_) {
    expected += ExpectedOutput(tree);
    depth = std::max(depth, TreeDepth(tree));
  }
  RowMatrix out = RowMatrix::Zero(X.rows(), p + 1);
  (void)internal::ParallelForChunks(options.num_threads, X.rows(), 256, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
    for (const Tree& tree : trees_) {
      TreeShap shap(tree, binning_, depth);
      for (std::int64_t i = begin; i < end; ++i) shap.Explain(X.row(i).data(), out.row(i).data());
    }
    for (std::int64_t i = begin; i < end; ++i) out(i, p) = expected;
  });
  return out;
}

}  // namespace comptoir::trees
