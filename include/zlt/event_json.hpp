// The JSON form of every typed event (include/zlt/events.hpp): what the C ABI, the CLI and the
// bindings see. The one place where an event becomes JSON; the field names and values are the
// hosts' contract. The adapters turn an observer interface into a JSON callback.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "zlt/access_events.hpp"
#include "zlt/events.hpp"
#include "zlt/node_events.hpp"

namespace zlt {

using JsonEventSink = std::function<void(const nlohmann::json& event)>;

nlohmann::json to_json(const TunnelConnected& e);
nlohmann::json to_json(const TunnelDisconnected& e);
nlohmann::json to_json(const ServiceRegistered& e);
nlohmann::json to_json(const ServiceUnregistered& e);
nlohmann::json grant_json(GrantChange change, const AccessGrant& grant);

nlohmann::json to_json(const AgentStateChanged& e);
nlohmann::json to_json(const AgentAuthenticated& e);
nlohmann::json auth_failed_json(const std::string& reason);
nlohmann::json to_json(const AgentDisconnected& e);
nlohmann::json to_json(const AgentServiceRegistered& e);
nlohmann::json to_json(const AgentServiceFailed& e);
nlohmann::json to_json(const IncomingConnection& e);

nlohmann::json to_json(const AccessSessionStarted& e);
nlohmann::json to_json(const AccessSessionEnded& e);
nlohmann::json to_json(const AccessEnded& e);

// {"event": "tunnel_state", "tunnel": NAME, "state": STATE, "direction": ..., "reason"?}
nlohmann::json to_json(const NodeTunnelStateChanged& e);
// {"event": "route", "tunnel": NAME, "route": "overlay"|"direct", "url": ..., "reason"?}
nlohmann::json to_json(const NodeRouteChosen& e);

// Every TunnelServer event as JSON to `sink`.
class JsonTunnelServerObserver final : public TunnelServerObserver {
 public:
  explicit JsonTunnelServerObserver(JsonEventSink sink) : sink_(std::move(sink)) {}
  void on_tunnel_connected(const TunnelConnected& e) override { sink_(to_json(e)); }
  void on_tunnel_disconnected(const TunnelDisconnected& e) override { sink_(to_json(e)); }
  void on_service_registered(const ServiceRegistered& e) override { sink_(to_json(e)); }
  void on_service_unregistered(const ServiceUnregistered& e) override { sink_(to_json(e)); }
  void on_grant(GrantChange c, const AccessGrant& g) override { sink_(grant_json(c, g)); }

 private:
  JsonEventSink sink_;
};

// Every TunnelAgent event as JSON to `sink`.
class JsonTunnelAgentObserver : public TunnelAgentObserver {
 public:
  explicit JsonTunnelAgentObserver(JsonEventSink sink) : sink_(std::move(sink)) {}
  void on_state(const AgentStateChanged& e) override { sink_(to_json(e)); }
  void on_authenticated(const AgentAuthenticated& e) override { sink_(to_json(e)); }
  void on_auth_failed(const std::string& reason) override { sink_(auth_failed_json(reason)); }
  void on_disconnected(const AgentDisconnected& e) override { sink_(to_json(e)); }
  void on_service_registered(const AgentServiceRegistered& e) override { sink_(to_json(e)); }
  void on_service_failed(const AgentServiceFailed& e) override { sink_(to_json(e)); }
  void on_incoming_connection(const IncomingConnection& e) override { sink_(to_json(e)); }

 private:
  JsonEventSink sink_;
};

// Every AccessManager event as JSON to `sink`: the agent's events in its own words, then
// {"event": "session_started", "session": {...}},
// {"event": "session_expired"|"session_stopped", "reason": "...", "session": {...}} and
// {"event": "fatal", "reason": "fatal: token expired"}.
class JsonAccessObserver final : public AccessObserver {
 public:
  explicit JsonAccessObserver(JsonEventSink sink) : sink_(std::move(sink)), agent_(sink_) {}
  void on_state(const AgentStateChanged& e) override { agent_.on_state(e); }
  void on_authenticated(const AgentAuthenticated& e) override { agent_.on_authenticated(e); }
  void on_auth_failed(const std::string& reason) override { agent_.on_auth_failed(reason); }
  void on_disconnected(const AgentDisconnected& e) override { agent_.on_disconnected(e); }
  void on_service_registered(const AgentServiceRegistered& e) override {
    agent_.on_service_registered(e);
  }
  void on_service_failed(const AgentServiceFailed& e) override { agent_.on_service_failed(e); }
  void on_incoming_connection(const IncomingConnection& e) override {
    agent_.on_incoming_connection(e);
  }
  void on_session_started(const AccessSessionStarted& e) override { sink_(to_json(e)); }
  void on_session_ended(const AccessSessionEnded& e) override { sink_(to_json(e)); }
  void on_access_ended(const AccessEnded& e) override { sink_(to_json(e)); }

 private:
  JsonEventSink sink_;
  JsonTunnelAgentObserver agent_;
};

// Every NodeTunnelManager event as JSON to `sink`.
class JsonNodeObserver final : public NodeTunnelObserver {
 public:
  explicit JsonNodeObserver(JsonEventSink sink) : sink_(std::move(sink)) {}
  void on_tunnel_state(const NodeTunnelStateChanged& e) override { sink_(to_json(e)); }
  void on_route(const NodeRouteChosen& e) override { sink_(to_json(e)); }

 private:
  JsonEventSink sink_;
};

}  // namespace zlt
