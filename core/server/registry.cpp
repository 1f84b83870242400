#include "core/server/registry.hpp"

#include "core/config/allow_target.hpp"

namespace zlt {
namespace {

Error registry_error(std::string message) {
  return make_error(Errc::registry, std::move(message));
}

}  // namespace

// ---- PortPool ----

std::optional<std::uint16_t> PortPool::allocate() {
  if (kernel_assigned() || range_.start > range_.end) return std::nullopt;
  for (std::uint32_t p = range_.start; p <= range_.end; ++p) {
    auto port = static_cast<std::uint16_t>(p);
    if (!used_.contains(port)) {
      used_.insert(port);
      return port;
    }
  }
  return std::nullopt;
}

bool PortPool::allocate_specific(std::uint16_t port) {
  if (!is_available(port)) return false;
  used_.insert(port);
  return true;
}

bool PortPool::is_available(std::uint16_t port) const {
  if (port == 0 || used_.contains(port)) return false;
  return kernel_assigned() || range_.contains(port);
}

std::size_t PortPool::available_count() const {
  // Computed in size_t: a full 1..65535 range does not overflow (the original used u16).
  std::size_t total = kernel_assigned() ? 65535 : range_.size();
  return total > used_.size() ? total - used_.size() : 0;
}

// ---- TunnelService ----

nlohmann::json TunnelService::to_json() const {
  nlohmann::json j = {{"id", id.to_string()},
                      {"name", name},
                      {"protocol", proto::service_protocol_name(protocol)},
                      {"local_port", local_port},
                      {"remote_port", remote_port},
                      {"internal", internal},
                      {"connections", connection_count()}};
  j["assigned_port"] = assigned_port ? nlohmann::json(*assigned_port) : nlohmann::json(nullptr);
  j["traffic"] = counters->to_json();
  return j;
}

// ---- TunnelRegistry ----

TunnelRegistry::TunnelRegistry(config::PortRange range, std::size_t max_services_per_tunnel)
    : ports_(range), max_services_per_tunnel_(max_services_per_tunnel) {}

Result<Tunnel*> TunnelRegistry::register_tunnel(const std::string& token_hash,
                                                std::optional<std::string> name,
                                                std::string client_addr, Uuid id) {
  if (by_token_.contains(token_hash)) return registry_error("token already registered");
  Tunnel t;
  t.id = id;
  t.token_hash = token_hash;
  t.name = std::move(name);
  t.client_addr = std::move(client_addr);
  auto [it, inserted] = tunnels_.emplace(id, std::move(t));
  if (!inserted) return registry_error("tunnel id already registered");
  by_token_[token_hash] = id;
  return &it->second;
}

std::optional<Tunnel> TunnelRegistry::unregister_tunnel(
    Uuid id, std::optional<std::chrono::steady_clock::time_point> hold_names_until) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return std::nullopt;
  Tunnel t = std::move(it->second);
  tunnels_.erase(it);
  // Only remove the token mapping if it still points at this tunnel (the original removed it
  // unconditionally, unmapping a newer tunnel of the same token).
  auto tok = by_token_.find(t.token_hash);
  if (tok != by_token_.end() && tok->second == id) by_token_.erase(tok);
  for (const auto& [sid, svc] : t.services) {
    if (svc.assigned_port && *svc.assigned_port != 0) {
      ports_.release(*svc.assigned_port);
      by_port_.erase(*svc.assigned_port);
    }
    by_name_.erase(svc.name);
  }
  if (hold_names_until) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(held_names_, [now](const auto& h) { return h.second.until <= now; });
    for (const auto& [sid, svc] : t.services)
      held_names_[svc.name] = NameHold{t.token_hash, *hold_names_until};
  }
  return t;
}

Tunnel* TunnelRegistry::get_tunnel(const Uuid& id) {
  auto it = tunnels_.find(id);
  return it == tunnels_.end() ? nullptr : &it->second;
}

Tunnel* TunnelRegistry::get_tunnel_by_token(const std::string& token_hash) {
  auto it = by_token_.find(token_hash);
  return it == by_token_.end() ? nullptr : get_tunnel(it->second);
}

bool TunnelRegistry::token_exists(const std::string& token_hash) const {
  return by_token_.contains(token_hash);
}

Result<TunnelService> TunnelRegistry::add_service(const Uuid& tunnel_id, const ServiceRequest& req,
                                                  const Uuid& service_id) {
  Tunnel* t = get_tunnel(tunnel_id);
  if (t == nullptr) return registry_error("tunnel not found");
  if (t->services.size() >= max_services_per_tunnel_)
    return registry_error("too many services (max " + std::to_string(max_services_per_tunnel_) +
                          ")");
  if (!config::is_valid_service_name(req.name))
    return registry_error("invalid service name '" + req.name +
                          "': use 1-255 bytes of letters, digits, '-' and '_'");
  // A name belongs to the token that registered it, while its tunnel lives and for the hold
  // after it ends: service:NAME streams must never reach somebody else's agent.
  const Error held_by_other =
      make_error(Errc::exists, "service name '" + req.name + "' is held by another token");
  if (auto live = by_name_.find(req.name); live != by_name_.end()) {
    const Tunnel* owner = get_tunnel(live->second.first);
    if (owner != nullptr && owner->token_hash != t->token_hash) return held_by_other;
    return registry_error("service name '" + req.name + "' is already registered");
  }
  if (auto held = held_names_.find(req.name); held != held_names_.end()) {
    if (held->second.until > std::chrono::steady_clock::now() &&
        held->second.token_hash != t->token_hash)
      return held_by_other;
  }

  TunnelService svc;
  svc.id = service_id;
  svc.name = req.name;
  svc.protocol = req.protocol;
  svc.local_port = req.local_port;
  svc.remote_port = req.remote_port;
  svc.internal = req.internal;

  if (!req.internal) {
    const auto& allowed = req.allowed_ports;
    if (req.remote_port == 0) {
      if (allowed) {
        // The lowest free port inside both the pool and the token's range (in kernel mode too:
        // the token's range is a limit the kernel's choice would not respect).
        std::optional<std::uint16_t> chosen;
        for (std::uint32_t p = allowed->start; p <= allowed->end && !chosen; ++p)
          if (ports_.allocate_specific(static_cast<std::uint16_t>(p)))
            chosen = static_cast<std::uint16_t>(p);
        if (!chosen) return registry_error("no ports available");
        svc.assigned_port = chosen;
      } else if (!ports_.kernel_assigned()) {
        auto port = ports_.allocate();
        if (!port) return registry_error("no ports available");
        svc.assigned_port = port;
      }
    } else {
      if ((allowed && !allowed->contains(req.remote_port)) ||
          !ports_.allocate_specific(req.remote_port))
        return registry_error("port " + std::to_string(req.remote_port) + " is not available");
      svc.assigned_port = req.remote_port;
    }
    if (svc.assigned_port) by_port_[*svc.assigned_port] = {tunnel_id, service_id};
  }
  by_name_[svc.name] = {tunnel_id, service_id};
  held_names_.erase(svc.name);  // taken back (or the hold had run out)
  t->services[service_id] = svc;
  return svc;
}

Status TunnelRegistry::set_assigned_port(const Uuid& tunnel_id, const Uuid& service_id,
                                         std::uint16_t port) {
  Tunnel* t = get_tunnel(tunnel_id);
  if (t == nullptr) return registry_error("tunnel not found");
  auto it = t->services.find(service_id);
  if (it == t->services.end()) return registry_error("service not found");
  if (it->second.assigned_port == port) return {};
  if (!ports_.allocate_specific(port))
    return registry_error("port " + std::to_string(port) + " is not available");
  it->second.assigned_port = port;
  by_port_[port] = {tunnel_id, service_id};
  return {};
}

Result<TunnelService> TunnelRegistry::remove_service(const Uuid& tunnel_id,
                                                     const Uuid& service_id) {
  Tunnel* t = get_tunnel(tunnel_id);
  if (t == nullptr) return registry_error("tunnel not found");
  auto it = t->services.find(service_id);
  if (it == t->services.end()) return registry_error("service not found");
  TunnelService svc = std::move(it->second);
  t->services.erase(it);
  if (svc.assigned_port && *svc.assigned_port != 0) {
    ports_.release(*svc.assigned_port);
    by_port_.erase(*svc.assigned_port);
  }
  by_name_.erase(svc.name);
  return svc;
}

std::optional<std::pair<Tunnel*, TunnelService*>> TunnelRegistry::get_service_by_port(
    std::uint16_t port) {
  auto it = by_port_.find(port);
  if (it == by_port_.end()) return std::nullopt;
  Tunnel* t = get_tunnel(it->second.first);
  if (t == nullptr) return std::nullopt;
  auto s = t->services.find(it->second.second);
  if (s == t->services.end()) return std::nullopt;
  return std::make_pair(t, &s->second);
}

std::optional<std::pair<Tunnel*, TunnelService*>> TunnelRegistry::get_service_by_name(
    const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  Tunnel* t = get_tunnel(it->second.first);
  if (t == nullptr) return std::nullopt;
  auto s = t->services.find(it->second.second);
  if (s == t->services.end()) return std::nullopt;
  return std::make_pair(t, &s->second);
}

std::vector<TunnelInfo> TunnelRegistry::list_tunnels() const {
  std::vector<TunnelInfo> out;
  out.reserve(tunnels_.size());
  for (const auto& [id, t] : tunnels_)
    out.push_back(TunnelInfo{t.id, t.name, t.connected_at, t.last_activity, t.services.size(),
                             t.client_addr});
  return out;
}

std::size_t TunnelRegistry::service_count() const {
  std::size_t n = 0;
  for (const auto& [id, t] : tunnels_) n += t.services.size();
  return n;
}

void TunnelRegistry::touch_tunnel(const Uuid& id) {
  if (Tunnel* t = get_tunnel(id)) t->touch();
}

std::vector<Uuid> TunnelRegistry::stale_tunnels(std::chrono::milliseconds max_idle) const {
  std::vector<Uuid> out;
  for (const auto& [id, t] : tunnels_)
    if (t.is_idle_for(max_idle)) out.push_back(id);
  return out;
}

}  // namespace zlt
