#include "core/transport/lws_context.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <unistd.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>
#include <mutex>
#include <string>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr const char* kKey = "lws-context";

void route_lws_log(int level, const char* line) {
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  // libwebsockets reports expected events (a client that went away, a refused upgrade) as
  // warnings; they are diagnostics for us, not operator-facing warnings.
  LogLevel ours = level & LLL_ERR ? LogLevel::warn : level & LLL_WARN ? LogLevel::debug
                                                                         : LogLevel::trace;
  if (Log::enabled(ours)) Log::write(ours, "lws", text, nlohmann::json::object());
}

void configure_lws_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    lws_set_log_level(std::getenv("ZLT_LWS_DEBUG") ? 0x3ff : (LLL_ERR | LLL_WARN | LLL_NOTICE),
                      guarded<&route_lws_log, "libwebsockets log">);
  });
}

// The process's eventfd descriptors, from /proc/self/fd.
std::vector<int> eventfds() {
  std::vector<int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  int self = dirfd(dir);
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = std::atoi(e->d_name);
    if (fd == self) continue;
    char link[64] = "";
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
    if (n > 0 && std::string_view(link, static_cast<std::size_t>(n)) == "anon_inode:[eventfd]")
      fds.push_back(fd);
  }
  closedir(dir);
  return fds;
}

}  // namespace

Result<LwsContext*> LwsContext::get(Runtime& runtime) {
  if (auto* existing = runtime.find_owned(kKey)) return static_cast<LwsContext*>(existing);
  configure_lws_logging();
  std::unique_ptr<LwsContext> self(new LwsContext());
  self->loop_ = runtime.loop();

  lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {runtime.loop()};
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                 LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = foreign_loops;
  info.pcontext = &self->context_;
  info.user = self.get();
  // 64 KiB service buffer: libwebsockets otherwise hands over received data 4 KiB at a time,
  // which halves throughput.
  info.pt_serv_buf_size = 262144;
  info.timeout_secs = 10;
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.server_string = "zlayer-tunnel";
  {
    // Serialised with every loop's setup, so the eventfd libwebsockets makes can be told apart.
    std::lock_guard lock(loop_setup_mutex());
    std::vector<int> before = eventfds();
    self->context_ = lws_create_context(&info);
    std::vector<int> added;
    for (int fd : eventfds())
      if (std::find(before.begin(), before.end(), fd) == before.end()) added.push_back(fd);
    if (added.size() == 1) self->pipe_fd_ = added[0];  // otherwise: unknown, no mitigation
  }
  if (self->context_ == nullptr)
    return make_error(Errc::internal,
                      "libwebsockets: cannot create the context (is libwebsockets-evlib-uv "
                      "installed?)");
  return static_cast<LwsContext*>(runtime.add_owned(kKey, std::move(self)));
}

LwsContext::~LwsContext() {
  // Normally finalize() has already run; a context that never saw its loop stop is destroyed
  // here as a last resort.
  if (context_ != nullptr) lws_context_destroy(context_);
}

void LwsContext::shutdown() {
  if (context_ == nullptr) return;
  // A second reference keeps the eventfd alive across lws's first close; putting it back
  // under the same number right away means lws's second close hits its own eventfd again.
  int keep = pipe_fd_ >= 0 ? fcntl(pipe_fd_, F_DUPFD_CLOEXEC, 0) : -1;
  lws_context_destroy(context_);
  if (keep >= 0) {
    if (fcntl(pipe_fd_, F_GETFD) == -1) {
      dup3(keep, pipe_fd_, O_CLOEXEC);
    } else {
      // Someone reused the number in the few instructions between; nothing safe can be done.
      ZLT_LOG(warn, "lws") << "descriptor " << pipe_fd_
                           << " was reused during teardown; libwebsockets will close it";
    }
    ::close(keep);
  }
  pipe_fd_ = -1;
}

void LwsContext::finalize() {
  if (context_ != nullptr) lws_context_destroy(context_);
  owners_.clear();
}

LwsContext* LwsContext::of(lws* wsi) {
  return static_cast<LwsContext*>(lws_context_user(lws_get_context(wsi)));
}

}  // namespace zlt
