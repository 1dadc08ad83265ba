#include "comptoir/io/model_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "comptoir/v1/model_file.pb.h"
#include "gtest/gtest.h"
#include "internal/crc32c.h"
#include "testing/status_matchers.h"

namespace comptoir::io {
namespace {

using ::comptoir::testing::IsOk;
using ::comptoir::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

const std::string kGoldenPath = std::string(COMPTOIR_SOURCE_DIR) + "/tests/golden/model_file_v1.cmf";

// The content of the committed golden file; changing it requires a new golden, never an edit.
ModelFile SmallModel() {
  ModelFile model("golden_test");
  model.set_config("config-v1");
  const std::vector<float> weights = {1.5f, -2.25f, 3.0f};
  const std::vector<std::int64_t> ids = {7, 11, 13};
  EXPECT_THAT(model.AddArray<float>("weights", weights), IsOk());
  EXPECT_THAT(model.AddArray<std::int64_t>("ids", ids), IsOk());
  EXPECT_THAT(model.AddBlob("empty", ""), IsOk());
  return model;
}

void ExpectSmallModel(const ModelFile& model) {
  EXPECT_EQ(model.model_kind(), "golden_test");
  EXPECT_EQ(model.config(), "config-v1");
  EXPECT_THAT(model.Array<float>("weights").value(), ElementsAre(1.5f, -2.25f, 3.0f));
  EXPECT_THAT(model.Array<std::int64_t>("ids").value(), ElementsAre(7, 11, 13));
  EXPECT_EQ(model.Blob("empty").value(), "");
}

fs::path TempPath(const std::string& name) {
  return fs::temp_directory_path() / ("comptoir_" + std::to_string(::getpid()) + "_" + name);
}

TEST(ModelFile, RoundTripsThroughBytesAndDisk) {
  const ModelFile model = SmallModel();
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, SerializeModelFile(model));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ModelFile parsed, ParseModelFile(bytes));
  ExpectSmallModel(parsed);
  EXPECT_EQ(parsed.format_version(), kModelFormatVersion);

  const fs::path path = TempPath("roundtrip.cmf");
  ASSERT_THAT(WriteModelFile(path.string(), model), IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ModelFile loaded, ReadModelFile(path.string()));
  ExpectSmallModel(loaded);
  // Only the model itself is left behind: no temporary file.
  int files_with_prefix = 0;
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    if (entry.path().filename().string().rfind(path.filename().string(), 0) == 0) ++files_with_prefix;
  }
  EXPECT_EQ(files_with_prefix, 1);
  fs::remove(path);
}

TEST(ModelFile, EveryTruncationIsDataLoss) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, SerializeModelFile(SmallModel()));
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    const absl::StatusOr<ModelFile> parsed = ParseModelFile(std::string_view(bytes).substr(0, length));
    ASSERT_THAT(parsed, StatusIs(absl::StatusCode::kDataLoss)) << "truncated to " << length;
    ASSERT_TRUE(IsModelFormatError(parsed.status()));
  }
}

TEST(ModelFile, EverySingleBitFlipIsDataLoss) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, SerializeModelFile(SmallModel()));
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string corrupted = bytes;
    corrupted[bit / 8] = static_cast<char>(corrupted[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_THAT(ParseModelFile(corrupted), StatusIs(absl::StatusCode::kDataLoss))
        << "bit " << bit << " flipped";
  }
}

TEST(ModelFile, TrailingBytesAreDataLoss) {
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, SerializeModelFile(SmallModel()));
  EXPECT_THAT(ParseModelFile(bytes + "x"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("after its end marker")));
}

TEST(ModelFile, ForeignFilesAreRejected) {
  EXPECT_THAT(ParseModelFile("PK\x03\x04 this is a zip file, not a model"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not a comptoir model file")));
  EXPECT_THAT(ParseModelFile("{\"json\": true}"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseModelFile(""), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ReadModelFile("/nonexistent/dir/model.cmf"), StatusIs(absl::StatusCode::kNotFound));
  // A directory is not a model file, and says so (no stream exception, no crash).
  const absl::StatusOr<ModelFile> directory = ReadModelFile(::testing::TempDir());
  EXPECT_THAT(directory, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
  EXPECT_TRUE(IsModelFormatError(directory.status()));
}

// A file whose header is intact but written by a future comptoir with a newer layout.
TEST(ModelFile, NewerFormatVersionIsFailedPrecondition) {
  v1::ModelFileHeader header;
  header.set_magic("comptoir-model");
  header.set_format_version(kModelFormatVersion + 1);
  header.set_library_version("99.0.0");
  header.set_model_kind("session_knn");
  const std::string header_bytes = header.SerializeAsString();
  std::string file = "CMPTOIR\n";
  const auto size = static_cast<std::uint32_t>(header_bytes.size());
  const std::uint32_t crc = internal::Crc32c(header_bytes);
  file.append(reinterpret_cast<const char*>(&size), 4);
  file.append(reinterpret_cast<const char*>(&crc), 4);
  file += header_bytes;
  file += "CMPTEND\n";
  EXPECT_THAT(ParseModelFile(file), StatusIs(absl::StatusCode::kFailedPrecondition,
                                             HasSubstr("format version 2")));
  EXPECT_TRUE(IsModelFormatError(ParseModelFile(file).status()));
}

TEST(ModelFile, KindAndBlobChecksNameTheProblem) {
  const ModelFile model = SmallModel();
  EXPECT_THAT(model.ExpectKind("golden_test"), IsOk());
  EXPECT_THAT(model.ExpectKind("session_knn"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'golden_test'")));
  // A blob the model needs is missing: a damaged file (ModelFormatError), not a missing file.
  EXPECT_THAT(model.Blob("missing"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing")));
  EXPECT_TRUE(IsModelFormatError(model.Blob("missing").status()));
  EXPECT_FALSE(model.HasBlob("missing"));
  EXPECT_TRUE(model.HasBlob("weights"));
  EXPECT_THAT(model.Array<double>("weights"), StatusIs(absl::StatusCode::kDataLoss));
  ModelFile twice("x");
  EXPECT_THAT(twice.AddBlob("a", "1"), IsOk());
  EXPECT_THAT(twice.AddBlob("a", "2"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(SerializeModelFile(ModelFile()), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelFile, FailedWriteLeavesExistingModelIntact) {
  const fs::path path = TempPath("keep.cmf");
  ASSERT_THAT(WriteModelFile(path.string(), SmallModel()), IsOk());
  // Serialising an invalid model fails before the file is touched.
  EXPECT_THAT(WriteModelFile(path.string(), ModelFile()), StatusIs(absl::StatusCode::kInvalidArgument));
  // A write into a directory that does not exist fails without touching anything either.
  EXPECT_THAT(WriteModelFile((path.parent_path() / "no_such_dir" / "m.cmf").string(), SmallModel()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ModelFile loaded, ReadModelFile(path.string()));
  ExpectSmallModel(loaded);
  fs::remove(path);
}

// Format v1 files must keep loading in every later version. Regenerate only when adding a new
// golden for a new format version: COMPTOIR_WRITE_GOLDEN=1.
TEST(ModelFile, GoldenVersion1KeepsLoading) {
  if (std::getenv("COMPTOIR_WRITE_GOLDEN") != nullptr) {
    ASSERT_THAT(WriteModelFile(kGoldenPath, SmallModel()), IsOk());
  }
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ModelFile golden, ReadModelFile(kGoldenPath));
  EXPECT_EQ(golden.format_version(), 1u);
  EXPECT_EQ(golden.library_version(), "0.1.0");
  ExpectSmallModel(golden);
}

}  // namespace
}  // namespace comptoir::io

namespace comptoir::io {
namespace {

TEST(ModelBytes, WriteChecksFirstAndReadReturnsTheExactBytes) {
  const auto path = fs::temp_directory_path() / ("comptoir_bytes_" + std::to_string(::getpid()) + ".cmf");
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string bytes, SerializeModelFile(SmallModel()));
  ASSERT_THAT(WriteModelBytes(path.string(), bytes), IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string read, ReadModelBytes(path.string()));
  EXPECT_EQ(read, bytes);
  // A damaged buffer is refused and the good model stays in place.
  EXPECT_THAT(WriteModelBytes(path.string(), bytes.substr(0, bytes.size() - 3)),
              StatusIs(absl::StatusCode::kDataLoss));
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const std::string still, ReadModelBytes(path.string()));
  EXPECT_EQ(still, bytes);
  fs::remove(path);
}

}  // namespace
}  // namespace comptoir::io

namespace comptoir::io {
namespace {

TEST(ModelFile, ConcurrentSavesToOnePathAllSucceedAndLeaveNoTemporaryFile) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "concurrent_saves";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "model.cmf").string();
  std::vector<std::thread> savers;
  std::vector<absl::Status> results(8);
  for (std::size_t t = 0; t < results.size(); ++t) {
    savers.emplace_back([&, t] {
      ModelFile model("concurrent");
      const std::vector<double> values(1000, static_cast<double>(t));
      results[t] = model.AddArray<double>("values", values);
      for (int round = 0; round < 10 && results[t].ok(); ++round) results[t] = WriteModelFile(path, model);
    });
  }
  for (std::thread& saver : savers) saver.join();
  for (const absl::Status& result : results) EXPECT_THAT(result, IsOk());
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ModelFile last, ReadModelFile(path));
  EXPECT_EQ(last.model_kind(), "concurrent");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read, std::filesystem::perms::others_read);
}

// A pid that no process has: a child that has exited and been reaped.
pid_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

std::set<std::string> Entries(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

// A killed save leaves "<path>.tmp.<pid>.<random>" behind; the next save to that path removes it,
// and never the temporary file of a saver that is alive (its pid lives, or it holds its lock).
TEST(ModelFile, ASaveRemovesTheStaleTemporaryFilesOfDeadSavers) {
  const fs::path dir = fs::path(::testing::TempDir()) / "stale_temporaries";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "model.cmf").string();
  const pid_t dead = DeadPid();
  const std::string stale = "model.cmf.tmp." + std::to_string(dead) + ".a1B2c3";
  const std::string alive = "model.cmf.tmp." + std::to_string(::getpid()) + ".d4E5f6";
  const std::string locked = "model.cmf.tmp." + std::to_string(dead) + ".LOCKED";  // a pid that looks dead elsewhere
  const std::string other_model = "other.cmf.tmp." + std::to_string(dead) + ".g7H8i9";
  const std::string not_ours = "model.cmf.tmp.notapid.j1K2l3";
  for (const std::string& name : {stale, alive, locked, other_model, not_ours}) std::ofstream(dir / name) << "half a model";
  const int holder = ::open((dir / locked).c_str(), O_RDONLY);
  ASSERT_GE(holder, 0);
  ASSERT_EQ(::flock(holder, LOCK_EX), 0);
  // A link with a stale name is not followed, nor removed, and its target stays as it is.
  const fs::path victim = dir / "victim.txt";
  std::ofstream(victim) << "precious";
  const std::string link = "model.cmf.tmp." + std::to_string(dead) + ".m4N5o6";
  fs::create_symlink(victim, dir / link);

  ASSERT_THAT(WriteModelFile(path, SmallModel()), IsOk());
  EXPECT_EQ(Entries(dir), (std::set<std::string>{"model.cmf", alive, locked, other_model, not_ours, link, "victim.txt"}));
  std::ifstream in(victim);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
  ::close(holder);
  // Its writer gone, the locked one goes with the next save.
  ASSERT_THAT(WriteModelFile(path, SmallModel()), IsOk());
  EXPECT_EQ(Entries(dir).count(locked), 0u);
  EXPECT_EQ(Entries(dir).count(alive), 1u);
  COMPTOIR_ASSERT_OK_AND_ASSIGN(const ModelFile loaded, ReadModelFile(path));
  ExpectSmallModel(loaded);
  fs::remove_all(dir);
}

// The old temporary name was predictable; a link planted at it (or at any other name beside the
// model) must neither be followed nor turn the model path into a link.
TEST(ModelFile, APlantedLinkIsNeverFollowed) {
  const fs::path dir = fs::path(::testing::TempDir()) / "planted_link";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "model.cmf";
  const fs::path victim = dir / "victim.txt";
  std::ofstream(victim) << "precious";
  fs::create_symlink(victim, dir / ("model.cmf.tmp." + std::to_string(::getpid())));
  ASSERT_THAT(WriteModelFile(path.string(), SmallModel()), IsOk());
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path)));
  std::ifstream in(victim);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
  fs::remove_all(dir);
}

// The header's names are bytes on the wire (protobuf would log about bad UTF-8 in a string field)
// but must still be text: a kind that is not UTF-8 is a damaged file, and is never written.
TEST(ModelFile, NamesThatAreNotUtf8AreRefusedSilently) {
  v1::ModelFileHeader header;
  header.set_magic("comptoir-model");
  header.set_format_version(1);
  header.set_model_kind("kind\xff");
  std::string header_bytes = header.SerializeAsString();
  std::string bytes = "CMPTOIR\n";
  const std::uint32_t size = static_cast<std::uint32_t>(header_bytes.size()), crc = internal::Crc32c(header_bytes);
  bytes.append(reinterpret_cast<const char*>(&size), 4).append(reinterpret_cast<const char*>(&crc), 4);
  bytes += header_bytes + "CMPTEND\n";
  ::testing::internal::CaptureStderr();
  EXPECT_THAT(ParseModelFile(bytes), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not UTF-8")));
  EXPECT_THAT(SerializeModelFile(ModelFile("kind\xc0\x80")), StatusIs(absl::StatusCode::kInvalidArgument));
  ModelFile named("fine");
  EXPECT_THAT(named.AddBlob("\xed\xa0\x80", "surrogate"), IsOk());
  EXPECT_THAT(SerializeModelFile(named), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SerializeModelFile(ModelFile("caf\xc3\xa9")), IsOk());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace comptoir::io
