// TunnelAgent's Prometheus text and readiness, from the counters the agent keeps anyway: each
// configured service's counters (kept across reconnects), the session's heartbeat round trip.
// Label values are configured service names.
#include <cmath>

#include "core/agent/agent.hpp"
#include "core/agent/agent_session.hpp"
#include "core/session/traffic_metrics.hpp"

namespace zlt {

void TunnelAgent::write_metrics(MetricsText& out) const {
  const bool connected = state_ == AgentState::connected;
  out.gauge("zlt_agent_connected", "1 while the agent is connected and authenticated.",
            std::uint64_t{connected ? 1u : 0u});
  out.family("zlt_agent_state", "gauge", "1 for the agent's current connection state.");
  for (AgentState s : {AgentState::disconnected, AgentState::connecting, AgentState::connected,
                       AgentState::reconnecting})
    out.sample("zlt_agent_state", {{"state", agent_state_name(s)}},
               std::uint64_t{s == state_ ? 1u : 0u});
  out.counter("zlt_agent_reconnects_total", "Sessions re-established after one was lost.",
              reconnects_);
  std::optional<double> rtt;
  if (session_ && session_->authenticated()) rtt = session_->rtt_ms();
  out.gauge("zlt_agent_heartbeat_rtt_seconds",
            "Smoothed heartbeat round trip to the server, in seconds (NaN until measured).",
            rtt ? *rtt / 1000.0 : std::nan(""));
  out.family("zlt_agent_service_registered", "gauge",
             "1 for each configured service registered with the server now.");
  for (const auto& s : services_)
    out.sample("zlt_agent_service_registered", {{"service", s.config.name}},
               std::uint64_t{s.is_registered() ? 1u : 0u});
  std::vector<TrafficRow> rows;
  for (const auto& s : services_) rows.push_back({s.config.name, *s.counters});
  write_traffic(out,
                {"zlt_agent", "streams", "service", "Streams open per configured service.",
                 "Streams carried per configured service since the agent started.",
                 "Payload bytes relayed per configured service since the agent started; in: from "
                 "the server to the local service, out: from the local service to the server."},
                rows);
  out.family("zlt_agent_datagrams_dropped_total", "counter",
             "UDP datagrams dropped per configured service.");
  for (const auto& s : services_)
    out.sample("zlt_agent_datagrams_dropped_total", {{"service", s.config.name}},
               s.counters->drops);
  out.gauge("zlt_agent_ready", "1 while /ready answers 200.",
            std::uint64_t{readiness().ready ? 1u : 0u});
}

std::string TunnelAgent::metrics() const {
  MetricsText out;
  write_metrics(out);
  out.process_metrics();
  return out.take();
}

Readiness TunnelAgent::readiness() const {
  if (state_ != AgentState::connected) {
    std::string reason = "agent: not connected";
    if (!running_) {
      reason += " (stopped)";
    } else if (state_ == AgentState::reconnecting && reconnect_timer_.active()) {
      const auto left = retry_at_ - std::chrono::steady_clock::now();
      const auto secs =
          std::max<std::int64_t>(
              0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 999) /
          1000;
      reason += " (retrying in " + std::to_string(secs) + "s)";
    } else {
      reason += " (connecting)";
    }
    if (!last_error_.empty()) reason += ": " + last_error_;
    return {false, reason};
  }
  for (const auto& s : services_) {
    if (s.is_registered()) continue;
    std::string reason = "agent: service " + s.config.name + " not registered";
    if (s.status == RegisteredService::Status::failed && !s.failure.empty())
      reason += ": " + s.failure;
    return {false, reason};
  }
  return {true, ""};
}

}  // namespace zlt
