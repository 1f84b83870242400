#include "core/runtime/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

namespace zlt {
namespace {

// Linux refuses a soft limit of "infinity" but takes the kernel's per-process ceiling.
rlim_t finite(rlim_t limit) {
  if (limit != RLIM_INFINITY) return limit;
  std::uint64_t nr_open = 0;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  return nr_open > 0 ? static_cast<rlim_t>(nr_open) : static_cast<rlim_t>(1) << 20;
}

}  // namespace

const FdLimit& raise_fd_limit() {
  static FdLimit result;
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
      result.error = std::string("getrlimit: ") + std::strerror(errno);
      return;
    }
    result.before = rl.rlim_cur;
    result.soft = rl.rlim_cur;
    result.hard = finite(rl.rlim_max);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= result.hard) return;
    rlimit raised = rl;
    raised.rlim_cur = static_cast<rlim_t>(result.hard);
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      result.error = std::string("setrlimit: ") + std::strerror(errno);
      return;
    }
    result.soft = raised.rlim_cur;
  });
  return result;
}

}  // namespace zlt
