// comptoir._core: one Register* function per area, each in its own file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace comptoir::python {
void RegisterCore(py::module_& m);
void RegisterIo(py::module_& m);
void RegisterModel(py::module_& m);
void RegisterEmbed(py::module_& m);
void RegisterFeatures(py::module_& m);
void RegisterRecommend(py::module_& m);
void RegisterNeural(py::module_& m);
void RegisterSimulate(py::module_& m);
void RegisterPromo(py::module_& m);
void RegisterData(py::module_& m);
void RegisterPropensity(py::module_& m);
void RegisterTrees(py::module_& m);
void RegisterUplift(py::module_& m);
}  // namespace comptoir::python

PYBIND11_MODULE(_core, m) {
  m.doc() = "comptoir's C++ core; use the `comptoir` package rather than this module.";
  comptoir::python::RegisterCore(m);
  comptoir::python::RegisterIo(m);
  comptoir::python::RegisterModel(m);
  comptoir::python::RegisterEmbed(m);
  comptoir::python::RegisterFeatures(m);
  comptoir::python::RegisterRecommend(m);
  comptoir::python::RegisterNeural(m);  // extends the recommend submodule
  comptoir::python::RegisterSimulate(m);
  comptoir::python::RegisterPromo(m);
  comptoir::python::RegisterData(m);
  comptoir::python::RegisterPropensity(m);
  comptoir::python::RegisterTrees(m);
  comptoir::python::RegisterUplift(m);
}
