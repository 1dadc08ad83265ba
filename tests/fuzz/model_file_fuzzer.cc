// The container reader on raw bytes: any input is a status, never a crash; what parses must
// serialise again and parse back to the same kind, config and blobs.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "comptoir/io/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<comptoir::io::ModelFile> file = comptoir::io::ParseModelFile(bytes);
  if (!file.ok()) return 0;
  const absl::StatusOr<std::string> again = comptoir::io::SerializeModelFile(*file);
  if (!again.ok()) return 0;  // an empty kind parses but is refused on write
  const absl::StatusOr<comptoir::io::ModelFile> reread = comptoir::io::ParseModelFile(*again);
  if (!reread.ok() || reread->model_kind() != file->model_kind() || reread->config() != file->config() ||
      reread->blobs().size() != file->blobs().size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < file->blobs().size(); ++i) {
    if (reread->blobs()[i].name != file->blobs()[i].name || reread->blobs()[i].bytes != file->blobs()[i].bytes) std::abort();
  }
  return 0;
}
