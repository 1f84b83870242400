// A blocking client connection for http_call (zlt/http.hpp): TCP to a name or address (every
// address the name resolves to is tried), optionally wrapped in TLS verified the way the agent
// verifies wss (system CA store or a CA file, hostname or IP checked). Calling thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/common/error.hpp"
#include "core/transport/tls_client.hpp"
#include "core/transport/url.hpp"
#include "zlt/http.hpp"

namespace zlt {

class HttpConnection {
 public:
  // Connects to url's host and port (TLS for https). `timeout` bounds the connect and every
  // later send or receive.
  static Result<std::unique_ptr<HttpConnection>> open(const Url& url, const TlsChoice& tls,
                                                      std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  Status write_all(std::string_view bytes);
  // Bytes received into `out`; 0 at the end of the stream.
  Result<std::size_t> read(std::span<std::uint8_t> out);

 private:
  HttpConnection() = default;
  Status send_raw(std::string_view bytes);
  Result<std::size_t> recv_raw(std::span<std::uint8_t> out);
  Status flush_tls();
  Status handshake();

  int fd_ = -1;
  std::string where_;  // "host:port" for messages
  std::chrono::milliseconds timeout_{0};
  std::unique_ptr<TlsClient> tls_;
};

}  // namespace zlt
