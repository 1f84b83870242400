// NodeTunnelManager's status: true state, bytes from stream accounting, latency from
// heartbeat round trips, and its JSON form.
#include "core/agent/agent_session.hpp"
#include "core/common/rfc3339.hpp"
#include "core/node/node_entry.hpp"

namespace zlt {

namespace {

nlohmann::json time_or_null(const std::optional<std::chrono::system_clock::time_point>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

}  // namespace

std::string_view node_tunnel_state_name(NodeTunnelState s) {
  switch (s) {
    case NodeTunnelState::pending:
      return "pending";
    case NodeTunnelState::connecting:
      return "connecting";
    case NodeTunnelState::connected:
      return "connected";
    case NodeTunnelState::disconnected:
      return "disconnected";
    case NodeTunnelState::failed:
      return "failed";
  }
  return "?";
}

nlohmann::json NodeTunnelStatus::to_json() const {
  nlohmann::json j = {
      {"name", name},
      {"from", from},
      {"to", to},
      {"direction", direction},
      {"local_port", local_port},
      {"remote_port", remote_port},
      {"state", node_tunnel_state_name(state)},
      {"connected_at", time_or_null(connected_at)},
      {"last_activity", time_or_null(last_activity)},
      {"bytes_in", bytes_in},
      {"bytes_out", bytes_out},
      {"latency_ms", latency_ms ? nlohmann::json(*latency_ms) : nlohmann::json(nullptr)},
      {"reconnects", reconnects}};
  if (!reason.empty() &&
      (state == NodeTunnelState::failed || state == NodeTunnelState::disconnected))
    j["reason"] = reason;
  if (route) j["route"] = *route;
  if (route_reason) j["route_reason"] = *route_reason;
  if (url) j["url"] = *url;
  if (public_port) j["public_port"] = *public_port;
  if (listen) j["listen"] = *listen;
  return j;
}

void NodeTunnelManager::refresh_activity() {
  const auto now = std::chrono::system_clock::now();
  for (auto& e : entries_) {
    NodeTunnelStatus s = snapshot(*e);
    const std::uint64_t total = s.bytes_in + s.bytes_out;
    if (total != e->seen_bytes) {
      e->seen_bytes = total;
      e->last_activity = now;
    }
  }
}

NodeTunnelStatus NodeTunnelManager::snapshot(const Entry& e) const {
  NodeTunnelStatus s;
  const config::NodeTunnel& t = e.tunnel;
  s.name = t.name;
  s.from = t.from;
  s.to = t.to;
  s.local_port = t.local_port;
  s.remote_port = t.remote_port;
  s.direction = is_outbound(e) ? "outbound" : is_inbound(e) ? "inbound" : "none";
  s.state = e.state;
  s.reason = e.reason;
  s.connected_at = e.state == NodeTunnelState::connected ? e.connected_at : std::nullopt;
  s.last_activity = e.last_activity;
  s.reconnects = e.reconnects;
  Counters c = e.base;
  if (e.agent) {
    if (const RegisteredService* svc = e.agent->service(t.name)) {
      c += *svc->counters;
      if (svc->public_port && *svc->public_port != 0) s.public_port = svc->public_port;
    }
    s.route = e.route;
    s.route_reason = e.route_reason;
    s.url = e.agent->config().server_url;
    if (AgentSession* session = e.agent->session()) s.latency_ms = session->rtt_ms();
  }
  if (e.service_counters) c += *e.service_counters;
  if (is_inbound(e)) {
    if (e.public_port && *e.public_port != 0) s.public_port = e.public_port;
    if (e.listener) s.listen = e.listener->address().to_string();
    if (server_ && e.inbound_tunnel) {
      if (server_->tunnel_live(*e.inbound_tunnel))
        s.latency_ms = server_->tunnel_rtt_ms(*e.inbound_tunnel);
    }
  }
  s.bytes_in = c.bytes_in;
  s.bytes_out = c.bytes_out;
  return s;
}

std::optional<NodeTunnelStatus> NodeTunnelManager::get_status(const std::string& name) const {
  const Entry* e = find(name);
  return e ? std::optional(snapshot(*e)) : std::nullopt;
}

std::vector<NodeTunnelStatus> NodeTunnelManager::list_status() const {
  std::vector<NodeTunnelStatus> out;
  for (const auto& e : entries_) out.push_back(snapshot(*e));
  return out;
}

nlohmann::json NodeTunnelManager::status() const {
  nlohmann::json tunnels = nlohmann::json::array();
  for (const auto& e : entries_) tunnels.push_back(snapshot(*e).to_json());
  nlohmann::json server = nullptr;
  if (server_) {
    nlohmann::json listen = nlohmann::json::array();
    for (const auto& a : server_->listen_addresses()) listen.push_back(a.to_string());
    server = {{"listen", listen}, {"sessions", server_->session_count()}};
  }
  return {
      {"node_name", node_name_}, {"running", running_}, {"server", server}, {"tunnels", tunnels}};
}

std::optional<SockAddr> NodeTunnelManager::server_address() const {
  if (!server_ || server_->listen_addresses().empty()) return std::nullopt;
  return server_->listen_addresses().front();
}

std::optional<SockAddr> NodeTunnelManager::inbound_address(const std::string& name) const {
  const Entry* e = find(name);
  if (e == nullptr || !e->listener) return std::nullopt;
  return e->listener->address();
}

}  // namespace zlt
