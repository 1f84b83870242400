// TunnelServer's Prometheus text and readiness. Every figure is one the server keeps anyway
// (the registry, the stream and session counters, the WebSocket server's connection stats);
// label values are registered service names and a fixed set of reasons, never a token or an
// address.
#include <algorithm>
#include <vector>

#include "core/common/chunk.hpp"
#include "core/server/tunnel_server.hpp"
#include "core/session/traffic_metrics.hpp"

namespace zlt {

namespace {

struct ServiceRow {
  std::string name;
  std::string protocol;
  bool internal = false;
  Counters counters;
};

}  // namespace

void TunnelServer::write_metrics(MetricsText& out) const {
  std::vector<ServiceRow> services;
  Counters total;
  std::size_t queued = 0;
  for (const auto& [raw, session] : sessions_) queued += session->queued_bytes();
  for (const auto& [id, t] : registry_.tunnels()) {
    for (const auto& [sid, svc] : t.services)
      services.push_back({svc.name, std::string(proto::service_protocol_name(svc.protocol)),
                          svc.internal, *svc.counters});
  }
  for (const auto& [id, session] : by_tunnel_) total += *session->counters();
  total += finished_;
  std::sort(services.begin(), services.end(),
            [](const ServiceRow& a, const ServiceRow& b) { return a.name < b.name; });

  out.gauge("zlt_server_tunnels", "Agents connected and authenticated (tunnels).",
            static_cast<std::uint64_t>(registry_.tunnel_count()));
  out.gauge("zlt_server_sessions", "Control connections open, authenticated or not.",
            static_cast<std::uint64_t>(sessions_.size()));
  out.family("zlt_server_services", "gauge", "Registered services (1 each).");
  for (const auto& s : services)
    out.sample("zlt_server_services",
               {{"service", s.name},
                {"protocol", s.protocol},
                {"internal", s.internal ? "true" : "false"}},
               std::uint64_t{1});
  std::vector<TrafficRow> rows;
  for (const auto& s : services) rows.push_back({s.name, s.counters});
  write_traffic(out,
                {"zlt_server", "streams", "service", "Streams open per registered service.",
                 "Streams opened per registered service since it registered.",
                 "Payload bytes relayed per registered service since it registered; in: from the "
                 "agent to public clients, out: from public clients to the agent."},
                rows);
  out.family("zlt_server_datagrams_total", "counter",
             "UDP datagrams relayed per registered service (directions as for bytes).");
  for (const auto& s : services) {
    out.sample("zlt_server_datagrams_total", {{"service", s.name}, {"direction", "in"}},
               s.counters.datagrams_in);
    out.sample("zlt_server_datagrams_total", {{"service", s.name}, {"direction", "out"}},
               s.counters.datagrams_out);
  }
  out.family("zlt_server_datagrams_dropped_total", "counter",
             "UDP datagrams dropped per registered service (congestion, full queues).");
  for (const auto& s : services)
    out.sample("zlt_server_datagrams_dropped_total", {{"service", s.name}}, s.counters.drops);
  out.family("zlt_server_traffic_bytes_total", "counter",
             "Payload bytes relayed by every tunnel since the server started, ended ones too.");
  out.sample("zlt_server_traffic_bytes_total", {{"direction", "in"}}, total.bytes_in);
  out.sample("zlt_server_traffic_bytes_total", {{"direction", "out"}}, total.bytes_out);
  out.counter("zlt_server_traffic_streams_total",
              "Streams opened through every tunnel since the server started.", total.streams_total);
  out.family("zlt_server_auth_failures_total", "counter", "Refused Auth messages, by reason.");
  for (const char* reason :
       {"invalid_token", "token_in_use", "server_full", "bad_grant", "registry", "protocol",
        "draining"}) {
    auto it = auth_failures_by_reason_.find(reason);
    out.sample("zlt_server_auth_failures_total", {{"reason", reason}},
               it == auth_failures_by_reason_.end() ? std::uint64_t{0} : it->second);
  }
  out.gauge("zlt_server_grants_active", "Access grants issued and not yet expired or revoked.",
            static_cast<std::uint64_t>(grants_.size()));
  out.gauge("zlt_server_queued_bytes", "Bytes waiting in the sessions' outgoing queues.",
            static_cast<std::uint64_t>(queued));
  out.gauge("zlt_server_buffered_bytes",
            "Bytes held in data buffers process-wide (the max_buffered_bytes figure).",
            static_cast<std::uint64_t>(chunk_bytes_in_use()));
  if (ws_ != nullptr) {
    const WsServer::Stats s = ws_->stats();
    out.gauge("zlt_server_connections", "Connections held by the control listener.",
              static_cast<std::uint64_t>(s.open));
    out.counter("zlt_server_connections_refused_total",
                "Control connections turned away by a connection cap or for lack of file "
                "descriptors.",
                s.refused + s.refused_no_fd);
  }
  out.gauge("zlt_server_ready", "1 while /ready answers 200.",
            static_cast<std::uint64_t>(readiness().ready ? 1 : 0));
  out.gauge("zlt_server_draining", "1 from the start of a graceful drain.",
            static_cast<std::uint64_t>(draining_ ? 1 : 0));
  out.family("zlt_server_config_reloads_total", "counter",
             "Configuration reloads (SIGHUP, the admin API, the C ABI), by result.");
  out.sample("zlt_server_config_reloads_total", {{"result", "success"}}, reloads_ok_);
  out.sample("zlt_server_config_reloads_total", {{"result", "failure"}}, reloads_failed_);
  out.gauge("zlt_server_config_last_reload_successful",
            "0 when the last reload was refused (the running configuration is older than the "
            "file).",
            static_cast<std::uint64_t>(last_reload_ok_ ? 1 : 0));
  if (cluster_) {
    out.gauge("zlt_server_cluster_store_up",
              "1 while the cluster's Redis answers (0: new grants are refused).",
              static_cast<std::uint64_t>(cluster_->available() ? 1 : 0));
    out.gauge("zlt_server_cluster_members", "Members of the cluster as last read, this one included.",
              static_cast<std::uint64_t>(cluster_->members().size() +
                                         (cluster_->members().contains(config_.cluster->node_id) ? 0 : 1)));
  }
}

std::string TunnelServer::metrics() const {
  MetricsText out;
  write_metrics(out);
  out.process_metrics();
  return out.take();
}

Readiness TunnelServer::readiness() const {
  if (stopped_) return {false, "server: stopped"};
  if (is_draining()) return {false, "server: draining"};
  if (listening_.empty()) return {false, "server: not listening"};
  return {true, ""};
}

std::optional<SockAddr> TunnelServer::admin_address() const {
  if (!admin_http_) return std::nullopt;
  return admin_http_->address();
}

}  // namespace zlt
