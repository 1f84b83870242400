// One blocking HTTP GET, for `zlt quickstart` to show the tunnel working: deliberately plain
// sockets on the calling thread, the way any outside client would come in.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/common/error.hpp"

namespace zlt::cli {

struct FetchResult {
  std::string status_line;  // "HTTP/1.1 200 OK"
  std::size_t bytes = 0;    // the whole response, head and body
  std::size_t body_bytes = 0;
};

// GET http://host:port/path with "Connection: close"; reads to end of stream. `host` is an
// IPv4 literal.
Result<FetchResult> http_get(const std::string& host, std::uint16_t port, const std::string& path,
                             std::chrono::milliseconds timeout);

}  // namespace zlt::cli
