#include "zlt/event_json.hpp"

#include "core/access/access_manager.hpp"
#include "core/agent/agent.hpp"
#include "core/node/node_manager.hpp"
#include "core/server/grants.hpp"
#include "core/server/registry.hpp"

namespace zlt {
namespace {

nlohmann::json or_null(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json to_json(const TunnelConnected& e) {
  return {{"event", "tunnel_connected"},
          {"tunnel", e.tunnel.to_string()},
          {"name", or_null(e.name)},
          {"peer", e.peer},
          {"version", e.version}};
}

nlohmann::json to_json(const TunnelDisconnected& e) {
  return {{"event", "tunnel_disconnected"}, {"tunnel", e.tunnel.to_string()}, {"reason", e.reason}};
}

nlohmann::json to_json(const ServiceRegistered& e) {
  return {{"event", "service_registered"},
          {"tunnel", e.tunnel.to_string()},
          {"service", e.service != nullptr ? e.service->to_json() : nlohmann::json()}};
}

nlohmann::json to_json(const ServiceUnregistered& e) {
  return {{"event", "service_unregistered"},
          {"tunnel", e.tunnel.to_string()},
          {"service", e.service.to_json()},
          {"reason", e.reason}};
}

nlohmann::json grant_json(GrantChange change, const AccessGrant& grant) {
  const char* name = change == GrantChange::issued    ? "grant_issued"
                     : change == GrantChange::revoked ? "grant_revoked"
                                                      : "grant_expired";
  return {{"event", name}, {"grant", grant.to_json()}};
}

nlohmann::json to_json(const AgentStateChanged& e) {
  nlohmann::json ev = {{"event", "state"}, {"state", agent_state_name(e.state)}};
  if (e.attempt) ev["attempt"] = *e.attempt;
  if (e.tunnel_id) ev["tunnel_id"] = e.tunnel_id->to_string();
  return ev;
}

nlohmann::json to_json(const AgentAuthenticated& e) {
  return {{"event", "authenticated"},
          {"tunnel_id", e.tunnel_id.to_string()},
          {"version", e.version},
          {"features", e.features}};
}

nlohmann::json auth_failed_json(const std::string& reason) {
  return {{"event", "auth_failed"}, {"reason", reason}};
}

nlohmann::json to_json(const AgentDisconnected& e) {
  nlohmann::json ev = {{"event", "disconnected"}, {"reason", e.reason}};
  if (e.fatal) ev["fatal"] = *e.fatal;
  return ev;
}

nlohmann::json to_json(const AgentServiceRegistered& e) {
  return {
      {"event", "service_registered"},
      {"name", e.name},
      {"service_id", e.service_id.to_string()},
      {"internal", e.internal},
      {"public_port", e.public_port ? nlohmann::json(*e.public_port) : nlohmann::json(nullptr)}};
}

nlohmann::json to_json(const AgentServiceFailed& e) {
  return {{"event", "service_failed"}, {"name", e.name}, {"reason", e.reason}};
}

nlohmann::json to_json(const IncomingConnection& e) {
  return {{"event", "incoming_connection"},
          {"service_id", e.service_id.to_string()},
          {"connection_id", e.connection_id.to_string()},
          {"client_addr", e.client_addr}};
}

nlohmann::json to_json(const AccessSessionStarted& e) {
  return {{"event", "session_started"}, {"session", e.session.to_json()}};
}

nlohmann::json to_json(const AccessSessionEnded& e) {
  const char* event = e.how == AccessSessionEnd::expired ? "session_expired" : "session_stopped";
  return {{"event", event}, {"reason", e.reason}, {"session", e.session.to_json()}};
}

nlohmann::json to_json(const AccessEnded& e) {
  return {{"event", "fatal"}, {"reason", e.reason}};
}

nlohmann::json to_json(const NodeTunnelStateChanged& e) {
  nlohmann::json j = {{"event", "tunnel_state"},
                      {"tunnel", e.tunnel},
                      {"state", node_tunnel_state_name(e.state)},
                      {"direction", e.direction}};
  if (!e.reason.empty()) j["reason"] = e.reason;
  return j;
}

nlohmann::json to_json(const NodeRouteChosen& e) {
  nlohmann::json j = {{"event", "route"}, {"tunnel", e.tunnel}, {"route", e.route}, {"url", e.url}};
  if (e.reason) j["reason"] = *e.reason;
  return j;
}

}  // namespace zlt
