// The per-event-kind weights of a config struct (a C array) as a Python list property.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "comptoir/data/events.h"

namespace comptoir::python {

namespace py = pybind11;

// kind_weights (one per event kind) as a list property of a config struct.
template <typename Config, typename Class>
void DefKindWeights(Class& cls) {
  cls.def_property(
      "kind_weights",
      [](const Config& c) { return std::vector<float>(std::begin(c.kind_weights), std::end(c.kind_weights)); },
      [](Config& c, const std::vector<float>& weights) {
        if (weights.size() != static_cast<std::size_t>(data::kNumEventKinds)) {
          throw py::value_error("kind_weights needs one weight per event kind (5)");
        }
        std::copy(weights.begin(), weights.end(), c.kind_weights);
      });
}

}  // namespace comptoir::python
