// NodeTunnelManager, the destination side: the tunnel server that accepts only this node's
// inbound tunnels' tokens, and the internal listeners whose connections reach their services.
#include "core/crypto/crypto.hpp"
#include "core/node/node_entry.hpp"
#include "core/runtime/log.hpp"

namespace zlt {

Status NodeTunnelManager::start_server() {
  config::TunnelServerConfig cfg = *server_config_;
  // Only this node's inbound tunnels may connect (the validator below decides; the list keeps
  // the server from warning that it has no tokens).
  cfg.accept_any_token = false;
  cfg.tokens.clear();
  for (const auto& e : entries_)
    if (is_inbound(*e))
      cfg.tokens.push_back(config::TokenEntry{e->tunnel.name, e->token_hash, {}, {}, {}});
  auto created = TunnelServer::create(runtime_, std::move(cfg));
  if (!created) return created.take_error();
  server_ = std::move(*created);
  server_->set_token_validator(
      [this](std::string_view, const std::string& hash) { return check_token(hash); });
  server_->set_observer(this);
  auto addr = server_->listen();
  if (!addr) {
    server_.reset();
    return addr.take_error();
  }
  ZLT_LOG(info, kNodeLog) << "node " << node_name_ << ": accepting inbound tunnels on "
                          << addr->to_string();
  return {};
}

Result<TokenGrant> NodeTunnelManager::check_token(const std::string& token_hash) const {
  for (const auto& e : entries_) {
    if (!is_inbound(*e) || !crypto::ct_equal(e->token_hash, token_hash)) continue;
    TokenGrant grant;
    grant.name = e->tunnel.name;
    if (e->tunnel.expose == config::ExposeType::public_ && e->tunnel.remote_port != 0)
      grant.allowed_ports = config::PortRange{e->tunnel.remote_port, e->tunnel.remote_port};
    return grant;
  }
  return make_error(Errc::auth, "invalid tunnel token");
}

void NodeTunnelManager::bind_inbound(Entry& e) {
  if (!server_) {
    set_state(e, NodeTunnelState::failed, "this node runs no tunnel server ('server' is not set)");
    return;
  }
  if (e.tunnel.expose == config::ExposeType::internal && !e.listener) {
    auto bound = PublicService::bind(runtime_.loop(), e.tunnel.protocol, settings_.internal_bind,
                                     e.tunnel.remote_port);
    if (!bound) {
      set_state(e, NodeTunnelState::failed, bound.error().message);
      return;
    }
    e.listener = std::move(*bound);
    // While the tunnel is down its clients are refused at once rather than left waiting.
    e.listener->set_hold_while_detached(false);
    ZLT_LOG(info, kNodeLog).field("tunnel", e.tunnel.name)
        << "tunnel " << e.tunnel.name << ": internal listener on "
        << e.listener->address().to_string();
  }
  // Already registered (added again while its agent was connected).
  if (auto found = server_->registry().get_service_by_name(e.tunnel.name))
    attach_inbound(e, found->first->id);
}

void NodeTunnelManager::attach_inbound(Entry& e, const Uuid& tunnel_id) {
  if (!server_) return;
  auto found = server_->registry().get_service_by_name(e.tunnel.name);
  if (!found || found->first->id != tunnel_id) return;
  // Only the tunnel's own token may stand for it.
  if (!crypto::ct_equal(found->first->token_hash, e.token_hash)) return;
  TunnelService& service = *found->second;
  if (service.protocol != e.tunnel.protocol) {
    set_state(e, NodeTunnelState::failed,
              "registered as " + std::string(proto::service_protocol_name(service.protocol)) +
                  ", configured as " +
                  std::string(proto::service_protocol_name(e.tunnel.protocol)));
    return;
  }
  if (!server_->tunnel_live(tunnel_id)) return;
  if (e.service_counters) e.base += *e.service_counters;
  e.service_counters = service.counters;
  e.inbound_tunnel = tunnel_id;
  e.public_port = service.assigned_port;
  if (e.listener) server_->attach_listener(*e.listener, tunnel_id, service);
  if (e.ever_connected) ++e.reconnects;
  e.ever_connected = true;
  e.connected_at = std::chrono::system_clock::now();
  e.last_activity = e.connected_at;
  set_state(e, NodeTunnelState::connected);
}

void NodeTunnelManager::detach_inbound(Entry& e, NodeTunnelState state, const std::string& reason) {
  if (e.listener) e.listener->detach();
  if (e.service_counters) {
    e.base += *e.service_counters;
    e.service_counters.reset();
  }
  e.inbound_tunnel.reset();
  e.public_port.reset();
  set_state(e, state, reason);
}

void NodeTunnelManager::on_service_registered(const ServiceRegistered& ev) {
  if (ev.service == nullptr) return;
  Entry* e = find(ev.service->name);
  if (e != nullptr && is_inbound(*e)) attach_inbound(*e, ev.tunnel);
}

void NodeTunnelManager::on_service_unregistered(const ServiceUnregistered& ev) {
  Entry* e = find(ev.service.name);
  if (e != nullptr && is_inbound(*e) && e->inbound_tunnel == ev.tunnel)
    detach_inbound(*e, NodeTunnelState::disconnected, ev.reason);
}

void NodeTunnelManager::on_tunnel_disconnected(const TunnelDisconnected& ev) {
  for (auto& e : entries_)
    if (e->inbound_tunnel == ev.tunnel)
      detach_inbound(*e, NodeTunnelState::disconnected, "agent disconnected: " + ev.reason);
}

}  // namespace zlt
