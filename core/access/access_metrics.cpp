// AccessManager's Prometheus text and readiness: its sessions' counters (real bytes through
// each local listener), the agent's connection families, the probes' outcomes. Label values
// are session targets, as the operator gave them.
#include "core/access/access_manager.hpp"

#include <vector>

#include "core/session/traffic_metrics.hpp"

namespace zlt {

std::string AccessManager::metrics() const {
  MetricsText out;
  out.gauge("zlt_access_sessions", "Access sessions open (each a local listener).",
            static_cast<std::uint64_t>(sessions_.size()));
  std::vector<SessionInfo> infos;
  for (const auto& e : sessions_) infos.push_back(snapshot(*e));
  std::vector<TrafficRow> rows;
  for (const auto& s : infos) rows.push_back({s.target, s.traffic});
  write_traffic(out,
                {"zlt_access", "connections", "target",
                 "Connections open through each session's listener, by target.",
                 "Connections accepted by each session's listener, by target.",
                 "Payload bytes relayed per session, by target; in: from the server to local "
                 "clients, out: from local clients to the server."},
                rows);
  out.gauge("zlt_access_ready", "1 while /ready answers 200.",
            std::uint64_t{readiness().ready ? 1u : 0u});
  agent_->write_metrics(out);
  out.process_metrics();
  return out.take();
}

Readiness AccessManager::readiness() const {
  if (fatal_reason_) return {false, "access: ended by the server: " + *fatal_reason_};
  Readiness agent = agent_->readiness();
  if (!agent.ready) {
    std::string reason = agent.reason;
    if (reason.starts_with("agent: ")) reason.replace(0, 5, "access");
    return {false, reason};
  }
  if (sessions_.empty()) return {false, "access: no listener bound"};
  for (const auto& e : sessions_) {
    const SessionInfo s = snapshot(*e);
    if (s.protocol != proto::ServiceProtocol::tcp) continue;  // UDP targets are not probed
    auto it = probes_->find(s.target);
    if (it == probes_->end()) return {false, "access: " + s.target + " not probed yet"};
    if (it->second.outcome == ProbeResult::Outcome::refused)
      return {false, "access: the server refused " + s.target + ": " + it->second.reason};
    if (it->second.outcome == ProbeResult::Outcome::no_answer)
      return {false, "access: no answer probing " + s.target + ": " + it->second.reason};
  }
  return {true, ""};
}

}  // namespace zlt
