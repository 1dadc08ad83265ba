// What TreeSHAP and the model file share about a tree's shape.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "comptoir/trees/gradient_boosting.h"

namespace comptoir::trees {

// Edges from the root to the deepest leaf. Needs a tree CheckTree accepted (children after parents).
std::int32_t TreeDepth(const Tree& tree);

// DataLoss unless the arrays agree, every node but the root has exactly one parent that comes
// before it (so the nodes form one tree and walking it terminates), splits name real features and
// category sets, and the depth is at most kMaxTreeDepth.
absl::Status CheckTree(const Tree& tree, std::int32_t num_features);

}  // namespace comptoir::trees
