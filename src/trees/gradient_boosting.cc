// GradientBoosting's fit: trees grown leaf-wise on histograms of the binned features, boosted on the
// objective's gradients. Batch scoring is in scoring.cc, TreeSHAP in tree_shap.cc, the model file in
// gradient_boosting_io.cc.
#include "comptoir/trees/gradient_boosting.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "internal/parallel.h"
#include "internal/rng.h"
#include "trees/loss.h"
#include "trees/tree_walk.h"

namespace comptoir::trees {
namespace {

constexpr std::int64_t kRowChunk = 8192;
// Histogram partials: at most this many per node, so the fold stays cheap on huge nodes.
constexpr std::int64_t kMaxHistogramChunks = 32;
constexpr std::int64_t kMinHistogramChunk = 16384;
// The sparse layout cannot split a node's work by features, so its row chunks start smaller.
constexpr std::int64_t kMinSparseHistogramChunk = 4096;
// Below this many (row, feature) updates a node's histogram is built by one task; above it, by
// feature blocks. Small nodes are common (most of a tree's nodes) and a parallel loop costs about
// as much as a few thousand updates.
constexpr std::int64_t kMinParallelUpdates = 65536;
constexpr std::size_t kFeatureBlock = 4;
constexpr std::int64_t kPartitionChunk = 32768;
constexpr std::int64_t kFoldBlock = 1024;
constexpr std::int64_t kPrefetchDistance = 16;
// HistogramLayout::kAuto is sparse when at most this share of the values lies outside its
// feature's most frequent bin: each such value costs two bytes instead of one, the others nothing.
constexpr double kMaxSparseShare = 0.6;
constexpr std::int64_t kTransposeChunk = 4096;
constexpr double kRoundingShare = 1e-12;
// (leaf, feature) pairs per split-search task; below kMinParallelSplitBins histogram bins to scan
// in all, one task scans them.
constexpr std::int64_t kSplitSearchBlock = 4;
constexpr std::int64_t kMinParallelSplitBins = 32768;
constexpr double kInf = std::numeric_limits<double>::infinity();

// A row's gradient and hessian side by side: the histogram loop reads both with one cache miss.
struct GradHess {
  double g, h;
};

// Sums of gradients and hessians. Rows are not counted per bin: sixteen bytes instead of
// twenty-four make the histogram loop a fifth faster. A bin's rows are estimated from its share of
// the node's hessian, as LightGBM does (exact for unweighted squared error); nodes know their
// exact row counts.
struct HistBin {
  double g = 0, h = 0;
  void Add(const HistBin& o) { g += o.g, h += o.h; }
  HistBin Minus(const HistBin& o) const { return {g - o.g, h - o.h}; }
};

void Insert(BinSet& set, std::uint32_t bin) { set[bin >> 6] |= std::uint64_t{1} << (bin & 63); }

struct SplitCandidate {
  double gain = -kInf;
  std::int32_t feature = -1;
  std::int32_t bin = 0;  // numeric: bins 1..bin go left
  bool default_left = false;
  bool categorical = false;
  BinSet left_bins{};
  HistBin left;
};

// Grows one tree leaf-wise over binned rows for given gradients and hessians.
class TreeBuilder {
 public:
  TreeBuilder(const BinnedMatrix& binned, const FeatureBinning& binning, const GradientBoostingConfig& config, int num_threads)
      : binned_(binned), binning_(binning), config_(config), num_threads_(num_threads) {
    const std::int32_t p = binned.num_features;
    offsets_.resize(static_cast<std::size_t>(p) + 1, 0);
    for (std::int32_t j = 0; j < p; ++j) offsets_[static_cast<std::size_t>(j) + 1] = offsets_[static_cast<std::size_t>(j)] + binning.num_bins(j);
    partials_.resize(static_cast<std::size_t>(kMaxHistogramChunks * total_bins()));
    Transpose();
    ChooseLayout();
  }

  std::int32_t total_bins() const { return offsets_.back(); }

  // Builds a tree over rows (reordered in place so each leaf's rows are contiguous). Leaf values
  // are the Newton steps times the learning rate. split_bin receives the bin of each numeric split
  // (to route binned rows), leaf_segments the [begin, end) of every leaf's rows.
  Tree Build(std::vector<std::int64_t>& rows, const std::vector<GradHess>& gradients, const std::vector<std::int32_t>& features, std::vector<double>& importance, std::vector<std::int32_t>& split_bin,
             std::vector<std::pair<std::int32_t, std::pair<std::int64_t, std::int64_t>>>& leaf_segments) {
    rows_ = &rows;
    gradients_ = gradients.data();
    features_ = &features;
    all_features_ = static_cast<std::int32_t>(features.size()) == binned_.num_features;
    Tree tree;
    split_bin.clear();
    leaf_segments.clear();
    std::vector<Leaf> open;
    open.push_back(Leaf{AddNode(tree, split_bin), 0, static_cast<std::int64_t>(rows.size()), 0, {}, {}, {}});
    Leaf& root = open.back();
    root.sum = internal::DeterministicReduce(
        num_threads_, root.rows(), kRowChunk, HistBin{},
        [&](std::int64_t begin, std::int64_t end) {
          HistBin sum;
          for (std::int64_t k = begin; k < end; ++k) {
            const GradHess& gh = gradients_[rows[static_cast<std::size_t>(k)]];
            sum.g += gh.g, sum.h += gh.h;
          }
          return sum;
        },
        [](HistBin& a, const HistBin& b) { a.Add(b); });
    root.hist = AcquireHistogram();
    BuildHistogram(root);
    FindBestSplits({&root});

    std::int32_t num_leaves = 1;
    while (num_leaves < config_.num_leaves) {
      std::size_t best = open.size();
      for (std::size_t k = 0; k < open.size(); ++k) {
        if (open[k].best.feature >= 0 && (best == open.size() || open[k].best.gain > open[best].best.gain)) best = k;
      }
      if (best == open.size()) break;
      Leaf parent = std::move(open[best]);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(best));
      auto [left, right] = Split(tree, split_bin, parent, importance);
      open.push_back(std::move(left));
      open.push_back(std::move(right));
      ++num_leaves;
    }
    for (Leaf& leaf : open) {
      pool_.push_back(std::move(leaf.hist));
      tree.value[static_cast<std::size_t>(leaf.node)] = LeafValue(leaf.sum);
      tree.cover[static_cast<std::size_t>(leaf.node)] = static_cast<double>(leaf.rows());
      leaf_segments.push_back({leaf.node, {leaf.begin, leaf.end}});
    }
    return tree;
  }

 private:
  struct Leaf {
    std::int32_t node;
    std::int64_t begin, end;
    std::int32_t depth;
    HistBin sum;
    std::vector<HistBin> hist;
    SplitCandidate best;

    std::int64_t rows() const { return end - begin; }
    double RowsPerHessian() const { return sum.h > 0 ? static_cast<double>(rows()) / sum.h : 0.0; }
  };

  static std::int32_t AddNode(Tree& tree, std::vector<std::int32_t>& split_bin) {
    tree.feature.push_back(-1);
    tree.threshold.push_back(0);
    tree.left.push_back(-1);
    tree.right.push_back(-1);
    tree.default_left.push_back(0);
    tree.category_set.push_back(-1);
    tree.value.push_back(0);
    tree.cover.push_back(0);
    split_bin.push_back(0);
    return tree.num_nodes() - 1;
  }

  double LeafValue(const HistBin& sum) const { return -sum.g / (sum.h + config_.l2_regularization) * config_.learning_rate; }
  double Score(const HistBin& s) const { return s.g * s.g / (s.h + config_.l2_regularization); }
  // rows_per_hessian: the node's rows over its hessian sum, to estimate a side's rows.
  bool Admissible(const HistBin& s, double rows_per_hessian) const {
    return s.h * rows_per_hessian >= config_.min_samples_leaf && s.h >= config_.min_hessian_leaf;
  }

  // A feature-major copy of the codes: a partition reads one feature of scattered rows, and one
  // byte per row of a single feature stays in cache where whole rows would not.
  void Transpose() {
    const std::int64_t n = binned_.num_rows;
    const std::int32_t p = binned_.num_features;
    columns_.resize(binned_.codes.size());
    (void)internal::ParallelForChunks(num_threads_, n, kTransposeChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      for (std::int32_t j = 0; j < p; ++j) {
        std::uint8_t* column = columns_.data() + static_cast<std::int64_t>(j) * n;
        for (std::int64_t i = begin; i < end; ++i) column[i] = binned_.row(i)[j];
      }
    });
  }

  // Behaviour features (counts, recencies, flags) mostly sit in one bin, often zero. When most
  // values do, each row keeps only the histogram slots of its values outside their feature's most
  // frequent bin, and that bin is filled in from the node's totals afterwards (LightGBM's sparse
  // multi-value bins work the same way): fewer updates per row, and none for constant columns.
  void ChooseLayout() {
    using Layout = GradientBoostingConfig::HistogramLayout;
    // Slots are 16-bit: beyond 65,536 bins in all (more than 256 features) the layout is dense.
    if (config_.histogram_layout == Layout::kDense || total_bins() > std::numeric_limits<std::uint16_t>::max() + 1) return;
    const std::int64_t n = binned_.num_rows;
    const std::int32_t p = binned_.num_features;
    most_frequent_bin_.assign(static_cast<std::size_t>(p), 0);
    std::vector<std::int64_t> most_frequent_count(static_cast<std::size_t>(p), 0);
    (void)internal::ParallelForChunks(num_threads_, p, 1, [&](std::int64_t j, std::int64_t, std::int64_t) {
      std::array<std::int64_t, 256> counts{};
      const std::uint8_t* column = columns_.data() + j * n;
      for (std::int64_t i = 0; i < n; ++i) ++counts[column[i]];
      const auto mode = std::max_element(counts.begin(), counts.end());
      most_frequent_bin_[static_cast<std::size_t>(j)] = static_cast<std::int32_t>(mode - counts.begin());
      most_frequent_count[static_cast<std::size_t>(j)] = *mode;
    });
    const double values = static_cast<double>(n) * p;
    const double others = values - static_cast<double>(std::accumulate(most_frequent_count.begin(), most_frequent_count.end(), std::int64_t{0}));
    sparse_ = config_.histogram_layout == Layout::kSparse || others <= kMaxSparseShare * values;
    if (!sparse_) return;
    row_starts_.assign(static_cast<std::size_t>(n) + 1, 0);
    const auto for_each_slot = [&](std::int64_t i, auto&& visit) {
      const std::uint8_t* code = binned_.row(i);
      for (std::int32_t j = 0; j < p; ++j) {
        if (code[j] != most_frequent_bin_[static_cast<std::size_t>(j)]) visit(offsets_[static_cast<std::size_t>(j)] + code[j]);
      }
    };
    (void)internal::ParallelForChunks(num_threads_, n, kRowChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        std::int64_t count = 0;
        for_each_slot(i, [&](std::int32_t) { ++count; });
        row_starts_[static_cast<std::size_t>(i) + 1] = count;
      }
    });
    std::partial_sum(row_starts_.begin(), row_starts_.end(), row_starts_.begin());
    slots_.resize(static_cast<std::size_t>(row_starts_.back()));
    (void)internal::ParallelForChunks(num_threads_, n, kRowChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        std::uint16_t* out = slots_.data() + row_starts_[static_cast<std::size_t>(i)];
        for_each_slot(i, [&](std::int32_t slot) { *out++ = static_cast<std::uint16_t>(slot); });
      }
    });
  }

  // Sparse layout: every feature's most frequent bin is what the node holds beyond its other bins.
  void FillMostFrequentBins(Leaf& leaf) const {
    for (std::size_t j = 0; j + 1 < offsets_.size(); ++j) {
      HistBin* hist = leaf.hist.data() + offsets_[j];
      const std::int32_t bins = offsets_[j + 1] - offsets_[j];
      const std::int32_t mode = most_frequent_bin_[j];
      HistBin others;
      for (std::int32_t b = 0; b < bins; ++b) {
        if (b != mode) others.Add(hist[b]);
      }
      hist[mode] = leaf.sum.Minus(others);
      // Where the node has none of that bin's rows, the difference is rounding: call it empty, as
      // the dense layout would find it, so both see the same missing-value and category checks.
      if (hist[mode].h <= kRoundingShare * leaf.sum.h) hist[mode] = HistBin{};
    }
  }

  // Adds rows [begin, end) of the current node to `hist`, for active features [first, last) (all
  // of them in the sparse layout).
  void Accumulate(std::int64_t begin, std::int64_t end, std::size_t first, std::size_t last, HistBin* hist) const {
    const std::int64_t* rows = rows_->data();
    if (sparse_) {
      const std::int64_t* starts = row_starts_.data();
      const std::uint16_t* slots = slots_.data();
      for (std::int64_t k = begin; k < end; ++k) {
        if (k + 2 * kPrefetchDistance < end) __builtin_prefetch(starts + rows[k + 2 * kPrefetchDistance]);
        if (k + kPrefetchDistance < end) {
          const std::int64_t ahead = rows[k + kPrefetchDistance];
          __builtin_prefetch(slots + starts[ahead]);
          __builtin_prefetch(gradients_ + ahead);
        }
        const std::int64_t r = rows[k];
        const double gr = gradients_[r].g, hr = gradients_[r].h;
        for (std::int64_t e = starts[r]; e < starts[r + 1]; ++e) {
          HistBin& bin = hist[slots[e]];
          bin.g += gr, bin.h += hr;
        }
      }
      return;
    }
    const std::int32_t* offsets = offsets_.data();
    const std::int32_t* features = features_->data();
    for (std::int64_t k = begin; k < end; ++k) {
      // Deep nodes hold scattered rows: fetch a few rows ahead so the loads overlap the adds.
      if (k + kPrefetchDistance < end) {
        const std::int64_t ahead = rows[k + kPrefetchDistance];
        __builtin_prefetch(binned_.row(ahead));
        __builtin_prefetch(gradients_ + ahead);
      }
      const std::int64_t r = rows[k];
      const std::uint8_t* code = binned_.row(r);
      const double gr = gradients_[r].g, hr = gradients_[r].h;
      if (all_features_) {
        for (std::size_t j = first; j < last; ++j) {
          HistBin& bin = hist[offsets[j] + code[j]];
          bin.g += gr, bin.h += hr;
        }
      } else {
        for (std::size_t f = first; f < last; ++f) {
          const std::int32_t j = features[f];
          HistBin& bin = hist[offsets[j] + code[j]];
          bin.g += gr, bin.h += hr;
        }
      }
    }
  }

  // Large nodes: fixed row chunks (a function of the node size only) folded in order. Smaller
  // nodes: blocks of features, each filled by one task (one task in the sparse layout, whose rows
  // cannot be split by feature). Either way the sums are deterministic.
  void BuildHistogram(Leaf& leaf) {
    const std::int64_t n = leaf.end - leaf.begin;
    const std::int64_t chunk = std::max(sparse_ ? kMinSparseHistogramChunk : kMinHistogramChunk, (n + kMaxHistogramChunks - 1) / kMaxHistogramChunks);
    const std::int64_t chunks = internal::NumChunks(n, chunk);
    const std::size_t num_features = features_->size();
    std::fill(leaf.hist.begin(), leaf.hist.end(), HistBin{});
    if (chunks <= 1) {
      const bool by_blocks = !sparse_ && n * static_cast<std::int64_t>(num_features) >= kMinParallelUpdates;
      const auto block = static_cast<std::int64_t>(by_blocks ? kFeatureBlock : num_features);
      (void)internal::ParallelForChunks(num_threads_, static_cast<std::int64_t>(num_features), block, [&](std::int64_t, std::int64_t first, std::int64_t last) {
        Accumulate(leaf.begin, leaf.end, static_cast<std::size_t>(first), static_cast<std::size_t>(last), leaf.hist.data());
      });
      if (sparse_) FillMostFrequentBins(leaf);
      return;
    }
    const auto bins = static_cast<std::size_t>(total_bins());
    (void)internal::ParallelForChunks(num_threads_, n, chunk, [&](std::int64_t c, std::int64_t begin, std::int64_t end) {
      HistBin* partial = partials_.data() + static_cast<std::size_t>(c) * bins;
      std::fill(partial, partial + bins, HistBin{});
      Accumulate(leaf.begin + begin, leaf.begin + end, 0, num_features, partial);
    });
    // Each bin's partials are folded in chunk order: the same sums for any thread count.
    (void)internal::ParallelForChunks(num_threads_, static_cast<std::int64_t>(bins), kFoldBlock, [&](std::int64_t, std::int64_t first, std::int64_t last) {
      for (std::int64_t c = 0; c < chunks; ++c) {
        const HistBin* partial = partials_.data() + static_cast<std::size_t>(c) * bins;
        for (auto b = static_cast<std::size_t>(first); b < static_cast<std::size_t>(last); ++b) leaf.hist[b].Add(partial[b]);
      }
    });
    if (sparse_) FillMostFrequentBins(leaf);
  }

  void Consider(const HistBin& left, const HistBin& total, double rows_per_hessian, double parent_score, SplitCandidate& best,
                const SplitCandidate& proposal) const {
    const HistBin right = total.Minus(left);
    if (!Admissible(left, rows_per_hessian) || !Admissible(right, rows_per_hessian)) return;
    const double gain = Score(left) + Score(right) - parent_score;
    if (gain > best.gain && gain > config_.min_split_gain) {
      best = proposal;
      best.gain = gain;
      best.left = left;
    }
  }

  bool Splittable(const Leaf& leaf) const {
    return (config_.max_depth == 0 || leaf.depth < config_.max_depth) && leaf.depth < kMaxTreeDepth && leaf.rows() >= 2 * static_cast<std::int64_t>(config_.min_samples_leaf) && leaf.sum.h > 0;
  }

  SplitCandidate BestSplitOf(const Leaf& leaf, std::int32_t j) const {
    SplitCandidate best;
    const double parent_score = Score(leaf.sum);
    const double rows_per_hessian = leaf.RowsPerHessian();
    const HistBin* hist = leaf.hist.data() + offsets_[static_cast<std::size_t>(j)];
    const std::int32_t bins = binning_.num_bins(j);
    if (binning_.is_categorical(j)) {
      FindCategoricalSplit(j, hist, bins, leaf.sum, leaf.RowsPerHessian(), parent_score, best);
      return best;
    }
    // Missing values to the right, then (when there are any) to the left. The left side only
    // grows and the right side only shrinks along a scan, so the size checks can stop it early.
    const auto scan = [&](HistBin left, bool default_left, std::int32_t last_bin) {
      for (std::int32_t b = 1; b < last_bin; ++b) {
        left.Add(hist[b]);
        if (!Admissible(left, rows_per_hessian)) continue;
        const HistBin right = leaf.sum.Minus(left);
        if (!Admissible(right, rows_per_hessian)) break;
        const double gain = Score(left) + Score(right) - parent_score;
        if (gain > best.gain && gain > config_.min_split_gain) {
          best.gain = gain;
          best.feature = j;
          best.bin = b;
          best.default_left = default_left;
          best.left = left;
        }
      }
    };
    scan(HistBin{}, false, bins);
    if (hist[kMissingBin].h > 0) scan(hist[kMissingBin], true, bins - 1);
    return best;
  }

  // Sets each leaf's best split; (leaf, feature) pairs are scanned in parallel and folded in
  // feature order, so ties go to the lower feature whatever the thread count.
  void FindBestSplits(std::initializer_list<Leaf*> leaves) {
    const std::size_t num_features = features_->size();
    candidates_.assign(leaves.size() * num_features, SplitCandidate{});
    const std::int64_t bins_to_scan = static_cast<std::int64_t>(leaves.size()) * total_bins();
    (void)internal::ParallelForChunks(bins_to_scan >= kMinParallelSplitBins ? num_threads_ : 1,
                                      static_cast<std::int64_t>(candidates_.size()), kSplitSearchBlock,
                                      [&](std::int64_t, std::int64_t first, std::int64_t last) {
      for (std::int64_t t = first; t < last; ++t) {
        const Leaf& leaf = *leaves.begin()[static_cast<std::size_t>(t) / num_features];
        if (Splittable(leaf)) {
          candidates_[static_cast<std::size_t>(t)] = BestSplitOf(leaf, (*features_)[static_cast<std::size_t>(t) % num_features]);
        }
      }
    });
    std::size_t t = 0;
    for (Leaf* leaf : leaves) {
      leaf->best = SplitCandidate{};
      for (std::size_t f = 0; f < num_features; ++f, ++t) {
        if (candidates_[t].gain > leaf->best.gain) leaf->best = candidates_[t];
      }
    }
  }

  std::vector<HistBin> AcquireHistogram() {
    if (pool_.empty()) return std::vector<HistBin>(static_cast<std::size_t>(total_bins()));
    std::vector<HistBin> hist = std::move(pool_.back());
    pool_.pop_back();
    return hist;
  }

  // Bins (the missing bin among them) ordered by their smoothed gradient ratio; every prefix of the
  // order, from either end, is a candidate left set. Rare bins always go right.
  void FindCategoricalSplit(std::int32_t j, const HistBin* hist, std::int32_t bins, const HistBin& total,
                            double rows_per_hessian, double parent_score, SplitCandidate& best) const {
    std::vector<std::int32_t> order;
    for (std::int32_t b = 0; b < bins; ++b) {
      if (hist[b].h > 0 && hist[b].h * rows_per_hessian >= std::max(1, config_.min_samples_category)) order.push_back(b);
    }
    if (order.size() < 2) return;
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return hist[a].g / (hist[a].h + config_.categorical_smoothing) < hist[b].g / (hist[b].h + config_.categorical_smoothing);
    });
    for (int direction = 0; direction < 2; ++direction) {
      SplitCandidate proposal;
      proposal.feature = j;
      proposal.categorical = true;
      HistBin left;
      for (std::size_t t = 0; t + 1 < order.size(); ++t) {
        const std::int32_t b = direction == 0 ? order[t] : order[order.size() - 1 - t];
        left.Add(hist[b]);
        Insert(proposal.left_bins, static_cast<std::uint32_t>(b));
        proposal.default_left = Contains(proposal.left_bins, kMissingBin);
        Consider(left, total, rows_per_hessian, parent_score, best, proposal);
      }
    }
  }

  bool GoesLeft(const SplitCandidate& split, std::uint8_t code) const {
    if (split.categorical) return Contains(split.left_bins, code);
    if (code == kMissingBin) return split.default_left;
    return code <= split.bin;
  }

  // Stable partition of rows [begin, end) by the split; returns where the right rows start. Fixed
  // chunks are partitioned independently (in parallel) into scratch, then gathered in order.
  std::int64_t Partition(const SplitCandidate& split, std::int64_t begin, std::int64_t end) {
    std::int64_t* rows = rows_->data();
    const std::int64_t n = end - begin;
    const std::int64_t chunks = internal::NumChunks(n, kPartitionChunk);
    scratch_.resize(static_cast<std::size_t>(n));
    left_counts_.assign(static_cast<std::size_t>(chunks), 0);
    const std::uint8_t* column = &columns_[static_cast<std::size_t>(split.feature * binned_.num_rows)];
    (void)internal::ParallelForChunks(num_threads_, n, kPartitionChunk, [&](std::int64_t c, std::int64_t first, std::int64_t last) {
      // Branch-free: every row is written at both cursors and only its side's cursor advances.
      std::int64_t* out = scratch_.data() + first;
      std::int64_t left = 0, right = last - first - 1;
      for (std::int64_t k = first; k < last; ++k) {
        const std::int64_t r = rows[begin + k];
        const bool goes_left = GoesLeft(split, column[r]);
        out[left] = r;
        out[right] = r;  // left <= right until the last row, where they meet
        left += goes_left;
        right -= !goes_left;
      }
      left_counts_[static_cast<std::size_t>(c)] = left;
    });
    // Each chunk holds its left rows in order at the front and its right rows reversed at the back;
    // prefix sums of the left counts place every chunk's rows, so the chunks are gathered in parallel.
    left_starts_.resize(static_cast<std::size_t>(chunks) + 1);
    left_starts_[0] = begin;
    for (std::int64_t c = 0; c < chunks; ++c) left_starts_[static_cast<std::size_t>(c) + 1] = left_starts_[static_cast<std::size_t>(c)] + left_counts_[static_cast<std::size_t>(c)];
    const std::int64_t write = left_starts_.back();
    (void)internal::ParallelForChunks(num_threads_, n, kPartitionChunk, [&](std::int64_t c, std::int64_t first, std::int64_t last) {
      const auto chunk = static_cast<std::size_t>(c);
      const std::int64_t lefts = left_counts_[chunk];
      std::copy_n(scratch_.data() + first, lefts, rows + left_starts_[chunk]);
      // Right rows before this chunk's: every earlier chunk's rows not sent left.
      std::int64_t right = write + (first - (left_starts_[chunk] - begin));
      for (std::int64_t k = last - 1; k >= first + lefts; --k) rows[right++] = scratch_[static_cast<std::size_t>(k)];
    });
    return write;
  }

  std::pair<Leaf, Leaf> Split(Tree& tree, std::vector<std::int32_t>& split_bin, Leaf& parent, std::vector<double>& importance) {
    const SplitCandidate& split = parent.best;
    const auto node = static_cast<std::size_t>(parent.node);
    tree.feature[node] = split.feature;
    tree.default_left[node] = split.default_left;
    tree.cover[node] = static_cast<double>(parent.rows());
    split_bin[node] = split.bin;
    if (split.categorical) {
      tree.category_set[node] = static_cast<std::int32_t>(tree.category_bins.size());
      tree.category_bins.push_back(split.left_bins);
      tree.threshold[node] = 0;
    } else {
      tree.threshold[node] = binning_.upper_bounds(split.feature)[static_cast<std::size_t>(split.bin - 1)];
    }
    importance[static_cast<std::size_t>(split.feature)] += split.gain;

    const std::int64_t write = Partition(split, parent.begin, parent.end);

    const std::int32_t left_node = AddNode(tree, split_bin);
    const std::int32_t right_node = AddNode(tree, split_bin);
    tree.left[node] = left_node;
    tree.right[node] = right_node;
    Leaf left{left_node, parent.begin, write, parent.depth + 1, split.left, {}, {}};
    Leaf right{right_node, write, parent.end, parent.depth + 1, parent.sum.Minus(split.left), {}, {}};
    // Scan the smaller child; the larger one's histogram is the parent's minus the smaller's.
    Leaf& small = (left.end - left.begin) <= (right.end - right.begin) ? left : right;
    Leaf& large = &small == &left ? right : left;
    small.hist = AcquireHistogram();
    BuildHistogram(small);
    large.hist = std::move(parent.hist);
    for (std::size_t b = 0; b < large.hist.size(); ++b) large.hist[b] = large.hist[b].Minus(small.hist[b]);
    FindBestSplits({&left, &right});
    return {std::move(left), std::move(right)};
  }

  const BinnedMatrix& binned_;
  const FeatureBinning& binning_;
  const GradientBoostingConfig& config_;
  const int num_threads_;
  std::vector<std::int32_t> offsets_;
  std::vector<std::uint8_t> columns_;  // feature-major codes
  bool sparse_ = false;
  std::vector<std::int32_t> most_frequent_bin_;  // per feature
  std::vector<std::int64_t> row_starts_;         // sparse layout: row i's slots are [row_starts_[i], row_starts_[i + 1])
  std::vector<std::uint16_t> slots_;             // histogram index (feature offset + bin)
  std::vector<HistBin> partials_;
  std::vector<std::int64_t> scratch_;
  std::vector<std::int64_t> left_counts_, left_starts_;
  std::vector<SplitCandidate> candidates_;
  std::vector<std::vector<HistBin>> pool_;  // histogram buffers of finished trees, reused
  std::vector<std::int64_t>* rows_ = nullptr;
  const GradHess* gradients_ = nullptr;
  const std::vector<std::int32_t>* features_ = nullptr;
  bool all_features_ = true;
};

double TreeOutput(const Tree& tree, const double* row, const FeatureBinning& binning) {
  std::size_t node = 0;
  while (tree.left[node] >= 0) {
    node = static_cast<std::size_t>(GoesLeftRaw(tree, node, row[tree.feature[node]], binning) ? tree.left[node] : tree.right[node]);
  }
  return tree.value[node];
}

}  // namespace

absl::Status GradientBoostingConfig::Validate() const {
  if (objective == Objective::kTweedie && !(power > 1 && power < 2)) {
    return absl::InvalidArgumentError("power must be in (1, 2)");
  }
  if (n_estimators < 1) return absl::InvalidArgumentError("n_estimators must be >= 1");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) return absl::InvalidArgumentError("learning_rate must be positive");
  if (num_leaves < 2) return absl::InvalidArgumentError("num_leaves must be >= 2");
  if (max_depth < 0) return absl::InvalidArgumentError("max_depth must be >= 0 (0: unlimited)");
  if (min_samples_leaf < 1) return absl::InvalidArgumentError("min_samples_leaf must be >= 1");
  if (!(min_hessian_leaf >= 0) || !(l2_regularization >= 0) || !(min_split_gain >= 0) || !(categorical_smoothing >= 0)) {
    return absl::InvalidArgumentError("min_hessian_leaf, l2_regularization, min_split_gain and categorical_smoothing must be >= 0");
  }
  if (!(subsample > 0 && subsample <= 1) || !(colsample > 0 && colsample <= 1)) {
    return absl::InvalidArgumentError("subsample and colsample must be in (0, 1]");
  }
  if (early_stopping && n_iter_no_change < 1) return absl::InvalidArgumentError("n_iter_no_change must be >= 1");
  if (n_iter_no_change < 0) return absl::InvalidArgumentError("n_iter_no_change must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<GradientBoosting> GradientBoosting::Fit(const Eigen::Ref<const RowMatrix>& X, absl::Span<const double> y,
                                                       absl::Span<const double> sample_weight,
                                                       const Eigen::Ref<const RowMatrix>& X_validation,
                                                       absl::Span<const double> y_validation,
                                                       const GradientBoostingConfig& config, const ExecutionOptions& options) {
  COMPTOIR_RETURN_IF_ERROR(options.Validate());
  // One arena for the whole fit: the many small parallel loops of tree growing run inside it.
  return internal::RunInArena(options.num_threads, [&]() -> absl::StatusOr<GradientBoosting> {
    COMPTOIR_RETURN_IF_ERROR(config.Validate());
    COMPTOIR_RETURN_IF_ERROR(options.Validate());
    const std::int64_t n = X.rows();
    const auto p = static_cast<std::int32_t>(X.cols());
    if (n == 0 || p == 0) return absl::InvalidArgumentError("cannot fit on an empty matrix");
    if (static_cast<std::int64_t>(y.size()) != n) return absl::InvalidArgumentError(absl::StrCat(n, " rows but ", y.size(), " targets"));
    if (!sample_weight.empty() && static_cast<std::int64_t>(sample_weight.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(n, " rows but ", sample_weight.size(), " sample weights"));
    }
    const bool validating = X_validation.rows() > 0;
    if (validating && X_validation.cols() != p) {
      return absl::InvalidArgumentError(absl::StrCat("the validation set has ", X_validation.cols(), " features, the training set ", p));
    }
    if (static_cast<std::int64_t>(y_validation.size()) != X_validation.rows()) {
      return absl::InvalidArgumentError(absl::StrCat(X_validation.rows(), " validation rows but ", y_validation.size(), " targets"));
    }
    if (config.early_stopping && !validating) {
      return absl::InvalidArgumentError("early stopping needs a validation set");
    }
    const Loss loss{config.objective, config.power};
    COMPTOIR_RETURN_IF_ERROR(loss.CheckTargets(y, "target"));
    COMPTOIR_RETURN_IF_ERROR(loss.CheckTargets(y_validation, "validation target"));
    double weight_total = 0, target_total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double w = sample_weight.empty() ? 1.0 : sample_weight[static_cast<std::size_t>(i)];
      if (!(w >= 0) || !std::isfinite(w)) return absl::InvalidArgumentError(absl::StrCat("sample weight ", i, " is ", w));
      weight_total += w;
      target_total += w * y[static_cast<std::size_t>(i)];
    }
    if (!(weight_total > 0)) return absl::InvalidArgumentError("the sample weights sum to zero");
    const double mean = target_total / weight_total;
    if (config.objective == Objective::kBinaryLogLoss && (mean <= 0 || mean >= 1)) {
      return absl::InvalidArgumentError("the labels hold a single class: there is nothing to learn");
    }
    if ((config.objective == Objective::kPoisson || config.objective == Objective::kTweedie) && mean <= 0) {
      return absl::InvalidArgumentError("every target is zero: a log-link model has nothing to learn");
    }

    GradientBoosting model;
    model.config_ = config;
    model.seed_ = options.seed;
    COMPTOIR_ASSIGN_OR_RETURN(model.binning_, FeatureBinning::Fit(X, config.binning, options));
    COMPTOIR_ASSIGN_OR_RETURN(const BinnedMatrix binned, model.binning_.Transform(X, options));
    model.base_score_ = loss.BaseScore(mean);
    model.feature_importance_.assign(static_cast<std::size_t>(p), 0.0);

    const auto un = static_cast<std::size_t>(n);
    std::vector<double> score(un, model.base_score_);
    std::vector<GradHess> gradients(un);
    std::vector<double> validation_score(static_cast<std::size_t>(X_validation.rows()), model.base_score_);
    std::vector<std::int64_t> rows;
    rows.reserve(un);
    std::vector<std::int32_t> features, split_bin;
    std::vector<std::pair<std::int32_t, std::pair<std::int64_t, std::int64_t>>> leaf_segments;
    TreeBuilder builder(binned, model.binning_, config, options.num_threads);
    ProgressReporter progress(options.progress, config.n_estimators, "gradient boosting");
    const auto weight_of = [&](std::int64_t i) { return sample_weight.empty() ? 1.0 : sample_weight[static_cast<std::size_t>(i)]; };
    const auto validation_loss = [&] {
      return internal::DeterministicReduce(
                 options.num_threads, X_validation.rows(), kRowChunk, 0.0,
                 [&](std::int64_t begin, std::int64_t end) {
                   double total = 0;
                   for (std::int64_t i = begin; i < end; ++i) {
                     total += loss.Value(y_validation[static_cast<std::size_t>(i)], validation_score[static_cast<std::size_t>(i)]);
                   }
                   return total;
                 },
                 [](double& a, double b) { a += b; }) /
             static_cast<double>(X_validation.rows());
    };

    double best_validation = kInf;
    std::int32_t best_trees = 0;
    for (std::int32_t t = 0; t < config.n_estimators; ++t) {
      COMPTOIR_RETURN_IF_ERROR(progress.status());
      (void)internal::ParallelForChunks(options.num_threads, n, kRowChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
          const auto k = static_cast<std::size_t>(i);
          GradHess& gh = gradients[k];
          loss.GradientHessian(y[k], score[k], &gh.g, &gh.h);
          const double w = weight_of(i);
          gh.g *= w, gh.h *= w;
        }
      });
      internal::CounterRng rng(options.seed, static_cast<std::uint64_t>(t));
      rows.clear();
      if (config.subsample >= 1) {
        rows.resize(un);
        std::iota(rows.begin(), rows.end(), 0);
      } else {
        for (std::int64_t i = 0; i < n; ++i) {
          if (static_cast<double>(rng.At(static_cast<std::uint64_t>(i)) >> 11) * 0x1.0p-53 < config.subsample) rows.push_back(i);
        }
      }
      features.resize(static_cast<std::size_t>(p));
      std::iota(features.begin(), features.end(), 0);
      if (config.colsample < 1) {
        const auto keep = static_cast<std::size_t>(std::max(1.0, std::round(config.colsample * p)));
        internal::CounterRng pick(options.seed ^ 0x66656174ULL, static_cast<std::uint64_t>(t));
        for (std::size_t k = 0; k < keep; ++k) std::swap(features[k], features[k + pick.UniformInt(features.size() - k)]);
        features.resize(keep);
        std::sort(features.begin(), features.end());
      }
      if (rows.empty()) continue;
      Tree tree = builder.Build(rows, gradients, features, model.feature_importance_, split_bin, leaf_segments);

      if (config.subsample >= 1) {
        // Every leaf's rows get its value; leaves hold disjoint rows, so they are updated in parallel.
        (void)internal::ParallelForChunks(options.num_threads, static_cast<std::int64_t>(leaf_segments.size()), 1, [&](std::int64_t leaf, std::int64_t, std::int64_t) {
          const auto& [node, segment] = leaf_segments[static_cast<std::size_t>(leaf)];
          const double value = tree.value[static_cast<std::size_t>(node)];
          for (std::int64_t k = segment.first; k < segment.second; ++k) score[static_cast<std::size_t>(rows[static_cast<std::size_t>(k)])] += value;
        });
      } else {
        // Rows left out of the sample are routed through the tree on their bins.
        (void)internal::ParallelForChunks(options.num_threads, n, kRowChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) {
            const std::uint8_t* code = binned.row(i);
            std::size_t node = 0;
            while (tree.left[node] >= 0) {
              const std::uint8_t c = code[tree.feature[node]];
              const std::int32_t set = tree.category_set[node];
              const bool left = set >= 0 ? Contains(tree.category_bins[static_cast<std::size_t>(set)], c)
                                : c == kMissingBin ? tree.default_left[node] != 0
                                                   : c <= split_bin[node];
              node = static_cast<std::size_t>(left ? tree.left[node] : tree.right[node]);
            }
            score[static_cast<std::size_t>(i)] += tree.value[node];
          }
        });
      }
      if (validating) {
        (void)internal::ParallelForChunks(options.num_threads, X_validation.rows(), kRowChunk, [&](std::int64_t, std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i) validation_score[static_cast<std::size_t>(i)] += TreeOutput(tree, X_validation.row(i).data(), model.binning_);
        });
        model.validation_loss_.push_back(validation_loss());
      }
      model.trees_.push_back(std::move(tree));
      progress.Advance(1);
      if (validating) {
        if (model.validation_loss_.back() < best_validation) {
          best_validation = model.validation_loss_.back();
          best_trees = model.num_trees();
        } else if (config.early_stopping && model.num_trees() - best_trees >= config.n_iter_no_change) {
          break;
        }
      }
    }
    COMPTOIR_RETURN_IF_ERROR(progress.status());
    if (config.early_stopping) model.trees_.resize(static_cast<std::size_t>(best_trees));
    model.BuildScoringLayout();
    progress.Finish();
    return model;
  });
}

absl::Status GradientBoosting::set_feature_names(std::vector<std::string> names) {
  if (static_cast<std::int32_t>(names.size()) != num_features()) {
    return absl::InvalidArgumentError(absl::StrCat(names.size(), " feature names for ", num_features(), " features"));
  }
  schema_.feature_names = std::move(names);
  return absl::OkStatus();
}

absl::Status GradientBoosting::set_schema(FeatureSchema schema) {
  COMPTOIR_RETURN_IF_ERROR(schema.Validate(num_features()));
  schema_ = std::move(schema);
  return absl::OkStatus();
}

absl::Status GradientBoosting::set_training_profile(features::FeatureProfile profile) {
  if (profile.num_features() != num_features()) {
    return absl::InvalidArgumentError(absl::StrCat("a training profile of ", profile.num_features(), " features for ", num_features()));
  }
  training_profile_ = std::move(profile);
  return absl::OkStatus();
}

}  // namespace comptoir::trees
