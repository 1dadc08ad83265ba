// Model-file container: inspection from Python (models themselves bind save/load per area).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "comptoir/io/model_file.h"
#include "status_translation.h"

namespace comptoir::python {
namespace {

py::dict Describe(const io::ModelFile& model) {
  py::dict info;
  info["model_kind"] = model.model_kind();
  info["format_version"] = model.format_version();
  info["library_version"] = model.library_version();
  py::dict blobs;
  for (const io::ModelBlob& blob : model.blobs()) blobs[py::str(blob.name)] = blob.bytes.size();
  info["blobs"] = blobs;
  return info;
}

}  // namespace

void RegisterIo(py::module_& m) {
  py::module_ io = m.def_submodule("io", "comptoir model files");
  io.attr("MODEL_FORMAT_VERSION") = io::kModelFormatVersion;
  io.def(
      "inspect_model_file",
      [](const std::string& path) {
        absl::StatusOr<io::ModelFile> read;
        {
          py::gil_scoped_release release;
          read = io::ReadModelFile(path);
        }
        return Describe(ValueOrThrow(std::move(read)));
      },
      py::arg("path"),
      "Check a model file (checksums, format version) and describe it: kind, versions, blob sizes.");
  io.def(
      "inspect_model_bytes",
      [](const py::bytes& data) {
        std::string_view view = data;
        return Describe(ValueOrThrow(io::ParseModelFile(view)));
      },
      py::arg("data"));
  io.def(
      "write_model_bytes",
      [](const std::string& path, const py::bytes& data) {
        std::string_view bytes = data;
        absl::Status status;
        {
          py::gil_scoped_release release;
          status = io::WriteModelBytes(path, bytes);
        }
        ThrowIfError(status);
      },
      py::arg("path"), py::arg("data"),
      "Atomically write serialised model bytes (checked first) to `path`.");
  io.def(
      "read_model_bytes",
      [](const std::string& path) {
        absl::StatusOr<std::string> bytes;
        {
          py::gil_scoped_release release;
          bytes = io::ReadModelBytes(path);
        }
        return py::bytes(ValueOrThrow(std::move(bytes)));
      },
      py::arg("path"), "Read and check a model file, returning its bytes.");
}

}  // namespace comptoir::python
