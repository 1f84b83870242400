#include "core/server/public_ports.hpp"

#include <algorithm>

#include "core/runtime/log.hpp"
#include "core/server/server_session.hpp"

namespace zlt {
namespace {
constexpr const char* kLog = "server";
}  // namespace

PublicPorts::PublicPorts(uv_loop_t* loop, TunnelRegistry& registry,
                         const config::TunnelServerConfig& config)
    : loop_(loop), registry_(registry), config_(config) {
  expiry_.attach(loop);
}

std::vector<PublicPorts::Held>::iterator PublicPorts::find_held(const std::string& token_hash,
                                                                const std::string& name,
                                                                proto::ServiceProtocol protocol,
                                                                std::optional<std::uint16_t> port) {
  return std::find_if(held_.begin(), held_.end(), [&](const Held& h) {
    return h.token_hash == token_hash && h.name == name && h.socket->protocol() == protocol &&
           (!port || *port == h.socket->port());
  });
}

Result<TunnelService> PublicPorts::add_service(const Uuid& tunnel_id, ServiceRequest request,
                                               const Uuid& service_id,
                                               const std::string& token_hash) {
  auto held = held_.end();
  if (!request.internal) {
    std::optional<std::uint16_t> port;
    if (request.remote_port != 0) port = request.remote_port;
    held = find_held(token_hash, request.name, request.protocol, port);
  }
  if (held == held_.end() || !held->claimed)
    return registry_.add_service(tunnel_id, request, service_id);
  // The registry hands the held port to the service: the port leaves the hold first, and
  // goes back to it if the registration is refused (the socket still waits for a successor).
  const std::uint16_t held_port = held->socket->port();
  request.remote_port = held_port;
  registry_.free_port(held_port);
  auto added = registry_.add_service(tunnel_id, request, service_id);
  if (added)
    held->claimed = false;  // the service owns the port now
  else
    held->claimed = registry_.claim_port(held_port);
  return added;
}

Result<PublicService*> PublicPorts::publish(ServerSession& session, const TunnelService& service,
                                            const std::string& token_hash) {
  std::unique_ptr<PublicService> socket;
  // The successor of a takeover gets its predecessor's socket back: same port, no gap. A
  // service given another port (a range server's explicit remote_port) binds anew.
  auto held = find_held(token_hash, service.name, service.protocol, service.assigned_port);
  if (held != held_.end()) {
    socket = std::move(held->socket);
    held_.erase(held);
  }
  if (!socket) {
    auto bound = PublicService::bind(loop_, service.protocol, config_.public_bind,
                                     service.assigned_port.value_or(0));
    if (!bound) return bound.take_error();
    socket = std::move(*bound);
    socket->set_limits(limits());
  }
  if (!service.assigned_port) {
    auto st = registry_.set_assigned_port(*session.tunnel_id(), service.id, socket->port());
    if (!st) return st.take_error();
  }
  PublicService* raw = socket.get();
  const TunnelService* registered = session.server_service(service.id);
  raw->attach(session, registered != nullptr ? *registered : service);
  live_[service.id] = std::move(socket);
  return raw;
}

void PublicPorts::unpublish(const Uuid& service_id) {
  live_.erase(service_id);
}

void PublicPorts::hold_for_successor(const Tunnel& tunnel) {
  const std::uint64_t until =
      uv_now(loop_) + static_cast<std::uint64_t>(config_.connect_timeout.count());
  for (const auto& [sid, svc] : tunnel.services) {
    auto it = live_.find(sid);
    if (it == live_.end()) continue;
    it->second->detach();
    // The tunnel has left the registry, which gave its ports back to the pool: take the port
    // again so that nobody else is handed it while the socket waits.
    const bool claimed = registry_.claim_port(it->second->port());
    held_.push_back(Held{tunnel.token_hash, svc.name, std::move(it->second), until, claimed});
    live_.erase(it);
  }
  if (!held_.empty())
    expiry_.start(config_.connect_timeout + std::chrono::milliseconds(10),
                  [this] { expire_held(); });
}

void PublicPorts::expire_held() {
  const std::uint64_t now = uv_now(loop_);
  std::erase_if(held_, [this, now](const Held& h) {
    if (h.expires_ms > now) return false;
    ZLT_LOG(info, kLog) << "public port " << h.socket->port() << " of " << h.name
                        << " released: not re-registered after the takeover";
    if (h.claimed) registry_.free_port(h.socket->port());
    return true;
  });
}

PublicService::Limits PublicPorts::limits() const {
  return {config_.max_conns_per_source, config_.max_udp_flows};
}

void PublicPorts::apply_limits() {
  for (auto& [sid, socket] : live_) socket->set_limits(limits());
  for (auto& h : held_) h.socket->set_limits(limits());
}

void PublicPorts::stop_accepting() {
  for (auto& [sid, socket] : live_) socket->stop_accepting();
  // A held socket waits for a successor, and none comes during a drain.
  for (auto& h : held_)
    if (h.claimed) registry_.free_port(h.socket->port());
  held_.clear();
  expiry_.stop();
}

void PublicPorts::clear() {
  live_.clear();
  held_.clear();
  expiry_.stop();
}

}  // namespace zlt
