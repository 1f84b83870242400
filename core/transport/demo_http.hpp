// The demo web service of `zlt quickstart`: a small HTTP/1.1 server on the runtime's loop.
// GET / answers an HTML page saying it came through zlayer-tunnel, GET /healthz answers "ok".
// Keep-alive, pipelining and requests split across reads are handled; request bodies are
// read and discarded. Loop-thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/common/error.hpp"
#include "core/runtime/uv_handle.hpp"

namespace zlt {

class DemoHttpService {
 public:
  // Listens on host (an IPv4 literal) with a kernel-chosen port.
  static Result<std::unique_ptr<DemoHttpService>> start(uv_loop_t* loop, const std::string& host);
  ~DemoHttpService();
  DemoHttpService(const DemoHttpService&) = delete;
  DemoHttpService& operator=(const DemoHttpService&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t requests() const { return requests_; }

 private:
  class Connection;
  friend class Connection;

  DemoHttpService() = default;
  static void on_connection(uv_stream_t* listener, int status);
  void close(Connection* connection);

  UvHandle<uv_tcp_t> listener_;
  std::uint16_t port_ = 0;
  std::uint64_t requests_ = 0;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
};

}  // namespace zlt
