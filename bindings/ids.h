// The shop's ids between Python and C++: id maps from NumPy integer arrays or string sequences,
// and ids looked up as text (how comptoir::ModelIds takes them, so 64-bit ids never wrap).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "arrays.h"
#include "comptoir/data/event_log.h"
#include "status_translation.h"

namespace comptoir::python {

// A NumPy integer array or a sequence of strings as an id map; ids must be distinct.
inline data::IdMap IdMapOf(const py::object& ids, const char* what) {
  std::vector<std::int32_t> dense;
  data::IdMap map;
  std::size_t given = 0;
  if (py::isinstance<py::array>(ids) && py::array(ids).dtype().kind() == 'i') {
    const auto values = py::cast<Array<std::int64_t>>(ids);
    given = static_cast<std::size_t>(values.size());
    map = ValueOrThrow(data::IdMap::Assign(SpanOf(values), dense));
  } else {
    const auto values = py::cast<std::vector<std::string>>(ids);
    given = values.size();
    map = ValueOrThrow(data::IdMap::Assign(values, dense));
  }
  if (static_cast<std::size_t>(map.size()) != given) {
    throw py::value_error(std::string(what) + " ids repeat: a model's id map needs each id once");
  }
  return map;
}

// A map's ids: a list of str, an int64 array, or None for an empty map.
inline py::object IdsToPython(const data::IdMap& map) {
  if (map.size() == 0) return py::none();
  if (map.is_string()) {
    py::list out;
    for (std::int32_t d = 0; d < map.size(); ++d) out.append(py::str(map.StringId(d)));
    return std::move(out);
  }
  std::vector<std::int64_t> values(static_cast<std::size_t>(map.size()));
  for (std::int32_t d = 0; d < map.size(); ++d) values[static_cast<std::size_t>(d)] = map.IntId(d);
  return ToNumpy(values);
}

// Shop ids to look up, as text: str items as they are, integers (Python ints, NumPy integer
// arrays or scalars) in decimal. An integer beyond int64 is a ValueError, never a wrapped id.
inline std::vector<std::string> IdTexts(const py::object& ids) {
  std::vector<std::string> out;
  if (ids.is_none()) return out;
  if (py::isinstance<py::array>(ids) && py::array(ids).dtype().kind() == 'i') {
    const auto values = py::cast<Array<std::int64_t>>(ids);
    out.reserve(static_cast<std::size_t>(values.size()));
    for (py::ssize_t i = 0; i < values.size(); ++i) out.push_back(absl::StrCat(values.data()[i]));
    return out;
  }
  for (const py::handle item : ids) {
    if (py::isinstance<py::str>(item)) {
      out.push_back(py::cast<std::string>(item));
    } else if (py::isinstance<py::int_>(item) || py::hasattr(item, "__index__")) {
      int overflow = 0;
      const py::int_ number(py::reinterpret_borrow<py::object>(item));
      const long long value = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
      if (overflow != 0) throw py::value_error("an item id does not fit a 64-bit integer");
      out.push_back(absl::StrCat(value));
    } else {
      throw py::type_error("shop ids must be strings or integers");
    }
  }
  return out;
}

}  // namespace comptoir::python
