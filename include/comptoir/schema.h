// What a tabular model expects of its input and what its outputs mean, saved inside its model file:
// feature names, the levels of each categorical feature, class labels, and the names of an uplift
// model's arms. A backend uses it to turn rows keyed by column name (numbers, category levels as
// text) into the matrix the model scores.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <Eigen/Core>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "comptoir/io/model_file.h"

namespace comptoir {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Labels (category levels, class labels, arm names) with the type the shop gave them, each kept as
// text: decimal integers, shortest round-trip floats, "true"/"false", or the string itself.
struct TypedValues {
  enum class Type : std::int32_t { kUnspecified = 0, kInt64 = 1, kFloat64 = 2, kString = 3, kBool = 4 };
  Type type = Type::kUnspecified;
  std::vector<std::string> values;

  bool empty() const { return values.empty(); }
  std::int32_t size() const { return static_cast<std::int32_t>(values.size()); }
  // Position of `text`, or -1. Numeric types also match equal numbers written differently
  // ("3" and "3.0" for an integer level, "0.50" for 0.5).
  std::int32_t IndexOf(std::string_view text) const;
  // InvalidArgument if a value does not parse as the type or appears twice.
  absl::Status Validate(std::string_view what) const;
};

struct CategoricalFeature {
  std::int32_t feature = 0;  // column index
  TypedValues levels;        // level i is code i in the model's matrix (NaN = missing)
};

struct FeatureSchema {
  std::vector<std::string> feature_names;       // one per column (may be empty for old files)
  std::vector<CategoricalFeature> categorical;  // sorted by column
  TypedValues class_labels;                     // classifiers: negative, then positive
  TypedValues arm_names;                        // uplift models: control, then each offer

  // The levels of a categorical column, or nullptr for a numeric one.
  const TypedValues* LevelsOf(std::int32_t feature) const;
  // Column index of `name`, or -1.
  std::int32_t IndexOf(std::string_view name) const;
  // Names unique and one per feature, categorical columns in range and sorted, labels well formed.
  absl::Status Validate(std::int32_t num_features) const;

  std::string Serialize() const;
  static absl::StatusOr<FeatureSchema> Parse(std::string_view bytes);

  // The "schema" blob. Reading a file without one (written before schemas were kept) gives names
  // x0..x{n-1} and nothing else; a schema that does not match `num_features` is a ModelFormatError.
  absl::Status AppendTo(io::ModelFile& file) const;
  static absl::StatusOr<FeatureSchema> ReadFrom(const io::ModelFile& file, std::int32_t num_features);
};

inline constexpr const char* kSchemaBlob = "schema";

// One input cell as a host has it: missing, a number, or text (a category level).
using FeatureValue = std::variant<std::monostate, double, std::string>;

struct EncodedRows {
  RowMatrix matrix;                // rows x features, in the model's column order
  std::vector<std::string> unseen;  // "column=level" for levels the model never saw (scored as missing)
};

// Rows given as values for `columns` (any order; columns the model does not use are ignored) into
// the model's matrix. Every model column must be given (InvalidArgument naming those that are
// not); numeric columns take numbers (or numeric text), categorical columns their level (text or
// a number equal to an integer or float level). A level not seen in training becomes missing and
// is reported in `unseen`, as pandas-category input is treated in Python.
absl::StatusOr<EncodedRows> EncodeRows(const FeatureSchema& schema, absl::Span<const std::string> columns,
                                       absl::Span<const std::vector<FeatureValue>> rows);

}  // namespace comptoir
