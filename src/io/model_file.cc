#include "comptoir/io/model_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "comptoir/status.h"
#include "comptoir/version.h"
#include "comptoir/v1/model_file.pb.h"
#include "internal/crc32c.h"
#include "internal/strings.h"

namespace comptoir::io {
namespace {

constexpr std::string_view kFileMagic = "CMPTOIR\n";
constexpr std::string_view kEndMarker = "CMPTEND\n";
constexpr std::string_view kHeaderMagic = "comptoir-model";
// A header is small (config + blob table); anything larger is corruption, not a model.
constexpr std::uint32_t kMaxHeaderBytes = 64u << 20;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "model files are little-endian");

void PutU32(std::string& out, std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

std::uint32_t GetU32(std::string_view bytes, std::size_t offset) {
  std::uint32_t v;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

absl::Status Truncated(std::string_view what, std::size_t offset, std::size_t need,
                       std::size_t have) {
  return absl::DataLossError(absl::StrCat("model file is truncated: ", internal::Sv(what), " needs ", need,
                                          " bytes at offset ", offset, " but only ", have,
                                          " remain"));
}

std::string ErrnoText() { return std::strerror(errno); }


}  // namespace

absl::Status ModelFile::AddBlob(std::string name, std::string bytes) {
  for (const ModelBlob& blob : blobs_) {
    if (blob.name == name) {
      return absl::AlreadyExistsError(absl::StrCat("model blob '", name, "' added twice"));
    }
  }
  blobs_.push_back({std::move(name), std::move(bytes)});
  return absl::OkStatus();
}

void ModelFile::SetBlob(std::string name, std::string bytes) {
  for (ModelBlob& blob : blobs_) {
    if (blob.name == name) {
      blob.bytes = std::move(bytes);
      return;
    }
  }
  blobs_.push_back({std::move(name), std::move(bytes)});
}

bool ModelFile::RemoveBlob(std::string_view name) {
  const auto it = std::find_if(blobs_.begin(), blobs_.end(), [&](const ModelBlob& blob) { return blob.name == name; });
  if (it == blobs_.end()) return false;
  blobs_.erase(it);
  return true;
}

absl::StatusOr<std::string_view> ModelFile::Blob(std::string_view name) const {
  for (const ModelBlob& blob : blobs_) {
    if (blob.name == name) return std::string_view(blob.bytes);
  }
  return MarkModelFormatError(absl::DataLossError(
      absl::StrCat("model file of kind '", model_kind_, "' has no blob named '", internal::Sv(name), "'")));
}

bool ModelFile::HasBlob(std::string_view name) const {
  return std::any_of(blobs_.begin(), blobs_.end(), [&](const ModelBlob& blob) { return blob.name == name; });
}

absl::Status ModelFile::ExpectKind(std::string_view model_kind) const {
  if (model_kind_ == model_kind) return absl::OkStatus();
  return MarkModelFormatError(absl::FailedPreconditionError(absl::StrCat("model file holds a '", model_kind_,
                                                    "' model, not a '", internal::Sv(model_kind), "' model")));
}

absl::StatusOr<std::string> SerializeModelFile(const ModelFile& model) {
  if (model.model_kind().empty()) {
    return absl::InvalidArgumentError("model file needs a model kind");
  }
  bool texts_valid = internal::IsUtf8(model.model_kind());
  for (const ModelBlob& blob : model.blobs()) texts_valid = texts_valid && internal::IsUtf8(blob.name);
  if (!texts_valid) return absl::InvalidArgumentError("a model kind or blob name is not UTF-8 text");
  v1::ModelFileHeader header;
  header.set_magic(std::string(kHeaderMagic));
  header.set_format_version(kModelFormatVersion);
  header.set_library_version(kVersion);
  header.set_model_kind(model.model_kind());
  header.set_config(model.config());
  header.set_created_unix_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  std::size_t total = kFileMagic.size() + 8 + kEndMarker.size();
  for (const ModelBlob& blob : model.blobs()) {
    v1::BlobEntry* entry = header.add_blobs();
    entry->set_name(blob.name);
    entry->set_size(blob.bytes.size());
    entry->set_crc32c(internal::Crc32c(blob.bytes));
    total += blob.bytes.size() + 4;
  }
  std::string header_bytes;
  if (!header.SerializeToString(&header_bytes) || header_bytes.size() > kMaxHeaderBytes) {
    return absl::InternalError("model file header could not be serialised");
  }
  std::string out;
  out.reserve(total + header_bytes.size());
  out.append(kFileMagic);
  PutU32(out, static_cast<std::uint32_t>(header_bytes.size()));
  PutU32(out, internal::Crc32c(header_bytes));
  out.append(header_bytes);
  for (const ModelBlob& blob : model.blobs()) {
    out.append(blob.bytes);
    PutU32(out, internal::Crc32c(blob.bytes));
  }
  out.append(kEndMarker);
  return out;
}

namespace {

struct ParsedModel {
  std::string model_kind;
  std::uint32_t format_version = 0;
  std::string library_version;
  std::string config;
  std::vector<ModelBlob> blobs;
};

absl::StatusOr<ParsedModel> ParseModelBytes(std::string_view bytes) {
  if (bytes.size() < kFileMagic.size() ||
      bytes.substr(0, kFileMagic.size()) != kFileMagic) {
    if (kFileMagic.substr(0, bytes.size()) == bytes) {
      return Truncated("the file magic", 0, kFileMagic.size(), bytes.size());
    }
    return absl::DataLossError("not a comptoir model file (bad magic bytes)");
  }
  std::size_t offset = kFileMagic.size();
  if (bytes.size() - offset < 8) return Truncated("the header length", offset, 8, bytes.size() - offset);
  const std::uint32_t header_size = GetU32(bytes, offset);
  const std::uint32_t header_crc = GetU32(bytes, offset + 4);
  offset += 8;
  if (header_size > kMaxHeaderBytes) {
    return absl::DataLossError(absl::StrCat("model file header claims ", header_size,
                                            " bytes: the file is corrupted"));
  }
  if (bytes.size() - offset < header_size) {
    return Truncated("the header", offset, header_size, bytes.size() - offset);
  }
  const std::string_view header_bytes = bytes.substr(offset, header_size);
  if (internal::Crc32c(header_bytes) != header_crc) {
    return absl::DataLossError("model file header checksum mismatch: the file is corrupted");
  }
  offset += header_size;
  v1::ModelFileHeader header;
  if (!header.ParseFromArray(header_bytes.data(), static_cast<int>(header_bytes.size())) ||
      header.magic() != kHeaderMagic) {
    return absl::DataLossError("model file header is not a comptoir header");
  }
  // The header's texts are bytes in the schema (so that protobuf never logs about them); they
  // are still text, which the bindings hand to Python as str.
  bool texts_valid = internal::IsUtf8(header.model_kind()) && internal::IsUtf8(header.library_version());
  for (const v1::BlobEntry& entry : header.blobs()) texts_valid = texts_valid && internal::IsUtf8(entry.name());
  if (!texts_valid) return absl::DataLossError("model file header holds a name that is not UTF-8 text");
  if (header.format_version() == 0) {
    return absl::DataLossError("model file header has no format version");
  }
  if (header.format_version() > kModelFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model file has format version ", header.format_version(), " (written by comptoir ",
        header.library_version(), "); this comptoir ", kVersion, " reads versions up to ",
        kModelFormatVersion, ": upgrade comptoir"));
  }
  ParsedModel model{header.model_kind(), header.format_version(), header.library_version(),
                    header.config(), {}};
  model.blobs.reserve(static_cast<std::size_t>(header.blobs_size()));
  for (const v1::BlobEntry& entry : header.blobs()) {
    const std::size_t remaining = bytes.size() - offset;
    if (entry.size() > remaining || remaining - entry.size() < 4) {
      return Truncated(absl::StrCat("blob '", entry.name(), "'"), offset,
                       entry.size() + 4, remaining);
    }
    const std::string_view blob = bytes.substr(offset, entry.size());
    offset += entry.size();
    const std::uint32_t stored_crc = GetU32(bytes, offset);
    offset += 4;
    const std::uint32_t actual_crc = internal::Crc32c(blob);
    if (stored_crc != entry.crc32c() || actual_crc != entry.crc32c()) {
      return absl::DataLossError(
          absl::StrCat("model blob '", entry.name(), "' checksum mismatch: the file is corrupted"));
    }
    for (const ModelBlob& seen : model.blobs) {
      if (seen.name == entry.name()) {
        return absl::DataLossError(absl::StrCat("model blob '", entry.name(), "' appears twice"));
      }
    }
    model.blobs.push_back({entry.name(), std::string(blob)});
  }
  if (bytes.size() - offset < kEndMarker.size()) {
    return Truncated("the end marker", offset, kEndMarker.size(), bytes.size() - offset);
  }
  if (bytes.substr(offset, kEndMarker.size()) != kEndMarker) {
    return absl::DataLossError("model file end marker is missing: the file is corrupted");
  }
  offset += kEndMarker.size();
  if (offset != bytes.size()) {
    return absl::DataLossError(absl::StrCat("model file has ", bytes.size() - offset,
                                            " unexpected bytes after its end marker"));
  }
  return model;
}

}  // namespace

absl::StatusOr<ModelFile> ParseModelFile(std::string_view bytes) {
  absl::StatusOr<ParsedModel> parsed = ParseModelBytes(bytes);
  if (!parsed.ok()) return MarkModelFormatError(parsed.status());
  ModelFile model(std::move(parsed->model_kind));
  model.format_version_ = parsed->format_version;
  model.library_version_ = std::move(parsed->library_version);
  model.config_ = std::move(parsed->config);
  model.blobs_ = std::move(parsed->blobs);
  return model;
}

namespace {

// Temporary files are "<path>.tmp.<pid>.<random>", held under an exclusive flock while their
// writer lives. A later save to the same path removes those whose pid is gone and whose lock it
// can take: a live writer holds its lock (even in another pid namespace, where its pid may look
// dead), and a dead one's lock was released by the kernel.
std::string TemporaryPrefix(const std::string& path) { return absl::StrCat(path, ".tmp."); }

void RemoveStaleTemporaries(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return;  // a folder's path: the save fails and says so
  const std::string prefix = TemporaryPrefix(base);
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return;  // the save itself reports what is wrong with the folder
  const int dir_fd = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) continue;
    // "<pid>.<six characters>", the pid in decimal.
    const std::string_view rest = name.substr(prefix.size());
    const std::size_t dot = rest.find('.');
    std::int64_t pid = 0;
    if (dot == std::string_view::npos || rest.size() - dot - 1 != 6 || dot == 0 || dot > 10 ||
        !absl::SimpleAtoi(internal::Sv(rest.substr(0, dot)), &pid) || pid <= 0 ||
        pid > std::numeric_limits<pid_t>::max()) {
      continue;
    }
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    const int fd = ::openat(dir_fd, entry->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat info;
    if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_uid == ::geteuid() &&
        ::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // Unlinked while locked: a writer that created the file but had not locked it yet sees a
      // link count of 0 once it gets the lock, and starts over with a new file.
      ::unlinkat(dir_fd, entry->d_name, 0);
    }
    ::close(fd);
  }
  ::closedir(dir);
}

// Creates, locks and returns the temporary file (fd, name); the lock is held until the fd closes.
absl::StatusOr<std::pair<int, std::string>> CreateTemporary(const std::string& path) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    // A fresh, unpredictable name created exclusively (mkostemp opens with O_EXCL): a link planted
    // beside the model cannot redirect the write, and concurrent saves never share a file.
    std::string tmp_path = absl::StrCat(TemporaryPrefix(path), ::getpid(), ".XXXXXX");
    const int fd = ::mkostemp(tmp_path.data(), O_CLOEXEC);
    if (fd < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create a temporary file beside '", path, "': ", ErrnoText()));
    }
    struct stat info;
    int locked;
    while ((locked = ::flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (locked == 0 && ::fstat(fd, &info) == 0 && info.st_nlink > 0) return std::make_pair(fd, std::move(tmp_path));
    ::close(fd);  // removed as stale before it was locked (or no lock): try another name
  }
  return absl::UnavailableError(absl::StrCat("cannot keep a temporary file beside '", path, "'"));
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  RemoveStaleTemporaries(path);
  COMPTOIR_ASSIGN_OR_RETURN(auto temporary, CreateTemporary(path));
  const int fd = temporary.first;
  const std::string& tmp_path = temporary.second;
  const auto fail = [&](absl::Status status) {
    ::unlink(tmp_path.c_str());
    ::close(fd);
    return status;
  };
  if (::fchmod(fd, 0644) != 0) {
    return fail(absl::PermissionDeniedError(absl::StrCat("cannot set the mode of '", tmp_path, "': ", ErrnoText())));
  }
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(absl::UnavailableError(absl::StrCat("writing '", tmp_path, "' failed: ", ErrnoText())));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail(absl::UnavailableError(absl::StrCat("flushing '", tmp_path, "' failed: ", ErrnoText())));
  }
  // Renamed while still locked, so that no other save can take the file for a stale one first.
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    return fail(absl::UnavailableError(absl::StrCat("renaming '", tmp_path, "' to '", path, "' failed: ", ErrnoText())));
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteModelFile(const std::string& path, const ModelFile& model) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::string bytes, SerializeModelFile(model));
  return WriteFileAtomically(path, bytes);
}

absl::Status WriteModelBytes(const std::string& path, std::string_view bytes) {
  COMPTOIR_RETURN_IF_ERROR(ParseModelFile(bytes).status());
  return WriteFileAtomically(path, bytes);
}

namespace {

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const std::string error = ErrnoText();
    if (errno == ENOENT || errno == ENOTDIR) return absl::NotFoundError(absl::StrCat("cannot open model file '", path, "': ", error));
    return absl::PermissionDeniedError(absl::StrCat("cannot open model file '", path, "': ", error));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return MarkModelFormatError(
        absl::FailedPreconditionError(absl::StrCat("'", path, "' is not a regular file, so not a model file")));
  }
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t read_so_far = 0;
  bool failed = false;
  while (read_so_far < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + read_so_far, bytes.size() - read_so_far);
    if (n < 0 && errno == EINTR) continue;
    failed = n < 0;
    if (n <= 0) break;  // a file that shrank while read: the parse reports the truncation
    read_so_far += static_cast<std::size_t>(n);
  }
  const std::string error = failed ? ErrnoText() : std::string();
  ::close(fd);
  if (failed) return absl::DataLossError(absl::StrCat("reading '", path, "' failed: ", error));
  bytes.resize(read_so_far);
  return bytes;
}

absl::Status PrefixPath(const std::string& path, const absl::Status& status) {
  return MarkModelFormatError(absl::Status(status.code(), absl::StrCat(path, ": ", status.message())));
}

}  // namespace

absl::StatusOr<ModelFile> ReadModelFile(const std::string& path) {
  COMPTOIR_ASSIGN_OR_RETURN(const std::string bytes, ReadFileBytes(path));
  absl::StatusOr<ModelFile> model = ParseModelFile(bytes);
  if (!model.ok()) return PrefixPath(path, model.status());
  return model;
}

absl::StatusOr<std::string> ReadModelBytes(const std::string& path) {
  COMPTOIR_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  const absl::Status parsed = ParseModelFile(bytes).status();
  if (!parsed.ok()) return PrefixPath(path, parsed);
  return bytes;
}

}  // namespace comptoir::io
