// The one container every comptoir model is saved in: a checked protobuf header (magic, format
// version, library version, model kind, config) followed by named blobs, each with a CRC-32C.
// Writes go to a temporary file that is renamed into place, so a crash never leaves a
// half-written model. Reading a truncated, corrupted or foreign file returns DataLoss; a file
// from a newer format version returns FailedPrecondition.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace comptoir::io {

// Bumped only when the container layout changes; older versions keep loading.
inline constexpr std::uint32_t kModelFormatVersion = 1;

struct ModelBlob {
  std::string name;
  std::string bytes;
};

class ModelFile {
 public:
  ModelFile() = default;
  explicit ModelFile(std::string model_kind) : model_kind_(std::move(model_kind)) {}

  const std::string& model_kind() const { return model_kind_; }
  std::uint32_t format_version() const { return format_version_; }
  const std::string& library_version() const { return library_version_; }
  const std::string& config() const { return config_; }
  void set_config(std::string config) { config_ = std::move(config); }
  const std::vector<ModelBlob>& blobs() const { return blobs_; }

  // Fails if `name` is already present.
  absl::Status AddBlob(std::string name, std::string bytes);
  // Adds `name`, or replaces its bytes when present.
  void SetBlob(std::string name, std::string bytes);
  // Removes `name` if present; says whether it was.
  bool RemoveBlob(std::string_view name);

  // Stores a flat array of trivially copyable values (little-endian, as in memory).
  template <typename T>
  absl::Status AddArray(std::string name, absl::Span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    return AddBlob(std::move(name),
                   std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
  }

  // Absent is a ModelFormatError (DataLoss): a model that needs the blob cannot be used, and
  // that is a damaged file, not a missing one. Optional blobs are checked with HasBlob.
  absl::StatusOr<std::string_view> Blob(std::string_view name) const;
  bool HasBlob(std::string_view name) const;

  // Reads back an array written by AddArray; DataLoss if the size is not a multiple of sizeof(T).
  template <typename T>
  absl::StatusOr<std::vector<T>> Array(std::string_view name) const {
    static_assert(std::is_trivially_copyable_v<T>);
    absl::StatusOr<std::string_view> bytes = Blob(name);
    if (!bytes.ok()) return bytes.status();
    if (bytes->size() % sizeof(T) != 0) {
      return absl::DataLossError(absl::StrCat("model blob '", std::string(name), "' has ", bytes->size(),
                                              " bytes, not a whole number of ", sizeof(T),
                                              "-byte values"));
    }
    std::vector<T> values(bytes->size() / sizeof(T));
    if (!values.empty()) std::memcpy(values.data(), bytes->data(), bytes->size());
    return values;
  }

  // FailedPrecondition naming both kinds if this file holds another kind of model.
  absl::Status ExpectKind(std::string_view model_kind) const;

 private:
  friend absl::StatusOr<ModelFile> ParseModelFile(std::string_view bytes);

  std::string model_kind_;
  std::uint32_t format_version_ = kModelFormatVersion;
  std::string library_version_;
  std::string config_;
  std::vector<ModelBlob> blobs_;
};

// The file's bytes (also what Python pickles).
absl::StatusOr<std::string> SerializeModelFile(const ModelFile& model);
absl::StatusOr<ModelFile> ParseModelFile(std::string_view bytes);

// Atomic write: a temporary file "<path>.tmp.<pid>.<random>" created exclusively in the same
// directory (never through a link) and locked while written, fsync, rename over `path`.
// Concurrent saves to one path all succeed (the last rename wins); the temporary files that
// killed saves left behind are removed by the next save to the same path.
absl::Status WriteModelFile(const std::string& path, const ModelFile& model);
// The same atomic write for bytes already serialised (pickles, Python's save); they are parsed
// first so that a damaged buffer never replaces a good model.
absl::Status WriteModelBytes(const std::string& path, std::string_view bytes);
absl::StatusOr<ModelFile> ReadModelFile(const std::string& path);
// The file's bytes after the same checks as ReadModelFile (for pickles and Python's load).
absl::StatusOr<std::string> ReadModelBytes(const std::string& path);

}  // namespace comptoir::io
