// NodeTunnelManager: node-to-node tunnels that really work. A tunnel whose
// `from` is this node is an outbound tunnel: one TunnelAgent registering one service (INTERNAL
// when expose is internal) with the destination's tunnel server, reached directly or through
// the overlay (routing_mode). A tunnel whose `to` is this node is inbound: the manager runs the
// server side (a TunnelServer accepting only its inbound tunnels' tokens) and, for an internal
// tunnel, a listener on internal_bind:remote_port whose connections reach the service the same
// way a public port's do. Status is true: connected only once the service is registered,
// bytes from stream accounting, latency from heartbeat round trips. Loop-thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/agent/agent.hpp"
#include "core/common/error.hpp"
#include "core/common/observer_slot.hpp"
#include "core/config/config.hpp"
#include "core/node/overlay.hpp"
#include "core/runtime/deferred_delete.hpp"
#include "core/runtime/runtime.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/server/tunnel_server.hpp"
#include "core/session/counters.hpp"
#include "core/transport/sockaddr.hpp"
#include "zlt/node_events.hpp"

namespace zlt {

enum class NodeTunnelState { pending, connecting, connected, disconnected, failed };
// "pending", "connecting", "connected", "disconnected", "failed"
std::string_view node_tunnel_state_name(NodeTunnelState s);

struct NodeTunnelStatus {
  using WallClock = std::chrono::system_clock;
  std::string name;
  std::string from;
  std::string to;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  std::string direction;  // "outbound", "inbound" or "none" (neither end is this node)
  NodeTunnelState state = NodeTunnelState::pending;
  std::string reason;  // why it failed or last disconnected (empty if never)
  std::optional<WallClock::time_point> connected_at;
  std::optional<WallClock::time_point> last_activity;
  std::uint64_t bytes_in = 0;                // arrived through the tunnel (toward the local socket)
  std::uint64_t bytes_out = 0;               // went into the tunnel
  std::optional<double> latency_ms;          // smoothed heartbeat round trip
  std::uint64_t reconnects = 0;              // connections after the first
  std::optional<std::string> route;          // outbound: "overlay" or "direct"
  std::optional<std::string> route_reason;   // why it is not the overlay (a fallback), if so
  std::optional<std::string> url;            // outbound: the URL in use
  std::optional<std::uint16_t> public_port;  // public tunnels, once registered
  std::optional<std::string> listen;         // internal inbound: the listener's address

  // {"name", "from", "to", "direction", "local_port", "remote_port", "state", "reason"
  //  (failed/disconnected only), "connected_at", "last_activity" (RFC 3339 or null),
  //  "bytes_in", "bytes_out", "latency_ms" (or null), "reconnects", and when known "route",
  //  "route_reason", "url", "public_port", "listen"}.
  nlohmann::json to_json() const;
};

class NodeTunnelManager final : public Runtime::Participant, private TunnelServerObserver {
 public:
  // `server`: the inbound side (absent: this node accepts no tunnels). `settings` supplies the
  // agent timings, TLS options and internal_bind; its node_name, server and tunnels are
  // ignored. Errors are Errc::config. Loop-thread only.
  static Result<std::unique_ptr<NodeTunnelManager>> create(
      Runtime& runtime, std::string node_name,
      std::optional<config::TunnelServerConfig> server = std::nullopt,
      config::NodeConfig settings = {});
  // A manager for a whole node configuration, its tunnels added (not started).
  static Result<std::unique_ptr<NodeTunnelManager>> create(Runtime& runtime,
                                                           const config::NodeConfig& node);
  ~NodeTunnelManager() override;
  NodeTunnelManager(const NodeTunnelManager&) = delete;
  NodeTunnelManager& operator=(const NodeTunnelManager&) = delete;

  // The one observer of this manager's events (null: none), called on the loop thread. Not
  // owned: it must outlive the manager or be unset first. Hosts wanting JSON use
  // JsonNodeObserver (zlt/event_json.hpp).
  void set_observer(NodeTunnelObserver* observer) { observers_.set(observer); }
  // Consulted whenever an outbound tunnel picks its URL.
  void set_overlay_resolver(OverlayResolver resolver) { resolver_ = std::move(resolver); }

  // Starts the inbound side (listens on server.listen, binds internal listeners) and every
  // outbound tunnel; tunnels added later start at once. Errors: the server cannot listen.
  Status start();
  bool running() const { return running_; }

  // Errors in the original's words: Errc::registry "Tunnel '{name}' already exists"; a
  // tunnel that fails validation: Errc::config naming the field. A missing token is generated
  // ("tun_" + 32 hex digits), as the original did.
  Status add_tunnel(config::NodeTunnel tunnel);
  // Stops it (an inbound tunnel's session is disconnected). Errc::registry
  // "Tunnel '{name}' not found".
  Status remove_tunnel(const std::string& name);
  std::optional<config::NodeTunnel> get_tunnel(const std::string& name) const;
  std::vector<config::NodeTunnel> list_tunnels() const;
  std::vector<config::NodeTunnel> outbound_tunnels() const;  // from == this node
  std::vector<config::NodeTunnel> inbound_tunnels() const;   // to == this node
  std::size_t outbound_count() const;
  std::size_t inbound_count() const;
  std::size_t tunnel_count() const { return entries_.size(); }
  bool is_tunnel_active(const std::string& name) const;  // connected

  // Errc::registry "Tunnel '{name}' not found"; Errc::config "Tunnel '{name}' source is
  // '{from}', not this node '{node}'", "Tunnel has no token". Already started: nothing to do.
  // A routing failure (overlayonly without an overlay URL) is the tunnel's failed state.
  Status start_outbound(const std::string& name);
  // Errc::registry "No active outbound tunnel '{name}'".
  Status stop_outbound(const std::string& name);
  // Stops every tunnel and the server; every status becomes disconnected. Idempotent. Not
  // from inside an observer callback (it destroys what is calling).
  void shutdown() override;

  // Reload: tunnels added, removed or changed in `node` start and stop; the others are not
  // touched (an inbound tunnel whose source-side fields alone changed keeps running).
  // node_name cannot change (Errc::config); a changed server is logged and needs a restart.
  // The new agent settings apply to tunnels started from now on.
  Status apply(const config::NodeConfig& node);

  std::optional<NodeTunnelStatus> get_status(const std::string& name) const;
  std::vector<NodeTunnelStatus> list_status() const;
  // {"node_name", "server": {...} or null, "tunnels": [NodeTunnelStatus::to_json...]}.
  nlohmann::json status() const;
  // The Prometheus text: the zlt_node_* families, the inbound server's zlt_server_* families
  // when it has one, then zlt_build_info and the process metrics (node_metrics.cpp).
  std::string metrics() const;
  // Ready: every tunnel this node takes part in is connected; otherwise the first that is not.
  Readiness readiness() const;

  const std::string& node_name() const { return node_name_; }
  const std::optional<config::TunnelServerConfig>& server_config() const { return server_config_; }
  // The inbound side's control address, once listening.
  std::optional<SockAddr> server_address() const;
  // An internal inbound tunnel's listener, once bound.
  std::optional<SockAddr> inbound_address(const std::string& name) const;
  TunnelServer* server() { return server_.get(); }

 private:
  struct Entry;
  struct OverlayProbe;
  NodeTunnelManager(Runtime& runtime, std::string node_name,
                    std::optional<config::TunnelServerConfig> server, config::NodeConfig settings);

  Entry* find(const std::string& name);
  const Entry* find(const std::string& name) const;
  bool is_outbound(const Entry& e) const;
  bool is_inbound(const Entry& e) const;
  void set_state(Entry& e, NodeTunnelState state, std::string reason = {});
  void stop_entry(Entry& e, const std::string& reason);
  Status start_server();
  void bind_inbound(Entry& e);
  class AgentEvents;
  void outbound_registered(Entry& e);
  void outbound_disconnected(Entry& e, const std::string& why, bool fatal);
  void arm_overlay_probe(Entry& e);
  void probe_overlay(Entry& e);
  // TunnelServerObserver: the inbound side.
  void on_service_registered(const ServiceRegistered& ev) override;
  void on_service_unregistered(const ServiceUnregistered& ev) override;
  void on_tunnel_disconnected(const TunnelDisconnected& ev) override;
  void attach_inbound(Entry& e, const Uuid& tunnel_id);
  void detach_inbound(Entry& e, NodeTunnelState state, const std::string& reason);
  Result<TokenGrant> check_token(const std::string& token_hash) const;
  void refresh_activity();
  NodeTunnelStatus snapshot(const Entry& e) const;
  void bury(std::unique_ptr<TunnelAgent> agent);

  Runtime& runtime_;
  std::string node_name_;
  std::optional<config::TunnelServerConfig> server_config_;
  config::NodeConfig settings_;
  std::vector<std::unique_ptr<Entry>> entries_;  // in the order added
  std::unique_ptr<TunnelServer> server_;
  OverlayResolver resolver_;
  ObserverSlot<NodeTunnelObserver> observers_;
  Timer activity_timer_;
  // Agents and tunnels stopped from inside their own callbacks die on the next loop turn.
  // Declared after everything they use, so whatever is still pending goes first.
  DeferredDelete deferred_;
  bool running_ = false;
  bool registered_participant_ = false;
};

}  // namespace zlt
