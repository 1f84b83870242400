// The WebSocket server: libwebsockets on the runtime's loop (foreign loop). It serves one
// control path for the tunnel protocol, plain HTTP requests for everything else (/healthz,
// the admin API), plain or TLS. Sockets are accepted by us (listen) or handed over by the host
// (adopt) — one mechanism for both: every connection is held by a WsGuard (ws_guard.hpp), which
// does TLS, checks every client frame and hands libwebsockets one end of a socketpair.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/runtime/runtime.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/transport/admission.hpp"
#include "core/transport/channel.hpp"
#include "core/transport/http_message.hpp"
#include "core/transport/sockaddr.hpp"

struct lws;
struct lws_vhost;

namespace zlt {

class WsServer {
 public:
  struct Options {
    std::string name = "server";  // for logs
    std::string control_path = "/tunnel/v1";
    std::optional<std::string> tls_cert;  // PEM files: both set = wss
    std::optional<std::string> tls_key;
    std::chrono::milliseconds handshake_timeout{10000};  // TCP accept -> upgrade complete
    std::size_t max_http_body = 64 * 1024;
    // Connection caps: every connection, unauthenticated ones, unauthenticated ones per source
    // address (admission.hpp). A refused peer gets an HTTP 503 naming the cap (plain
    // listeners; TLS ones close the connection).
    Admission::Limits limits;
  };

  struct Stats {
    std::size_t open = 0;     // connections held (WebSocket and plain HTTP)
    std::size_t pending = 0;  // of those, not authenticated
    std::uint64_t refused = 0;        // turned away by a cap
    std::uint64_t evicted = 0;        // unauthenticated, closed to make room for a newcomer
    std::uint64_t refused_no_fd = 0;  // turned away for lack of file descriptors
  };

  class Handler {
   public:
    virtual ~Handler() = default;
    // A WebSocket on the control path is open. The handler sets the channel's events; the
    // channel lives until its on_channel_closed has returned.
    virtual void on_ws_open(Channel& channel) = 0;
    // Any other HTTP request (GET /healthz is answered before this is asked).
    virtual HttpResponse on_http(const HttpRequest& request) = 0;
  };

  // Loop-thread only.
  static Result<std::unique_ptr<WsServer>> create(Runtime& runtime, Options options,
                                                  Handler* handler);
  ~WsServer();
  WsServer(const WsServer&) = delete;
  WsServer& operator=(const WsServer&) = delete;

  // Binds and accepts on host:port (port 0 = kernel's choice); returns the bound address.
  Result<SockAddr> listen(std::string_view host, std::uint16_t port);
  // Takes ownership of an already accepted, connected TCP socket.
  Status adopt(int fd);
  // Stops accepting and closes every connection (open channels see on_channel_closed).
  void close_all();
  // Stops accepting; the connections held stay (a drain).
  void stop_accepting();
  // Reads the certificate chain and key again (a rotation): handshakes from now on use them,
  // live connections keep theirs. A file that does not load changes nothing (Errc::config).
  Status reload_tls(const std::string& cert, const std::string& key);
  // New caps and handshake deadline for the connections accepted from now on.
  void set_limits(Admission::Limits limits, std::chrono::milliseconds handshake_timeout);

  bool tls() const { return options_.tls_cert.has_value(); }
  std::size_t connection_count() const;
  // The channel's peer has authenticated: its connection no longer counts as unauthenticated.
  void authenticated(Channel& channel);
  Stats stats() const;

  struct Impl;  // libwebsockets glue (ws_server.cpp)

 private:
  WsServer() = default;
  std::unique_ptr<Impl> impl_;
  Options options_;
};

}  // namespace zlt
