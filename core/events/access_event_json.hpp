// The JSON form of AccessManager's events (include/zlt/access_events.hpp), the hosts' contract:
// {"event": "session_started", "session": {...}},
// {"event": "session_expired"|"session_stopped", "reason": "...", "session": {...}},
// {"event": "fatal", "reason": "fatal: token expired"}, and the agent's events as
// core/events/event_json.hpp writes them.
#pragma once

#include <nlohmann/json.hpp>

#include "core/events/event_json.hpp"
#include "zlt/access_events.hpp"

namespace zlt {

nlohmann::json to_json(const AccessSessionStarted& e);
nlohmann::json to_json(const AccessSessionEnded& e);
nlohmann::json to_json(const AccessEnded& e);

// Every AccessManager event as JSON to `sink`.
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
  JsonTunnelAgentObserver agent_;  // the agent's events, in its own words
};

}  // namespace zlt
