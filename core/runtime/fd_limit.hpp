// The process's descriptor limit. A server holds one descriptor per connection, and the
// default soft limit (often 1024) is far below what its connection caps allow.
#pragma once

#include <cstdint>
#include <string>

namespace zlt {

struct FdLimit {
  std::uint64_t before = 0;  // soft limit found at start
  std::uint64_t soft = 0;    // soft limit now
  std::uint64_t hard = 0;
  std::string error;         // why raising failed (empty: it did not fail)
};

// Raises RLIMIT_NOFILE's soft limit to the hard limit, once per process (later calls return
// the first call's result).
const FdLimit& raise_fd_limit();

}  // namespace zlt
