// A small HTTP/1.1 listener on the runtime's loop, for the local operator endpoints: the
// metrics listener of every role (/metrics, /healthz, /ready) and the server's separate admin
// listener. Every request is answered by one handler (http_message.hpp), which sees no sockets.
// Keep-alive and pipelining are handled; bodies need a Content-Length (no chunked bodies).
//
// Bounded like the control listener: connections at once (one more is answered 503 "too many
// connections (max N)" and closed), the request head (431 "request head over N bytes"), the
// body (413), and the time a connection may sit without completing a request (closed).
// Loop-thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/common/error.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/transport/http_message.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

class HttpServer {
 public:
  struct Limits {
    std::size_t max_connections = 16;
    std::size_t max_request_head = 8 * 1024;
    std::size_t max_body = 64 * 1024;
    std::chrono::milliseconds idle_timeout{10000};
  };
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Listens on `address` (port 0: the kernel chooses). `name` is for logs and errors
  // ("metrics listener").
  static Result<std::unique_ptr<HttpServer>> listen(uv_loop_t* loop, std::string name,
                                                    const SockAddr& address, Limits limits,
                                                    Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const SockAddr& address() const { return address_; }
  std::size_t connection_count() const { return connections_.size(); }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t refused() const { return refused_; }  // turned away by max_connections

 private:
  class Connection;
  friend class Connection;

  HttpServer() = default;
  static void on_connection(uv_stream_t* listener, int status);
  void close(Connection* connection);

  uv_loop_t* loop_ = nullptr;
  std::string name_;
  Limits limits_;
  Handler handler_;
  UvHandle<uv_tcp_t> listener_;
  SockAddr address_;
  std::uint64_t requests_ = 0;
  std::uint64_t refused_ = 0;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
};

// "200 OK", "503 Service Unavailable": the status line's code and reason phrase.
std::string http_status_line(int status);

}  // namespace zlt
