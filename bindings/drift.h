// The `training_profile` property every tabular model shares (comptoir::features::FeatureProfile).
#pragma once

#include <pybind11/pybind11.h>

#include "comptoir/features/drift.h"
#include "status_translation.h"

namespace comptoir::python {

// None when the model has no profile (a file saved before profiles were recorded).
template <typename Model, typename Class>
void DefTrainingProfile(Class& cls) {
  cls.def_property(
      "training_profile",
      [](const Model& self) -> py::object {
        return self.training_profile().empty() ? py::none() : py::cast(self.training_profile());
      },
      [](Model& self, const features::FeatureProfile& profile) { ThrowIfError(self.set_training_profile(profile)); });
}

}  // namespace comptoir::python
