// Typed events of the tunnel objects. Each object reports to one observer interface, on the
// loop thread, at the moment the event happens (so a value the event refers to is as the
// event describes it). Core objects observe each other through these interfaces; JSON for
// hosts is made from them in one place (zlt/event_json.hpp). Every method has an
// empty default, so an observer implements only what it needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/common/uuid.hpp"

namespace zlt {

struct TunnelService;
struct AccessGrant;
enum class AgentState;

// ---- TunnelServer ----

struct TunnelConnected {
  Uuid tunnel;
  std::optional<std::string> name;  // the token entry's name, when it has one
  std::string peer;
  int version = 2;
};

struct TunnelDisconnected {
  Uuid tunnel;
  std::string reason;
};

struct ServiceRegistered {
  Uuid tunnel;
  const TunnelService* service = nullptr;  // as registered; null if already gone
};

struct ServiceUnregistered {
  Uuid tunnel;
  const TunnelService& service;  // as it was when it was unregistered
  std::string reason;
};

enum class GrantChange { issued, revoked, expired };

class TunnelServerObserver {
 public:
  virtual ~TunnelServerObserver() = default;
  virtual void on_tunnel_connected(const TunnelConnected&) {}
  virtual void on_tunnel_disconnected(const TunnelDisconnected&) {}
  virtual void on_service_registered(const ServiceRegistered&) {}
  virtual void on_service_unregistered(const ServiceUnregistered&) {}
  virtual void on_grant(GrantChange, const AccessGrant&) {}
};

// ---- TunnelAgent ----

struct AgentStateChanged {
  AgentState state;
  std::optional<std::uint32_t> attempt;  // reconnecting: the attempt about to be made
  std::optional<Uuid> tunnel_id;         // connected
};

struct AgentAuthenticated {
  Uuid tunnel_id;
  int version = 2;
  std::uint32_t features = 0;
};

struct AgentDisconnected {
  std::string reason;
  // Set once a session existed: true when the server said the agent must not come back.
  std::optional<bool> fatal;
};

struct AgentServiceRegistered {
  std::string name;
  Uuid service_id;
  bool internal = false;
  std::optional<std::uint16_t> public_port;
};

struct AgentServiceFailed {
  std::string name;
  std::string reason;
};

struct IncomingConnection {
  Uuid service_id;
  Uuid connection_id;
  std::string client_addr;
};

class TunnelAgentObserver {
 public:
  virtual ~TunnelAgentObserver() = default;
  virtual void on_state(const AgentStateChanged&) {}
  virtual void on_authenticated(const AgentAuthenticated&) {}
  virtual void on_auth_failed(const std::string& /*reason*/) {}
  virtual void on_disconnected(const AgentDisconnected&) {}
  virtual void on_service_registered(const AgentServiceRegistered&) {}
  virtual void on_service_failed(const AgentServiceFailed&) {}
  virtual void on_incoming_connection(const IncomingConnection&) {}
};

}  // namespace zlt
