// Config files: reading with errors that name the file, writing atomically.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/config/json_text.hpp"
#include "core/config/secret.hpp"

namespace zlt::config {
namespace {

Error io_error(const std::string& path, std::string_view action, int err) {
  return make_error(Errc::io, path + ": " + std::string(action) + ": " + std::strerror(err));
}

// Closes the descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { close(); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Reports the error of close() itself, which may be where a failed write shows up.
  int close() {
    int rc = 0;
    if (fd_ >= 0) rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Result<std::string> read_file(const std::string& path,
                              std::size_t max_bytes = static_cast<std::size_t>(-1)) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return io_error(path, "cannot open", errno);
  std::string text;
  char buffer[16384];
  while (text.size() < max_bytes) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path, "cannot read", errno);
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

// 0, or the errno of the failed write.
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

std::string directory_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Makes the rename itself durable; failure here loses nothing already written.
void sync_directory(const std::string& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.valid()) ::fsync(fd.get());
}

// Config files may hold tokens: a new file is readable by its owner only, a replaced file
// keeps the permissions it had.
mode_t mode_for(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return st.st_mode & 07777;
  return 0600;
}

template <class Config, class FromJson>
Result<Config> load(const std::string& path, FromJson from_json) {
  Result<nlohmann::json> j = read_json_config_file(path);
  if (!j) return j.take_error();
  Result<Config> c = from_json(*j);
  if (c) {
    if (Status valid = c->validate(); !valid) c = valid.take_error();
  }
  if (!c) {
    Error e = c.take_error();
    e.message = path + ": " + e.message;
    return e;
  }
  return c;
}

}  // namespace

Result<nlohmann::json> read_json_config_file(const std::string& path) {
  Result<std::string> text = read_file(path);
  if (!text) return text.take_error();
  Result<nlohmann::json> j = parse_json_text(*text, JsonComments::allow);
  if (!j) {
    Error e = j.take_error();
    e.message = path + ": " + e.message;
    return e;
  }
  return j;
}

Result<TunnelServerConfig> load_server_config(const std::string& path) {
  return load<TunnelServerConfig>(path, server_config_from_json);
}

Result<TunnelClientConfig> load_client_config(const std::string& path) {
  return load<TunnelClientConfig>(path, client_config_from_json);
}

Result<NodeConfig> load_node_config(const std::string& path, std::vector<std::string>* warnings) {
  return load<NodeConfig>(path, [warnings](const nlohmann::json& j) -> Result<NodeConfig> {
    Result<NodeConfig> c = node_config_from_json(j);
    if (!c) return c;
    std::vector<std::string> ignored;
    ZLT_TRY(read_node_token_files(*c, warnings != nullptr ? *warnings : ignored));
    return c;
  });
}

Result<std::string> read_text_file(const std::string& path, std::size_t max_bytes) {
  return read_file(path, max_bytes);
}

Status save_json_file(const std::string& path, const nlohmann::json& j) {
  std::string text;
  try {
    text = j.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    return make_error(Errc::invalid_argument, path + ": cannot encode JSON: " + e.what());
  }
  // The temporary lives next to the target so the rename stays within one file system.
  std::string temp_path = path + ".tmp.XXXXXX";
  std::vector<char> name(temp_path.begin(), temp_path.end());
  name.push_back('\0');
  FileDescriptor fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd.valid()) return io_error(path, "cannot create a temporary file", errno);
  temp_path.assign(name.data());

  auto fail = [&](std::string_view action, int err) {
    fd.close();
    ::unlink(temp_path.c_str());
    return io_error(path, action, err);
  };
  if (::fchmod(fd.get(), mode_for(path)) != 0) return fail("cannot set permissions", errno);
  if (int err = write_all(fd.get(), text); err != 0) return fail("cannot write", err);
  if (::fsync(fd.get()) != 0) return fail("cannot sync", errno);
  if (fd.close() != 0) return fail("cannot close", errno);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) return fail("cannot rename", errno);
  sync_directory(directory_of(path));
  return {};
}

}  // namespace zlt::config
