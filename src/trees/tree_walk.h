// What the fit, batch scoring and TreeSHAP share about sending a row down a tree.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "comptoir/trees/binning.h"
#include "comptoir/trees/gradient_boosting.h"

namespace comptoir::trees {

// Bins going left at a categorical split, as Tree::category_bins holds them.
using BinSet = std::array<std::uint64_t, 4>;
inline bool Contains(const BinSet& set, std::uint32_t bin) { return (set[bin >> 6] >> (bin & 63)) & 1; }

// The side of a split for a raw value: rows that were never binned (the validation set, the rows
// TreeSHAP explains) are routed on the thresholds.
inline bool GoesLeftRaw(const Tree& tree, std::size_t node, double x, const FeatureBinning& binning) {
  if (std::isnan(x)) return tree.default_left[node];
  const std::int32_t set = tree.category_set[node];
  if (set >= 0) return Contains(tree.category_bins[static_cast<std::size_t>(set)], binning.BinOf(tree.feature[node], x));
  return x <= tree.threshold[node];
}

// InvalidArgument unless X has the model's features.
absl::Status CheckMatrix(const Eigen::Ref<const RowMatrix>& X, std::int32_t num_features);

}  // namespace comptoir::trees
