#include "core/transport/demo_http.hpp"

#include <string_view>
#include <utility>

#include "core/transport/sockaddr.hpp"

namespace zlt {
namespace {

constexpr std::string_view kPage =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>zlayer-tunnel quickstart</title></head>\n"
    "<body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\n"
    "<h1>It works!</h1>\n"
    "<p>This page was served through <b>zlayer-tunnel</b>: your request reached a public port\n"
    "of the tunnel server, crossed the tunnel to the agent, and the agent fetched this page\n"
    "from a service that is not exposed anywhere else.</p>\n"
    "</body></html>\n";

HttpResponse answer(const HttpRequest& request) {
  if (request.method != "GET") return {405, "text/plain", "method not allowed\n"};
  if (request.path == "/") return {200, "text/html; charset=utf-8", std::string(kPage)};
  if (request.path == "/healthz") return {200, "text/plain", "ok\n"};
  return {};
}

}  // namespace

Result<std::unique_ptr<DemoHttpService>> DemoHttpService::start(uv_loop_t* loop,
                                                                const std::string& host) {
  auto address = resolve_listen_address(host, 0);
  if (!address) return make_error(Errc::config, "demo service: " + address.error().message);
  // Room for a browser's parallel connections and its larger heads, and for a page left open.
  HttpServer::Limits limits;
  limits.max_connections = 256;
  limits.max_request_head = 16 * 1024;
  limits.max_body = 1024 * 1024;
  limits.idle_timeout = std::chrono::seconds(60);
  auto server = HttpServer::listen(loop, "demo service", *address, limits, answer);
  if (!server) return server.take_error();
  return std::unique_ptr<DemoHttpService>(new DemoHttpService(std::move(*server)));
}

}  // namespace zlt
