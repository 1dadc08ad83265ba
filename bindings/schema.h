// The `schema` property of tabular models: comptoir::FeatureSchema as a plain dict,
//   {"feature_names": [str], "categorical": [(column, type, [level text])],
//    "class_labels": (type, [text]), "arm_names": (type, [text])}
// with type one of "", "int64", "float64", "string", "bool" (values as schema.h writes them).
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "comptoir/schema.h"
#include "arrays.h"
#include "status_translation.h"

namespace comptoir::python {

inline const char* TypeName(TypedValues::Type type) {
  switch (type) {
    case TypedValues::Type::kInt64: return "int64";
    case TypedValues::Type::kFloat64: return "float64";
    case TypedValues::Type::kString: return "string";
    case TypedValues::Type::kBool: return "bool";
    case TypedValues::Type::kUnspecified: break;
  }
  return "";
}

inline TypedValues::Type TypeOf(const std::string& name) {
  if (name == "int64") return TypedValues::Type::kInt64;
  if (name == "float64") return TypedValues::Type::kFloat64;
  if (name == "string") return TypedValues::Type::kString;
  if (name == "bool") return TypedValues::Type::kBool;
  if (name.empty()) return TypedValues::Type::kUnspecified;
  throw py::value_error("a schema type is 'int64', 'float64', 'string', 'bool' or '', got '" + name + "'");
}

using TypedTuple = std::tuple<std::string, std::vector<std::string>>;

inline TypedTuple ToTuple(const TypedValues& values) { return {TypeName(values.type), values.values}; }
inline TypedValues FromTuple(const TypedTuple& tuple) { return {TypeOf(std::get<0>(tuple)), std::get<1>(tuple)}; }

inline py::dict SchemaToDict(const FeatureSchema& schema) {
  py::dict out;
  out["feature_names"] = schema.feature_names;
  py::list categorical;
  for (const CategoricalFeature& c : schema.categorical) {
    categorical.append(py::make_tuple(c.feature, TypeName(c.levels.type), c.levels.values));
  }
  out["categorical"] = categorical;
  out["class_labels"] = ToTuple(schema.class_labels);
  out["arm_names"] = ToTuple(schema.arm_names);
  return out;
}

inline FeatureSchema SchemaFromDict(const py::dict& in) {
  FeatureSchema schema;
  if (in.contains("feature_names")) schema.feature_names = in["feature_names"].cast<std::vector<std::string>>();
  if (in.contains("categorical")) {
    for (const auto& [feature, type, levels] :
         in["categorical"].cast<std::vector<std::tuple<std::int32_t, std::string, std::vector<std::string>>>>()) {
      schema.categorical.push_back({feature, {TypeOf(type), levels}});
    }
  }
  if (in.contains("class_labels")) schema.class_labels = FromTuple(in["class_labels"].cast<TypedTuple>());
  if (in.contains("arm_names")) schema.arm_names = FromTuple(in["arm_names"].cast<TypedTuple>());
  return schema;
}

template <typename Model, typename Class>
void DefSchema(Class& cls) {
  cls.def_property(
      "schema", [](const Model& self) { return SchemaToDict(self.schema()); },
      [](Model& self, const py::dict& schema) { ThrowIfError(self.set_schema(SchemaFromDict(schema))); });
}

// What every Scorer binds the same way: its scores and their reasons.
template <typename Model, typename Class>
void DefScorer(Class& cls) {
  cls.def("score", [](const Model& self, const Array<double>& X, int num_threads) {
       const auto matrix = MatrixOf(X);
       return ToNumpy(RunReleasingGil([&](ProgressCallback) { return self.Score(matrix, ThreadOptions(num_threads)); }));
     }, py::arg("X"), py::arg("num_threads") = 0)
      .def("contributions", [](const Model& self, const Array<double>& X, int num_threads) {
        const auto matrix = MatrixOf(X);
        return RunReleasingGil([&](ProgressCallback) { return self.Contributions(matrix, ThreadOptions(num_threads)); });
      }, py::arg("X"), py::arg("num_threads") = 0);
}

}  // namespace comptoir::python
