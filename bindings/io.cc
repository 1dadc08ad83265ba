// Model-file container: inspection from Python (models themselves bind save/load per area).
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <map>

#include <optional>
#include <string>
#include <vector>

#include "comptoir/io/model_file.h"
#include "comptoir/model.h"
#include "arrays.h"
#include "ids.h"
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
  io.def(
      "with_blobs",
      [](const py::bytes& data, const std::map<std::string, py::bytes>& blobs) {
        io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        for (const auto& [name, bytes] : blobs) file.SetBlob(name, std::string(bytes));
        return py::bytes(ValueOrThrow(io::SerializeModelFile(file)));
      },
      py::arg("data"), py::arg("blobs"), "The model bytes with `blobs` added or replaced.");
  io.def(
      "blob",
      [](const py::bytes& data, const std::string& name) -> py::object {
        const io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        absl::StatusOr<std::string_view> blob = file.Blob(name);
        if (!blob.ok()) return py::none();
        return py::bytes(blob->data(), blob->size());
      },
      py::arg("data"), py::arg("name"), "One blob's bytes, or None when the file has no such blob.");
  io.def(
      "attach_ids",
      [](const py::bytes& data, const py::object& items, const py::object& users, const std::string& user_id_key) {
        io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        for (const char* name : {"item_ids", "user_ids", "user_id_hashes"}) file.RemoveBlob(name);
        const ModelIds ids(items.is_none() ? data::IdMap() : IdMapOf(items, "item"),
                           users.is_none() ? data::IdMap() : IdMapOf(users, "user"));
        ThrowIfError(ids.AppendTo(file, user_id_key));
        return py::bytes(ValueOrThrow(io::SerializeModelFile(file)));
      },
      py::arg("data"), py::arg("items"), py::arg("users"), py::arg("user_id_key") = "",
      "The model bytes carrying the shop's item and user ids (users hashed under `user_id_key` when given).");
  io.def(
      "read_ids",
      [](const py::bytes& data, const std::string& user_id_key) {
        const io::ModelFile file = ValueOrThrow(io::ParseModelFile(std::string_view(data)));
        const ModelIds ids = ValueOrThrow(ModelIds::ReadFrom(file, user_id_key));
        py::dict out;
        out["items"] = IdsToPython(ids.items());
        out["users"] = IdsToPython(ids.users());
        out["users_pseudonymised"] = ids.users_pseudonymised();
        return out;
      },
      py::arg("data"), py::arg("user_id_key") = "",
      "The shop's ids a model file carries: items and users (None when absent; users None when pseudonymised).");
  io.def("model_kinds", &ModelKinds, "The model kinds comptoir::LoadModel knows.");
}

}  // namespace comptoir::python
