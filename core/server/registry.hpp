// TunnelRegistry: the server's bookkeeping of live tunnels, their services and the public
// port pool, with the original's methods and error texts, and the fixes:
// counters that are really shared, limits that are enforced, ports that are always released.
// Loop-thread only; no I/O (the server binds the sockets).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/common/uuid.hpp"
#include "core/config/config.hpp"
#include "core/protocol/message.hpp"
#include "core/session/counters.hpp"

namespace zlt {

// Public ports. A range [start, end] hands out the lowest free port (as the original did);
// the range [0, 0] lets the kernel choose each port when the server binds it.
class PortPool {
 public:
  explicit PortPool(config::PortRange range) : range_(range) {}
  bool kernel_assigned() const { return range_.start == 0 && range_.end == 0; }
  std::optional<std::uint16_t> allocate();  // kernel mode: nullopt (bind port 0 instead)
  bool allocate_specific(std::uint16_t port);
  void release(std::uint16_t port) { used_.erase(port); }
  bool is_available(std::uint16_t port) const;
  std::size_t available_count() const;
  const config::PortRange& range() const { return range_; }

 private:
  config::PortRange range_;
  std::set<std::uint16_t> used_;
};

struct TunnelService {
  Uuid id;
  std::string name;
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;  // as requested (0 = any)
  std::optional<std::uint16_t> assigned_port;
  bool internal = false;
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();

  std::size_t connection_count() const { return counters->streams_active; }
  nlohmann::json to_json() const;
};

struct Tunnel {
  Uuid id;
  std::string token_hash;
  std::optional<std::string> name;  // the token entry's name, when it has one
  std::string client_addr;
  Uuid client_id;
  std::chrono::system_clock::time_point connected_at = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  std::map<Uuid, TunnelService> services;
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();

  void touch() { last_activity = std::chrono::steady_clock::now(); }
  bool is_idle_for(std::chrono::milliseconds d) const {
    return std::chrono::steady_clock::now() - last_activity > d;
  }
  std::size_t service_count() const { return services.size(); }
};

struct TunnelInfo {
  Uuid id;
  std::optional<std::string> name;
  std::chrono::system_clock::time_point connected_at;
  std::chrono::steady_clock::time_point last_activity;
  std::size_t service_count = 0;
  std::string client_addr;
};

struct ServiceRequest {
  std::string name;
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  bool internal = false;
  std::optional<config::PortRange> allowed_ports;  // the token's own limit
};

class TunnelRegistry {
 public:
  explicit TunnelRegistry(config::PortRange range = {30000, 31000},
                          std::size_t max_services_per_tunnel = 50);
  // A reload: tunnels above the new cap keep their services and may add none.
  void set_max_services_per_tunnel(std::size_t n) { max_services_per_tunnel_ = n; }

  // "token already registered" (Errc::registry) if the hash is live.
  Result<Tunnel*> register_tunnel(const std::string& token_hash, std::optional<std::string> name,
                                  std::string client_addr, Uuid id);
  // Removes the tunnel and releases every port of its services. With `hold_names_until` its
  // service names stay its token's until then (a dropped agent reconnects and takes them back,
  // nobody else can take them over in between). `id` by value: callers pass t->id.
  std::optional<Tunnel> unregister_tunnel(
      Uuid id, std::optional<std::chrono::steady_clock::time_point> hold_names_until = {});
  Tunnel* get_tunnel(const Uuid& id);
  Tunnel* get_tunnel_by_token(const std::string& token_hash);
  bool token_exists(const std::string& token_hash) const;

  // Errors (Errc::registry, displayed "Registry error: ..."): "tunnel not found",
  // "too many services (max N)", "invalid service name: ...", "service name 'x' is already
  // registered", "no ports available", "port N is not available"; and (Errc::exists, shown
  // as it is) "service name 'x' is held by another token" while a tunnel of another token has
  // the name or holds it after it ended (unregister_tunnel). Internal services take no
  // port. In kernel mode a public service with remote_port 0 gets its port later
  // (set_assigned_port, once bound).
  Result<TunnelService> add_service(const Uuid& tunnel_id, const ServiceRequest& request,
                                    const Uuid& service_id);
  Status set_assigned_port(const Uuid& tunnel_id, const Uuid& service_id, std::uint16_t port);
  // "tunnel not found" / "service not found"; releases the port.
  Result<TunnelService> remove_service(const Uuid& tunnel_id, const Uuid& service_id);

  std::optional<std::pair<Tunnel*, TunnelService*>> get_service_by_port(std::uint16_t port);
  std::optional<std::pair<Tunnel*, TunnelService*>> get_service_by_name(const std::string& name);
  std::vector<TunnelInfo> list_tunnels() const;
  std::size_t tunnel_count() const { return tunnels_.size(); }
  const std::map<Uuid, Tunnel>& tunnels() const { return tunnels_; }
  std::size_t service_count() const;
  void touch_tunnel(const Uuid& id);
  std::size_t available_ports() const { return ports_.available_count(); }
  bool is_port_available(std::uint16_t port) const { return ports_.is_available(port); }
  bool kernel_assigned_ports() const { return ports_.kernel_assigned(); }
  // Takes a port out of the pool without a service (PublicPorts holds a public socket for a
  // successor session), until free_port. False if the port is in use or outside the range.
  bool claim_port(std::uint16_t port) { return ports_.allocate_specific(port); }
  void free_port(std::uint16_t port) { ports_.release(port); }
  // Tunnels idle for longer than max_idle (the server disconnects them with "idle timeout").
  std::vector<Uuid> stale_tunnels(std::chrono::milliseconds max_idle) const;

 private:
  PortPool ports_;
  std::size_t max_services_per_tunnel_;
  std::map<Uuid, Tunnel> tunnels_;
  std::unordered_map<std::string, Uuid> by_token_;
  std::map<std::uint16_t, std::pair<Uuid, Uuid>> by_port_;  // port -> (tunnel, service)
  std::unordered_map<std::string, std::pair<Uuid, Uuid>> by_name_;
  struct NameHold {
    std::string token_hash;
    std::chrono::steady_clock::time_point until;
  };
  std::unordered_map<std::string, NameHold> held_names_;  // names of tunnels that ended
};

}  // namespace zlt
