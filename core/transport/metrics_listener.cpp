#include "core/transport/metrics_listener.hpp"

#include "core/runtime/log.hpp"

namespace zlt {

HttpServer::Limits http_limits_from(const config::HttpListenerLimits& limits) {
  HttpServer::Limits out;
  out.max_connections = limits.max_connections;
  out.max_request_head = limits.max_request_head;
  out.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(limits.idle_timeout);
  return out;
}

Result<SockAddr> listen_address_of(std::string_view text, std::string_view field) {
  auto hp = config::parse_listen_address(text, field);
  if (!hp) return hp.take_error();
  auto addr = resolve_listen_address(hp->host, hp->port);
  if (!addr) return make_error(Errc::config, std::string(field) + ": " + addr.error().message);
  return addr;
}

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(
    Runtime& runtime, std::string_view listen, const config::HttpListenerLimits& limits,
    MetricsSource source) {
  auto addr = listen_address_of(listen, "metrics_listen");
  if (!addr) return addr.take_error();
  std::unique_ptr<MetricsListener> self(new MetricsListener());
  self->source_ = std::move(source);
  MetricsListener* raw = self.get();
  auto http =
      HttpServer::listen(runtime.loop(), "metrics listener", *addr, http_limits_from(limits),
                         [raw](const HttpRequest& r) { return raw->answer(r); });
  if (!http) return http.take_error();
  self->http_ = std::move(*http);
  ZLT_LOG(info, "metrics") << "serving /metrics, /healthz and /ready on http://"
                           << self->http_->address().to_string();
  return self;
}

HttpResponse MetricsListener::answer(const HttpRequest& request) const {
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  if (request.path != "/metrics" && request.path != "/healthz" && request.path != "/ready")
    return r;  // 404
  if (request.method != "GET") {
    r.status = 405;
    r.body = "method not allowed\n";
    return r;
  }
  if (request.path == "/healthz") {
    r.status = 200;
    r.body = "ok\n";
  } else if (request.path == "/ready") {
    Readiness ready = source_.readiness ? source_.readiness() : Readiness{true, ""};
    r.status = ready.ready ? 200 : 503;
    r.body = ready.ready ? "ready\n" : ready.reason + "\n";
  } else {
    r.status = 200;
    r.content_type = std::string(kMetricsContentType);
    r.body = source_.metrics ? source_.metrics() : std::string();
  }
  return r;
}

}  // namespace zlt
