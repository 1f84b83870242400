// The metrics listener of every long-running role (`--metrics HOST:PORT`, config
// metrics_listen): GET /metrics (the role's Prometheus text), GET /healthz (200 "ok" while the
// process runs) and GET /ready (200 "ready", or 503 with the one-line reason). One HttpServer
// (http_server.hpp) with its bounds. Loop-thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/common/error.hpp"
#include "core/config/config.hpp"
#include "core/runtime/metrics_text.hpp"
#include "core/runtime/runtime.hpp"
#include "core/transport/http_server.hpp"

namespace zlt {

// What a metrics listener asks its role; both are called on the loop thread per request.
struct MetricsSource {
  std::function<std::string()> metrics;
  std::function<Readiness()> readiness;
};

// The bounds of an HttpServer from a configuration's http_* keys.
HttpServer::Limits http_limits_from(const config::HttpListenerLimits& limits);
// The address a listen setting names (a bare port: loopback); errors name `field`.
Result<SockAddr> listen_address_of(std::string_view text, std::string_view field);

class MetricsListener {
 public:
  // Listens on `listen` ("HOST:PORT", "PORT": loopback). Errors name the address.
  static Result<std::unique_ptr<MetricsListener>> start(Runtime& runtime, std::string_view listen,
                                                        const config::HttpListenerLimits& limits,
                                                        MetricsSource source);
  const SockAddr& address() const { return http_->address(); }

 private:
  MetricsListener() = default;
  HttpResponse answer(const HttpRequest& request) const;
  MetricsSource source_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace zlt
