// TunnelServer: the server side as one object — the WebSocket control endpoint, the registry,
// the token policy, the public service sockets and every session. Loop-thread only; the C ABI
// and the CLI reach it through the runtime.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cluster/cluster_store.hpp"
#include "core/common/observer_slot.hpp"
#include "core/config/config.hpp"
#include "core/runtime/metrics_text.hpp"
#include "core/runtime/runtime.hpp"
#include "core/server/auth_throttle.hpp"
#include "core/server/grants.hpp"
#include "core/server/public_ports.hpp"
#include "core/server/public_service.hpp"
#include "core/server/registry.hpp"
#include "core/server/server_session.hpp"
#include "core/server/token_auth.hpp"
#include "core/transport/http_server.hpp"
#include "core/transport/ws_server.hpp"
#include "zlt/events.hpp"

namespace zlt {

// What a reload did (TunnelServer::reload).
struct ServerReload {
  std::size_t tokens = 0;   // configured token entries now
  std::size_t revoked = 0;  // sessions ended: their token is no longer accepted
  // Sessions ended so they reconnect: a service they hold is not allowed by their token now.
  std::size_t reconnected = 0;
  bool tls_reloaded = false;  // the certificate and key were read again
  // Changed fields that take effect only at a restart ("listen", ...); their running values
  // are kept.
  std::vector<std::string> needs_restart;
  nlohmann::json to_json() const;
};

class TunnelServer final : public WsServer::Handler, public Runtime::Participant {
 public:
  // Where reload() without an argument reads the configuration (the CLI: its file and flags).
  using ConfigSource = std::function<Result<config::TunnelServerConfig>()>;

  // Features this server grants to v2 peers.
  static constexpr std::uint32_t kFeatures =
      proto::feature::kStreams | proto::feature::kDatagrams | proto::feature::kOpen |
      proto::feature::kClientHeartbeat | proto::feature::kServiceRouting;

  // Validates the configuration. Loop-thread only.
  static Result<std::unique_ptr<TunnelServer>> create(Runtime& runtime,
                                                      config::TunnelServerConfig config);
  ~TunnelServer() override;
  TunnelServer(const TunnelServer&) = delete;
  TunnelServer& operator=(const TunnelServer&) = delete;

  // Listens on host:port (port 0: the kernel chooses); an absent host or port is config.listen's.
  Result<SockAddr> listen(std::optional<std::string_view> host = std::nullopt,
                          std::optional<std::uint16_t> port = std::nullopt);
  // Serves an already accepted TCP connection (the original's handle_connection). The fd is
  // the server's from here on, whatever the result: it is closed on failure.
  Status accept(int fd);
  // Replaces the configured token policy with a host decision.
  void set_token_validator(TokenValidator validator) { validator_ = std::move(validator); }
  // The one observer of this server's events (null: none), called on the loop thread. Not
  // owned: it outlives the server or is unset first. Hosts wanting JSON pass a
  // JsonTunnelServerObserver (zlt/event_json.hpp).
  void set_observer(TunnelServerObserver* observer) { observers_.set(observer); }

  // Ends every session (Disconnect{"server shutting down"}), closes every socket.
  void stop();
  bool stopped() const { return stopped_; }
  // A graceful stop: no new sessions, public connections, registrations or Opens from now on
  // (/ready answers 503); the open streams carry on until they end or `grace` has passed,
  // then stop() ends the rest and `on_stopped` runs (on the loop thread). A second drain, or
  // stop(), cuts the grace short.
  void drain(std::chrono::milliseconds grace, std::function<void()> on_stopped = {});
  // Streams open now, every session's together.
  std::size_t active_streams() const;

  // Applies a new configuration without dropping anything it still allows: the tokens (a
  // session whose token is gone gets Disconnect{"fatal: token revoked"}), their allow lists,
  // the limits (for what is opened from now on), the admin token and the TLS certificate and
  // key (new handshakes use them). Fields bound to a socket (listen, public_bind, ...) keep
  // their running values until a restart and are named in the report. An invalid
  // configuration, or a certificate that does not load, changes nothing (Errc::config).
  Result<ServerReload> reload(config::TunnelServerConfig next);
  // The same with a configuration from the source (Errc::unsupported without one).
  Result<ServerReload> reload();
  void set_config_source(ConfigSource source) { config_source_ = std::move(source); }
  bool can_reload() const { return static_cast<bool>(config_source_); }

  nlohmann::json status() const;
  // The Prometheus text of this server: the zlt_server_* families, then zlt_build_info and the
  // process metrics (server_metrics.cpp).
  std::string metrics() const;
  // Only the zlt_server_* families (a node adds its own around them).
  void write_metrics(MetricsText& out) const;
  // Ready: listening, not stopped and not draining; otherwise the reason.
  Readiness readiness() const;
  // A graceful drain has begun (no new sessions or public connections).
  bool is_draining() const { return draining_; }
  // The address of the separate admin listener (config admin_listen), once listening.
  std::optional<SockAddr> admin_address() const;

  // Access grants (also served by the admin HTTP API). A revoked or expired grant's session
  // is disconnected with Disconnect{"fatal: token revoked"/"fatal: token expired"} at once.
  Result<IssuedGrant> grant_access(const GrantRequest& request);
  Status revoke_access(const Uuid& grant_id);
  nlohmann::json list_grants() const;
  // The cluster this server is a member of (config "cluster"), or null when standalone.
  const ClusterStore* cluster() const { return cluster_.get(); }
  // GET /admin/v1/cluster: this member, the store's state and every member as last read.
  nlohmann::json cluster_status() const;
  const std::vector<SockAddr>& listen_addresses() const { return listening_; }
  TunnelRegistry& registry() { return registry_; }
  const config::TunnelServerConfig& config() const { return config_; }
  Runtime& runtime() { return runtime_; }
  std::size_t session_count() const { return sessions_.size(); }
  // Real bytes held in buffers process-wide are above max_buffered_bytes: new streams are
  // refused ("server busy") instead of growing memory further.
  bool busy() const;
  // One tunnel by its id, for what lies outside the server's own public ports (a node's
  // internal listener, a node removing a tunnel). Each acts on the tunnel's live session;
  // without one there is nothing to do.
  // A session serves the tunnel now.
  bool tunnel_live(const Uuid& tunnel_id) const;
  // Ends the session with a normal close (its streams, spliced halves too).
  void end_tunnel(const Uuid& tunnel_id, const std::string& reason);
  // Routes `listener`'s connections to the session as `service`. False: no live session.
  bool attach_listener(PublicService& listener, const Uuid& tunnel_id,
                       const TunnelService& service);
  // The session's smoothed heartbeat round trip, once measured.
  std::optional<double> tunnel_rtt_ms(const Uuid& tunnel_id) const;

  // WsServer::Handler
  void on_ws_open(Channel& channel) override;
  HttpResponse on_http(const HttpRequest& request) override;
  // Runtime::Participant
  void shutdown() override { teardown(); }

 private:
  friend class ServerSession;
  friend class PublicService;

  TunnelServer(Runtime& runtime, config::TunnelServerConfig config);
  void teardown();
  TunnelServerObserver& observer() { return observers_.get(); }
  // The live session of a tunnel (null if none).
  ServerSession* session_for_tunnel(const Uuid& tunnel_id) const;

  // ---- used by sessions ----
  Result<TokenGrant> validate_token(std::string_view token, const std::string& token_hash);
  // A token from `peer` ("ip:port") was refused: how long to wait before saying so, and
  // whether to log it.
  AuthFailureThrottle::Verdict auth_failed(const std::string& peer);
  // An Auth was refused; `reason` is one of a fixed few ("invalid_token", "token_in_use",
  // "server_full", "bad_grant", "registry", "protocol"): the label of
  // zlt_server_auth_failures_total.
  void count_auth_failure(const char* reason) { ++auth_failures_by_reason_[reason]; }
  void tunnel_opened(ServerSession& session);
  // Hands `old`'s tunnel to a successor: its public sockets are kept for the successor's
  // registrations, the tunnel leaves the registry, and `old` is ended.
  void take_over(ServerSession& old);
  PublicPorts& public_ports() { return public_ports_; }
  // The session is gone (last call for it).
  void session_closed(ServerSession& session, const Error& why);

  // Until when an ended tunnel's service names stay its token's (TunnelRegistry).
  std::chrono::steady_clock::time_point name_hold_until() const;
  // Ends the session holding `token_hash` (if any) with a fatal Disconnect.
  void disconnect_token(const std::string& token_hash, const std::string& reason);
  // Forgets a grant and ends its session ("fatal: token revoked"); one path for a revocation
  // here and one learnt from the cluster.
  std::optional<AccessGrant> drop_grant(const Uuid& id);
  // ---- cluster membership (server_cluster.cpp) ----
  void start_cluster();
  void cluster_availability(bool available);
  void adopt_cluster_grant(const std::string& id, const std::string& record);
  void reconcile_cluster_grants(const std::map<std::string, std::string>& records,
                                std::uint64_t generation);
  nlohmann::json cluster_member_status() const;
  void arm_grant_timer();
  void expire_grants();
  void save_grants();
  void check_drained();
  Result<ServerReload> apply_reload(config::TunnelServerConfig next);
  // Reload: re-checks every live session's token against the new configuration.
  void recheck_sessions(ServerReload& report);
  nlohmann::json connection_status() const;

  Runtime& runtime_;
  config::TunnelServerConfig config_;
  ConfiguredTokens tokens_;
  TokenValidator validator_;
  ObserverSlot<TunnelServerObserver> observers_;
  TunnelRegistry registry_;
  std::unique_ptr<WsServer> ws_;
  std::vector<SockAddr> listening_;
  std::unordered_map<ServerSession*, std::unique_ptr<ServerSession>> sessions_;
  std::unordered_map<Uuid, ServerSession*, UuidHash> by_tunnel_;
  PublicPorts public_ports_;
  Counters finished_;  // traffic of sessions that have ended
  GrantStore grants_;
  Timer grant_timer_;
  std::unique_ptr<ClusterStore> cluster_;
  // When each grant was learnt, on the store's generation counter (reconciliation).
  std::map<Uuid, std::uint64_t> grant_generation_;
  AuthFailureThrottle auth_failures_;
  std::map<std::string, std::uint64_t> auth_failures_by_reason_;
  std::unique_ptr<HttpServer> admin_http_;  // config admin_listen
  ConfigSource config_source_;
  std::uint64_t reloads_ok_ = 0;
  std::uint64_t reloads_failed_ = 0;
  bool last_reload_ok_ = true;
  bool stopped_ = false;
  bool draining_ = false;
  Timer drain_timer_;
  std::uint64_t drain_deadline_ms_ = 0;
  std::function<void()> on_drained_;
  bool registered_participant_ = false;
};

}  // namespace zlt
