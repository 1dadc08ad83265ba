// Links comptoir from its installed CMake package, saves a model file and loads it back, the way a
// backend loads its models once at start-up.
#include <cstdio>
#include <string>
#include <vector>

#include "comptoir/comptoir.h"

namespace {

absl::Status Run(const std::string& path) {
  comptoir::io::ModelFile model("example");
  model.set_config("demo");
  const std::vector<float> weights = {0.25f, 0.5f, 0.25f};
  COMPTOIR_RETURN_IF_ERROR(model.AddArray<float>("weights", weights));
  COMPTOIR_RETURN_IF_ERROR(comptoir::io::WriteModelFile(path, model));

  COMPTOIR_ASSIGN_OR_RETURN(const comptoir::io::ModelFile loaded, comptoir::io::ReadModelFile(path));
  COMPTOIR_RETURN_IF_ERROR(loaded.ExpectKind("example"));
  COMPTOIR_ASSIGN_OR_RETURN(const std::vector<float> read, loaded.Array<float>("weights"));
  if (read != weights) return absl::DataLossError("weights changed on the round trip");
  std::printf("comptoir %s: wrote and reloaded a '%s' model with %zu weights\n", comptoir::kVersion,
              loaded.model_kind().c_str(), read.size());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  comptoir::SetLogSink([](comptoir::LogLevel, std::string_view message) {
    std::fprintf(stderr, "[comptoir] %.*s\n", static_cast<int>(message.size()), message.data());
  });
  const std::string path = argc > 1 ? argv[1] : "example_model.cmf";
  const absl::Status status = Run(path);
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
