// Blocking HTTP/1.1 requests from the calling thread: `zlt quickstart` fetches its demo page
// the way any outside client would, `zlt grant` calls a server's admin API (http or https).
// One request per connection ("Connection: close").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/http_connection.hpp"
#include "core/common/error.hpp"
#include "core/transport/http_head.hpp"

namespace zlt::cli {

struct HttpCall {
  std::string method = "GET";
  std::string url;  // http://HOST[:PORT]/PATH or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> body;  // sent with Content-Length when set
  TlsChoice tls;
  std::chrono::milliseconds timeout{10'000};
};

struct HttpReply {
  HttpResponseHead head;    // head.status: 200, 404, ...
  std::string status_line;  // "HTTP/1.1 200 OK"
  std::string body;         // de-chunked, cut to Content-Length
  std::size_t bytes = 0;    // everything received, head and body as sent
};

// Any status is a reply; errors are for requests that got no well-formed answer
// (Errc::connection, Errc::timeout, Errc::protocol, Errc::config for a bad URL).
Result<HttpReply> http_call(const HttpCall& call);

struct FetchResult {
  std::string status_line;  // "HTTP/1.1 200 OK"
  std::size_t bytes = 0;    // the whole response, head and body
  std::size_t body_bytes = 0;
};

// GET http://host:port/path; reads to end of stream. `host` is an IP literal.
Result<FetchResult> http_get(const std::string& host, std::uint16_t port, const std::string& path,
                             std::chrono::milliseconds timeout);

}  // namespace zlt::cli
