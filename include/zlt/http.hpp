// Blocking HTTP/1.1 requests from the calling thread (any thread but a loop's): a host fetches
// a page through a tunnel the way any outside client would, or calls a server's admin API
// (http or https). One request per connection ("Connection: close").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/common/error.hpp"

namespace zlt {

struct TlsChoice {
  std::optional<std::string> ca_file;  // nullopt: the system's CA store
  bool insecure = false;               // no certificate verification (tests only)
};

struct HttpCall {
  std::string method = "GET";
  std::string url;  // http://HOST[:PORT]/PATH or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> body;  // sent with Content-Length when set
  TlsChoice tls;
  std::chrono::milliseconds timeout{10'000};
};

struct HttpReply {
  int status = 0;           // 200, 404, ...
  std::string status_text;  // "404 Not Found"
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

}  // namespace zlt
