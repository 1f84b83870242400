// NodeTunnelManager's Prometheus text and readiness, from the same snapshots as its status
// (true state, bytes from stream accounting). Label values are configured tunnel names.
#include "core/node/node_entry.hpp"

namespace zlt {

std::string NodeTunnelManager::metrics() const {
  MetricsText out;
  std::vector<NodeTunnelStatus> tunnels = list_status();
  out.gauge("zlt_node_tunnels", "Node tunnels configured.",
            static_cast<std::uint64_t>(tunnels.size()));
  out.family("zlt_node_tunnel_state", "gauge", "1 for each tunnel's current state.");
  for (const auto& t : tunnels)
    for (NodeTunnelState s :
         {NodeTunnelState::pending, NodeTunnelState::connecting, NodeTunnelState::connected,
          NodeTunnelState::disconnected, NodeTunnelState::failed})
      out.sample("zlt_node_tunnel_state",
                 {{"tunnel", t.name}, {"state", node_tunnel_state_name(s)}},
                 std::uint64_t{t.state == s ? 1u : 0u});
  out.family(
      "zlt_node_tunnel_bytes_total", "counter",
      "Payload bytes through each tunnel; in: arrived through the tunnel, out: sent into it.");
  for (const auto& t : tunnels) {
    out.sample("zlt_node_tunnel_bytes_total", {{"tunnel", t.name}, {"direction", "in"}},
               t.bytes_in);
    out.sample("zlt_node_tunnel_bytes_total", {{"tunnel", t.name}, {"direction", "out"}},
               t.bytes_out);
  }
  out.family("zlt_node_tunnel_reconnects_total", "counter",
             "Connections of each outbound tunnel after its first.");
  for (const auto& t : tunnels)
    out.sample("zlt_node_tunnel_reconnects_total", {{"tunnel", t.name}}, t.reconnects);
  out.family("zlt_node_tunnel_rtt_seconds", "gauge",
             "Smoothed heartbeat round trip of each connected tunnel, in seconds.");
  for (const auto& t : tunnels)
    if (t.latency_ms)
      out.sample("zlt_node_tunnel_rtt_seconds", {{"tunnel", t.name}}, *t.latency_ms / 1000.0);
  out.gauge("zlt_node_ready", "1 while /ready answers 200.",
            std::uint64_t{readiness().ready ? 1u : 0u});
  if (server_) server_->write_metrics(out);
  out.process_metrics();
  return out.take();
}

Readiness NodeTunnelManager::readiness() const {
  for (const auto& t : list_status()) {
    if (t.direction == "none" || t.state == NodeTunnelState::connected) continue;
    std::string reason =
        "node: tunnel " + t.name + " " + std::string(node_tunnel_state_name(t.state));
    if (!t.reason.empty()) reason += ": " + t.reason;
    return {false, reason};
  }
  return {true, ""};
}

}  // namespace zlt
