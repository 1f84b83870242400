// The head of an HTTP/1.1 response (status line and headers), as the WebSocket upgrade and
// the CONNECT proxy answer it. Only what a client needs to check a response; no bodies.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/ascii.hpp"
#include "core/common/error.hpp"

namespace zlt {

inline constexpr std::size_t kMaxResponseHead = 16 * 1024;

// Header fields of a request or response head: names as sent, values trimmed.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
// The first field with this name (case-insensitive).
std::optional<std::string_view> find_header(const HttpHeaders& headers, std::string_view name);

struct HttpResponseHead {
  int status = 0;
  std::string reason;
  HttpHeaders headers;

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
  // All values of the header joined with ", " (repeated headers are one comma list).
  std::string joined(std::string_view name) const;
  // True if the comma-separated values of the header include `token` (case-insensitive).
  bool has_token(std::string_view name, std::string_view token) const;
  // "404 Not Found"
  std::string status_text() const;
};

// Where the head ends in `bytes`: the offset just past "\r\n\r\n", or 0 if it is not complete.
std::size_t find_head_end(std::string_view bytes);

// The response head at the start of `bytes` once it is complete (nullopt until then), with
// its length in `size`. Errors are Errc::protocol: a malformed head, or none within
// kMaxResponseHead ("response header over 16 KiB").
Result<std::optional<HttpResponseHead>> take_response_head(std::string_view bytes,
                                                           std::size_t& size);

// Parses a complete head (including the final empty line). Errors are Errc::protocol with a
// short reason ("malformed status line").
Result<HttpResponseHead> parse_response_head(std::string_view head);

// The head of an HTTP/1.x request, as the small HTTP listeners (http_server.hpp) read it.
struct HttpRequestHead {
  std::string method;
  std::string target;   // as sent: path and query
  bool http10 = false;  // "HTTP/1.0" (otherwise "HTTP/1.1")
  HttpHeaders headers;

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// Parses a complete request head (including the final empty line). Errors are Errc::protocol
// with a short reason ("malformed request line", "unsupported HTTP version").
Result<HttpRequestHead> parse_request_head(std::string_view head);

}  // namespace zlt
