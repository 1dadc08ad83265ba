#include "comptoir/schema.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "comptoir/status.h"
#include "comptoir/v1/schema.pb.h"
#include "internal/strings.h"

namespace comptoir {
namespace {

// A schema is small; past these sizes a crafted file is trying to exhaust memory.
constexpr std::int32_t kMaxLevels = 1 << 24;

bool ParseNumber(std::string_view text, TypedValues::Type type, double& out) {
  if (type == TypedValues::Type::kInt64) {
    std::int64_t v;
    if (absl::SimpleAtoi(internal::Sv(text), &v)) {
      out = static_cast<double>(v);
      return true;
    }
    // "3.0" names the integer level 3, as a float column of whole numbers would.
    return absl::SimpleAtod(internal::Sv(text), &out) && std::isfinite(out) && out == std::round(out);
  }
  return absl::SimpleAtod(internal::Sv(text), &out);
}

bool ValidText(std::string_view text, TypedValues::Type type) {
  switch (type) {
    case TypedValues::Type::kInt64: {
      std::int64_t v;
      return absl::SimpleAtoi(internal::Sv(text), &v);
    }
    case TypedValues::Type::kFloat64: {
      double v;
      return absl::SimpleAtod(internal::Sv(text), &v);
    }
    case TypedValues::Type::kBool: return text == "true" || text == "false";
    case TypedValues::Type::kString: return true;
    case TypedValues::Type::kUnspecified: return false;
  }
  return false;
}

void ToProto(const TypedValues& values, v1::TypedValues* out) {
  out->set_type(static_cast<v1::TypedValues::Type>(values.type));
  for (const std::string& v : values.values) out->add_values(v);
}

absl::StatusOr<TypedValues> FromProto(const v1::TypedValues& in) {
  if (in.values_size() > kMaxLevels) {
    return MarkModelFormatError(absl::DataLossError(absl::StrCat("schema lists ", in.values_size(), " labels")));
  }
  if (!v1::TypedValues::Type_IsValid(in.type()) || in.type() > v1::TypedValues::TYPE_BOOL) {
    return MarkModelFormatError(absl::DataLossError(absl::StrCat("schema has an unknown label type ", in.type())));
  }
  TypedValues out;
  out.type = static_cast<TypedValues::Type>(in.type());
  out.values.assign(in.values().begin(), in.values().end());
  return out;
}

}  // namespace

std::int32_t TypedValues::IndexOf(std::string_view text) const {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] == text) return static_cast<std::int32_t>(i);
  }
  if (type != Type::kInt64 && type != Type::kFloat64) return -1;
  double wanted;
  if (!ParseNumber(text, Type::kFloat64, wanted)) return -1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    double level;
    if (ParseNumber(values[i], type, level) && level == wanted) return static_cast<std::int32_t>(i);
  }
  return -1;
}

absl::Status TypedValues::Validate(std::string_view what) const {
  if (values.empty()) return absl::OkStatus();
  if (type == Type::kUnspecified) {
    return absl::InvalidArgumentError(absl::StrCat(internal::Sv(what), " have no type"));
  }
  absl::flat_hash_set<std::string_view> seen;
  for (const std::string& v : values) {
    if (!ValidText(v, type)) {
      return absl::InvalidArgumentError(absl::StrCat(internal::Sv(what), ": '", v, "' is not a value of their type"));
    }
    if (!seen.insert(v).second) {
      return absl::InvalidArgumentError(absl::StrCat(internal::Sv(what), ": '", v, "' appears twice"));
    }
  }
  return absl::OkStatus();
}

const TypedValues* FeatureSchema::LevelsOf(std::int32_t feature) const {
  for (const CategoricalFeature& c : categorical) {
    if (c.feature == feature) return &c.levels;
  }
  return nullptr;
}

std::int32_t FeatureSchema::IndexOf(std::string_view name) const {
  for (std::size_t j = 0; j < feature_names.size(); ++j) {
    if (feature_names[j] == name) return static_cast<std::int32_t>(j);
  }
  return -1;
}

absl::Status FeatureSchema::Validate(std::int32_t num_features) const {
  if (!feature_names.empty() && static_cast<std::int64_t>(feature_names.size()) != num_features) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema names ", feature_names.size(), " features, the model has ", num_features));
  }
  bool text = internal::AllUtf8(feature_names) && internal::AllUtf8(class_labels.values) && internal::AllUtf8(arm_names.values);
  for (const CategoricalFeature& feature : categorical) text = text && internal::AllUtf8(feature.levels.values);
  if (!text) return absl::InvalidArgumentError("schema names or levels are not UTF-8 text");
  absl::flat_hash_set<std::string_view> names;
  for (const std::string& name : feature_names) {
    if (!names.insert(name).second) return absl::InvalidArgumentError(absl::StrCat("feature name '", name, "' appears twice"));
  }
  for (std::size_t c = 0; c < categorical.size(); ++c) {
    const CategoricalFeature& feature = categorical[c];
    if (feature.feature < 0 || feature.feature >= num_features) {
      return absl::InvalidArgumentError(
          absl::StrCat("categorical feature ", feature.feature, " is outside [0, ", num_features, ")"));
    }
    if (c > 0 && feature.feature <= categorical[c - 1].feature) {
      return absl::InvalidArgumentError("categorical features must be listed once each, by column");
    }
    COMPTOIR_RETURN_IF_ERROR(feature.levels.Validate(absl::StrCat("levels of feature ", feature.feature)));
  }
  COMPTOIR_RETURN_IF_ERROR(class_labels.Validate("class labels"));
  if (!class_labels.empty() && class_labels.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("a binary classifier has 2 class labels, got ", class_labels.size()));
  }
  return arm_names.Validate("arm names");
}

std::string FeatureSchema::Serialize() const {
  v1::FeatureSchema proto;
  for (const std::string& name : feature_names) proto.add_feature_names(name);
  for (const CategoricalFeature& c : categorical) {
    v1::CategoricalFeature* out = proto.add_categorical();
    out->set_feature(c.feature);
    ToProto(c.levels, out->mutable_levels());
  }
  if (!class_labels.empty()) ToProto(class_labels, proto.mutable_class_labels());
  if (!arm_names.empty()) ToProto(arm_names, proto.mutable_arm_names());
  return proto.SerializeAsString();
}

absl::StatusOr<FeatureSchema> FeatureSchema::Parse(std::string_view bytes) {
  v1::FeatureSchema proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MarkModelFormatError(absl::DataLossError("model schema is corrupted"));
  }
  FeatureSchema schema;
  schema.feature_names.assign(proto.feature_names().begin(), proto.feature_names().end());
  for (const v1::CategoricalFeature& c : proto.categorical()) {
    COMPTOIR_ASSIGN_OR_RETURN(TypedValues levels, FromProto(c.levels()));
    schema.categorical.push_back({c.feature(), std::move(levels)});
  }
  COMPTOIR_ASSIGN_OR_RETURN(schema.class_labels, FromProto(proto.class_labels()));
  COMPTOIR_ASSIGN_OR_RETURN(schema.arm_names, FromProto(proto.arm_names()));
  return schema;
}

absl::Status FeatureSchema::AppendTo(io::ModelFile& file) const { return file.AddBlob(kSchemaBlob, Serialize()); }

absl::StatusOr<FeatureSchema> FeatureSchema::ReadFrom(const io::ModelFile& file, std::int32_t num_features) {
  FeatureSchema schema;
  if (file.HasBlob(kSchemaBlob)) {
    COMPTOIR_ASSIGN_OR_RETURN(const std::string_view bytes, file.Blob(kSchemaBlob));
    COMPTOIR_ASSIGN_OR_RETURN(schema, Parse(bytes));
  }
  const absl::Status valid = schema.Validate(num_features);
  if (!valid.ok()) {
    return MarkModelFormatError(absl::DataLossError(absl::StrCat("model schema is invalid: ", valid.message())));
  }
  return schema;
}

absl::StatusOr<EncodedRows> EncodeRows(const FeatureSchema& schema, absl::Span<const std::string> columns,
                                       absl::Span<const std::vector<FeatureValue>> rows) {
  if (schema.feature_names.empty()) {
    return absl::FailedPreconditionError("the model has no feature names: pass its matrix in column order");
  }
  absl::flat_hash_map<std::string_view, std::size_t> position;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (!position.emplace(columns[c], c).second) {
      return absl::InvalidArgumentError(absl::StrCat("column '", columns[c], "' is given twice"));
    }
  }
  const auto num_features = static_cast<std::int32_t>(schema.feature_names.size());
  std::vector<std::size_t> source(static_cast<std::size_t>(num_features));
  std::vector<std::string> missing;
  for (std::int32_t j = 0; j < num_features; ++j) {
    auto it = position.find(schema.feature_names[static_cast<std::size_t>(j)]);
    if (it == position.end()) {
      missing.push_back(schema.feature_names[static_cast<std::size_t>(j)]);
    } else {
      source[static_cast<std::size_t>(j)] = it->second;
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the model needs columns that were not given: ",
                                                   absl::StrJoin(missing, ", ")));
  }
  std::vector<const TypedValues*> levels(static_cast<std::size_t>(num_features));
  for (std::int32_t j = 0; j < num_features; ++j) levels[static_cast<std::size_t>(j)] = schema.LevelsOf(j);

  EncodedRows out;
  out.matrix.resize(static_cast<Eigen::Index>(rows.size()), num_features);
  absl::flat_hash_set<std::string> unseen;
  constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::vector<FeatureValue>& row = rows[r];
    if (row.size() != columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat("row ", r, " has ", row.size(), " values for ", columns.size(), " columns"));
    }
    for (std::int32_t j = 0; j < num_features; ++j) {
      const FeatureValue& cell = row[source[static_cast<std::size_t>(j)]];
      const std::string& name = schema.feature_names[static_cast<std::size_t>(j)];
      double value = kMissing;
      if (const TypedValues* known = levels[static_cast<std::size_t>(j)]; known != nullptr) {
        std::string text;
        if (const auto* s = std::get_if<std::string>(&cell)) text = *s;
        if (const auto* d = std::get_if<double>(&cell)) {
          if (!std::isnan(*d)) text = absl::StrFormat("%.17g", *d);
        }
        if (!text.empty()) {
          const std::int32_t code = known->IndexOf(text);
          if (code >= 0) {
            value = code;
          } else {
            unseen.insert(absl::StrCat(name, "=", text));
          }
        }
      } else if (const auto* d = std::get_if<double>(&cell)) {
        value = *d;
      } else if (const auto* s = std::get_if<std::string>(&cell)) {
        if (!absl::SimpleAtod(*s, &value)) {
          return absl::InvalidArgumentError(
              absl::StrCat("row ", r, ": column '", name, "' is numeric, got '", *s, "'"));
        }
      }
      out.matrix(static_cast<Eigen::Index>(r), j) = value;
    }
  }
  out.unseen.assign(unseen.begin(), unseen.end());
  std::sort(out.unseen.begin(), out.unseen.end());
  return out;
}

}  // namespace comptoir
