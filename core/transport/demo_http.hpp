// The demo web service of `zlt quickstart`, on the HttpServer every local HTTP endpoint uses:
// GET / answers an HTML page saying it came through zlayer-tunnel, GET /healthz answers "ok".
// Loop-thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/common/error.hpp"
#include "core/transport/http_server.hpp"

namespace zlt {

class DemoHttpService {
 public:
  // Listens on host (an IP literal) with a kernel-chosen port.
  static Result<std::unique_ptr<DemoHttpService>> start(uv_loop_t* loop, const std::string& host);
  DemoHttpService(const DemoHttpService&) = delete;
  DemoHttpService& operator=(const DemoHttpService&) = delete;

  std::uint16_t port() const { return server_->address().port(); }
  std::uint64_t requests() const { return server_->requests(); }

 private:
  explicit DemoHttpService(std::unique_ptr<HttpServer> server) : server_(std::move(server)) {}

  std::unique_ptr<HttpServer> server_;
};

}  // namespace zlt
