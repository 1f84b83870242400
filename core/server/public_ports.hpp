// PublicPorts: the server's public sockets, one per registered public service, and the ports
// they hold across a session takeover. When an agent's new connection takes over its tunnel,
// the old session's sockets stay bound, detached, for connect_timeout: the successor's
// registration of the same service name and protocol gets the very same socket back (same
// port, no gap for clients in the backlog). While held, a port stays out of the registry's
// pool so nobody else is given it. Every rule about that hold lives here. Loop-thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/uuid.hpp"
#include "core/config/config.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/server/public_service.hpp"
#include "core/server/registry.hpp"

namespace zlt {

class ServerSession;

class PublicPorts {
 public:
  PublicPorts(uv_loop_t* loop, TunnelRegistry& registry, const config::TunnelServerConfig& config);
  PublicPorts(const PublicPorts&) = delete;
  PublicPorts& operator=(const PublicPorts&) = delete;

  // Adds `request` to the registry for tunnel `tunnel_id` of `token_hash`. A socket held for
  // this token's service of the same name and protocol gives its port, unless the request
  // asks for another one; a refused registration leaves the hold as it was.
  Result<TunnelService> add_service(const Uuid& tunnel_id, ServiceRequest request,
                                    const Uuid& service_id, const std::string& token_hash);
  // Gives `service` (registered by `session`) its public socket, the held one if there is
  // one, else a new one on public_bind, and routes the socket's traffic to the session.
  Result<PublicService*> publish(ServerSession& session, const TunnelService& service,
                                 const std::string& token_hash);
  // Closes the service's socket (Unregister, or its tunnel ended).
  void unpublish(const Uuid& service_id);
  // Detaches the sockets of `tunnel` (just taken out of the registry, which released its
  // services' ports) and holds them for a successor of the same token.
  void hold_for_successor(const Tunnel& tunnel);
  // Closes every socket, live and held.
  void clear();
  // The configuration's per-socket limits changed (a reload): every socket takes them.
  void apply_limits();
  // A drain: no socket takes new connections or peers; the live ones carry on.
  void stop_accepting();

 private:
  struct Held {
    std::string token_hash;
    std::string name;
    std::unique_ptr<PublicService> socket;
    std::uint64_t expires_ms = 0;
    bool claimed = false;  // the port is out of the registry's pool on the hold's behalf
  };
  // The held socket `token_hash`'s service `name` may take back, on `port` if given (end()
  // if none).
  std::vector<Held>::iterator find_held(const std::string& token_hash, const std::string& name,
                                        proto::ServiceProtocol protocol,
                                        std::optional<std::uint16_t> port);
  void expire_held();
  PublicService::Limits limits() const;

  uv_loop_t* loop_;
  TunnelRegistry& registry_;
  const config::TunnelServerConfig& config_;
  std::unordered_map<Uuid, std::unique_ptr<PublicService>, UuidHash> live_;
  std::vector<Held> held_;
  Timer expiry_;
};

}  // namespace zlt
