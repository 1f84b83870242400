// The server's end of one control channel: authentication, registrations, heartbeats, and
// the streams of the public connections and Opens that belong to this tunnel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/protocol/open_target.hpp"
#include "core/server/server_session_v1.hpp"
#include "core/server/token_auth.hpp"
#include "core/session/rtt.hpp"
#include "core/session/session.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

class TunnelServer;
class UdpDemux;
struct TunnelService;

class ServerSession final : public Session {
 public:
  ServerSession(TunnelServer& server, Channel& channel);
  ~ServerSession() override;

  bool authenticated() const { return tunnel_id_.has_value(); }
  const std::optional<Uuid>& tunnel_id() const { return tunnel_id_; }
  const Uuid& client_id() const { return client_id_; }
  const TokenGrant& grant() const { return grant_; }
  const std::string& token_hash() const { return token_hash_; }
  // A reload changed this session's token entry: its Registers and Opens from now on follow
  // `grant`. False (nothing changed) if a service already registered would not be allowed
  // under it: the session must reconnect and register again.
  bool update_grant(TokenGrant grant);

  // A public client reached one of this tunnel's services. `slot` (if any) lives as long as
  // the connection (a per-source count).
  void open_public_tcp(const TunnelService& service, UvHandle<uv_tcp_t> socket,
                       std::shared_ptr<void> slot = nullptr);
  // The first datagram from a new peer of a UDP service; returns the stream to feed it to.
  Stream* open_public_udp(UdpDemux& socket, const TunnelService& service, const SockAddr& peer);
  // The owner's half of a spliced stream: another session opened `service:NAME` of this tunnel.
  // Returns null if this session cannot take it (v1, at its stream limit, ending).
  Stream* open_spliced(const TunnelService& service, proto::ServiceProtocol protocol,
                       const std::string& client_addr);

  // This tunnel's service `id` as the registry knows it (null if gone).
  TunnelService* server_service(const Uuid& id);

  // The tunnel is handed to a successor (takeover): forget it without releasing anything.
  void release_tunnel() { tunnel_id_.reset(); }
  // Smoothed heartbeat round trip; none before the first acknowledgement.
  std::optional<double> rtt_ms() const { return rtt_.ms(); }
  nlohmann::json status() const;

 protected:
  void handle_control(proto::Message& message) override;
  void on_session_closed(const Error& why) override;
  bool may_send_disconnect() const override { return true; }

 private:
  void handle_auth(proto::Auth& auth);
  void handle_register(proto::Register& reg);
  void handle_unregister(const proto::Unregister& unreg);
  void handle_open(proto::Open& open);
  void open_service_target(const proto::Open& open, const std::string& name);
  void heartbeat_tick();
  // AuthFail{reason} and the end of the session, after `delay` (a guessing source waits).
  void refuse_auth(const std::string& reason,
                   std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  bool at_stream_limit() const;
  // The one way this server opens a stream toward the agent (a public TCP connection, a UDP
  // peer, the owner's half of a splice): Connect{service, id, client}, answered within
  // connect_timeout. `endpoint` makes the stream's local side (null: none, a spliced half).
  using EndpointFactory = std::function<std::unique_ptr<StreamEndpoint>(Stream&)>;
  Stream& open_stream(const TunnelService& service, proto::ServiceProtocol protocol,
                      const std::string& client, const EndpointFactory& endpoint);

  TunnelServer& server_;
  std::optional<Uuid> tunnel_id_;
  Uuid client_id_;
  std::string token_hash_;
  TokenGrant grant_;
  AllowList allow_;
  Timer auth_timer_;
  bool refusing_ = false;  // a delayed AuthFail is pending
  Timer heartbeat_timer_;
  std::uint64_t last_ack_ms_ = 0;
  RttEstimator rtt_;
  V1Connections v1_;  // public connections announced to a v1 agent
};

}  // namespace zlt
