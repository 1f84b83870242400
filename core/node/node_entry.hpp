// NodeTunnelManager's record of one tunnel, shared by the files that implement the manager
// (node_manager, node_outbound, node_inbound, node_reload, node_status). Not a public header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "core/node/node_manager.hpp"
#include "core/transport/ws_client.hpp"

namespace zlt {

inline constexpr const char* kNodeLog = "node";

inline std::string tunnel_not_found(const std::string& name) {
  return "Tunnel '" + name + "' not found";
}

// A WebSocket upgrade to the overlay URL and nothing more: is the overlay path back?
struct NodeTunnelManager::OverlayProbe final : WsClientEvents {
  std::function<void(bool ok, const std::string& why)> done;
  std::unique_ptr<WsClient> client;
  bool finished = false;

  void on_channel_open() override { finish(true, {}); }
  void on_channel_message(std::span<const std::uint8_t>) override {}
  void on_channel_drain() override {}
  void on_channel_closed(const Error& why) override { finish(false, why.message); }
  void finish(bool ok, const std::string& why) {
    if (finished) return;
    finished = true;
    done(ok, why);
  }
};

struct NodeTunnelManager::Entry {
  config::NodeTunnel configured;  // as given (the token may be absent)
  config::NodeTunnel tunnel;      // with its token
  std::string token_hash;
  NodeTunnelState state = NodeTunnelState::pending;
  std::string reason;
  std::optional<std::chrono::system_clock::time_point> connected_at;
  std::optional<std::chrono::system_clock::time_point> last_activity;
  std::uint64_t reconnects = 0;
  bool ever_connected = false;
  std::uint64_t seen_bytes = 0;
  Counters base;  // traffic of earlier agents and earlier registrations

  // Outbound.
  std::unique_ptr<TunnelAgentObserver> agent_events;  // outlives the agent it observes
  std::unique_ptr<TunnelAgent> agent;
  std::string route;  // "overlay" or "direct"
  std::optional<std::string> route_reason;
  bool session_up = false;  // a session authenticated on the current route
  // preferoverlay on the direct route: the overlay is probed now and then, and used again as
  // soon as it answers.
  Timer probe_timer;
  std::unique_ptr<OverlayProbe> probe;
  std::optional<std::pair<bool, std::string>> probe_result;

  // Inbound.
  std::unique_ptr<PublicService> listener;  // internal tunnels
  std::optional<Uuid> inbound_tunnel;       // the server's tunnel that registered the service
  std::shared_ptr<Counters> service_counters;
  std::optional<std::uint16_t> public_port;
};

}  // namespace zlt
