// The public socket of one registered service: a TCP listener or a UDP socket on
// public_bind:port. It hands new connections (TCP) or new peers (UDP) to the session that
// owns the service. Between a session takeover and the new session's registration it is
// detached: TCP connections wait in the backlog, UDP datagrams are dropped.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/uuid.hpp"
#include "core/protocol/message.hpp"
#include "core/runtime/log_throttle.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/udp_demux.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

class ServerSession;
struct TunnelService;

class PublicService {
 public:
  struct Limits {
    // TCP: live connections from one source address (0: no limit); one more is reset at once.
    std::size_t max_conns_per_source = 0;
    // UDP: peers (flows) at once; a new peer beyond that ends the least recently used flow.
    std::size_t max_udp_flows = 1024;
  };

  // Binds host:port (port 0: the kernel chooses). Errors carry the OS reason.
  static Result<std::unique_ptr<PublicService>> bind(uv_loop_t* loop,
                                                     proto::ServiceProtocol protocol,
                                                     const std::string& host, std::uint16_t port);
  ~PublicService();
  PublicService(const PublicService&) = delete;
  PublicService& operator=(const PublicService&) = delete;

  std::uint16_t port() const { return address_.port(); }
  const SockAddr& address() const { return address_; }
  proto::ServiceProtocol protocol() const { return protocol_; }
  const std::string& service_name() const { return service_name_; }
  ServerSession* session() const { return session_; }

  // Routes this socket's traffic to `session` as service `service`.
  void attach(ServerSession& session, const TunnelService& service);
  // Stops routing (takeover gap). UDP peers' streams are gone with their session.
  void detach();
  // What a detached TCP socket does with new connections: hold them in the backlog until the
  // next attach (the default, for takeovers), or reset them at once (a node's internal
  // listener while its tunnel is down, so clients fail fast instead of hanging).
  void set_hold_while_detached(bool hold) { hold_while_detached_ = hold; }
  void set_limits(Limits limits);
  // A drain: TCP closes its listener (new clients are refused by the kernel), UDP drops
  // datagrams from new peers; connections and flows already open carry on.
  void stop_accepting();
  std::size_t peer_count() const { return udp_ ? udp_->peer_count() : 0; }

 private:
  PublicService() = default;
  void accept_pending();
  static void on_connection(uv_stream_t* server, int status);

  uv_loop_t* loop_ = nullptr;
  proto::ServiceProtocol protocol_ = proto::ServiceProtocol::tcp;
  SockAddr address_;
  UvHandle<uv_tcp_t> tcp_;
  std::unique_ptr<UdpDemux> udp_;
  ServerSession* session_ = nullptr;
  Uuid service_id_;
  std::string service_name_;
  int pending_connections_ = 0;  // TCP connections held while detached
  bool hold_while_detached_ = true;
  bool accepting_ = true;
  Limits limits_;
  // Live public TCP connections per source address; each connection holds a slot that gives
  // its count back when the connection ends, even after this socket has gone.
  using SourceCounts = std::unordered_map<std::string, std::size_t>;
  std::shared_ptr<SourceCounts> live_by_source_ = std::make_shared<SourceCounts>();
  LogThrottle refusal_log_;
  LogThrottle accept_error_log_;
};

}  // namespace zlt
