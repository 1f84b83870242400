// NodeTunnelManager, the source side: one TunnelAgent per outbound tunnel, on the route the
// route policy chooses, and the overlay probe that brings a preferoverlay tunnel back to it.
#include <memory>

#include "core/agent/agent_session.hpp"
#include "core/node/node_entry.hpp"
#include "core/node/route_policy.hpp"
#include "core/runtime/log.hpp"

namespace zlt {

// One outbound tunnel's agent, as the manager sees it.
class NodeTunnelManager::AgentEvents final : public TunnelAgentObserver {
 public:
  AgentEvents(NodeTunnelManager& manager, Entry& entry) : manager_(manager), entry_(entry) {}
  void on_authenticated(const AgentAuthenticated&) override {
    entry_.session_up = true;
    if (entry_.state != NodeTunnelState::connected)
      manager_.set_state(entry_, NodeTunnelState::connecting);
  }
  void on_service_registered(const AgentServiceRegistered& ev) override {
    if (ev.name == entry_.tunnel.name) manager_.outbound_registered(entry_);
  }
  void on_service_failed(const AgentServiceFailed& ev) override {
    manager_.set_state(entry_, NodeTunnelState::failed, ev.reason);
  }
  void on_auth_failed(const std::string& reason) override {
    manager_.set_state(entry_, NodeTunnelState::failed, "authentication refused: " + reason);
  }
  void on_disconnected(const AgentDisconnected& ev) override {
    manager_.outbound_disconnected(entry_, ev.reason, ev.fatal.value_or(false));
  }

 private:
  NodeTunnelManager& manager_;
  Entry& entry_;
};

Status NodeTunnelManager::start_outbound(const std::string& name) {
  Entry* e = find(name);
  if (e == nullptr) return make_error(Errc::registry, tunnel_not_found(name));
  if (!is_outbound(*e))
    return make_error(Errc::config, "Tunnel '" + name + "' source is '" + e->tunnel.from +
                                        "', not this node '" + node_name_ + "'");
  if (!e->tunnel.token) return make_error(Errc::config, "Tunnel has no token");
  if (e->agent && e->agent->running()) return {};
  if (e->agent) stop_entry(*e, "restarting");

  const config::NodeTunnel& t = e->tunnel;
  const RouteChoice choice = choose_route(t, overlay_url_for(t, resolver_), RouteState{});
  if (choice.action != RouteChoice::Action::use) {
    set_state(*e, NodeTunnelState::failed, choice.reason.value_or(""));
    return {};
  }
  const std::string& url = choice.url;
  e->route = choice.route;
  e->route_reason = choice.reason;

  config::TunnelClientConfig c(url, *t.token);
  config::ServiceConfig svc;
  svc.name = t.name;
  svc.protocol = t.protocol;
  svc.local_port = t.local_port;
  svc.remote_port = t.remote_port;
  svc.internal = t.expose == config::ExposeType::internal;
  c.services.push_back(svc);
  c.routing_mode = t.routing_mode;
  c.reconnect_interval = settings_.reconnect_interval;
  c.max_reconnect_interval = settings_.max_reconnect_interval;
  c.heartbeat_interval = settings_.heartbeat_interval;
  c.heartbeat_timeout = settings_.heartbeat_timeout;
  c.connect_timeout = settings_.connect_timeout;
  c.ca_file = settings_.ca_file;
  c.insecure = settings_.insecure;
  auto created = TunnelAgent::create(runtime_, std::move(c));
  if (!created) {
    set_state(*e, NodeTunnelState::failed, created.error().display());
    return created.take_error();
  }
  e->agent = std::move(*created);
  e->session_up = false;
  e->agent_events = std::make_unique<AgentEvents>(*this, *e);
  e->agent->set_observer(e->agent_events.get());
  ZLT_LOG(info, kNodeLog).field("tunnel", name).field("route", e->route)
      << "tunnel " << name << ": connecting to " << url << " (" << e->route << ")";
  observers_.get().on_route(NodeRouteChosen{name, e->route, url, e->route_reason});
  set_state(*e, NodeTunnelState::connecting);
  e->agent->start();
  return {};
}

Status NodeTunnelManager::stop_outbound(const std::string& name) {
  Entry* e = find(name);
  if (e == nullptr || !e->agent)
    return make_error(Errc::registry, "No active outbound tunnel '" + name + "'");
  stop_entry(*e, "stopped");
  set_state(*e, NodeTunnelState::disconnected, "stopped");
  return {};
}

void NodeTunnelManager::outbound_registered(Entry& e) {
  if (e.ever_connected) ++e.reconnects;
  e.ever_connected = true;
  e.connected_at = std::chrono::system_clock::now();
  e.last_activity = e.connected_at;
  set_state(e, NodeTunnelState::connected);
  arm_overlay_probe(e);
}

void NodeTunnelManager::outbound_disconnected(Entry& e, const std::string& why, bool fatal) {
  const config::NodeTunnel& t = e.tunnel;
  if (e.agent) {
    const RouteState now{RouteMoment::session_ended, e.route, e.agent->config().server_url,
                         e.session_up, why};
    const std::optional<std::string> overlay =
        route_reads_overlay(t, now) ? overlay_url_for(t, resolver_) : std::nullopt;
    const RouteChoice next = choose_route(t, overlay, now);
    if (next.action == RouteChoice::Action::use) {
      e.route = next.route;
      e.route_reason = next.reason;
      if (next.route == "direct")
        ZLT_LOG(warn, kNodeLog).field("tunnel", t.name).field("route", "direct")
            << "tunnel " << t.name << ": " << next.reason.value_or("") << "; falling back to "
            << next.url;
      else
        ZLT_LOG(info, kNodeLog).field("tunnel", t.name).field("route", "overlay")
            << "tunnel " << t.name << ": direct session ended; trying the overlay " << next.url
            << " first";
      e.agent->set_server_url(next.url);
      observers_.get().on_route(NodeRouteChosen{t.name, next.route, next.url, e.route_reason});
    }
  }
  e.session_up = false;
  // A failure (refused token, refused registration) stays the state until a session works.
  if (fatal)
    set_state(e, NodeTunnelState::failed, why);
  else if (e.state != NodeTunnelState::failed)
    set_state(e, NodeTunnelState::disconnected, why);
}

void NodeTunnelManager::arm_overlay_probe(Entry& e) {
  if (!probes_overlay(e.tunnel, e.route) || !overlay_url_for(e.tunnel, resolver_)) return;
  Entry* entry = &e;
  e.probe_timer.start(settings_.max_reconnect_interval, [this, entry] { probe_overlay(*entry); });
}

void NodeTunnelManager::probe_overlay(Entry& e) {
  const bool wanted = e.agent && e.route == "direct" && e.state == NodeTunnelState::connected;
  if (e.probe_result) {
    // The probe has answered (handled here, outside the client's own callbacks).
    const auto [ok, why] = *e.probe_result;
    e.probe_result.reset();
    e.probe.reset();
    if (!wanted) return;
    const RouteState now{
        RouteMoment::overlay_answered, e.route, e.agent->config().server_url, e.session_up, {}};
    const std::optional<std::string> overlay = overlay_url_for(e.tunnel, resolver_);
    // The event says why the route changes; the status keeps no reason (it is the overlay).
    const RouteChoice next = ok ? choose_route(e.tunnel, overlay, now) : RouteChoice{};
    if (next.action != RouteChoice::Action::use) {
      ZLT_LOG(debug, kNodeLog).field("tunnel", e.tunnel.name)
          << "tunnel " << e.tunnel.name << ": overlay still unreachable: " << why;
      arm_overlay_probe(e);
      return;
    }
    ZLT_LOG(info, kNodeLog).field("tunnel", e.tunnel.name).field("route", "overlay")
        << "tunnel " << e.tunnel.name << ": the overlay " << next.url
        << " answers again; moving the tunnel back to it";
    e.route = next.route;
    e.route_reason = next.reason;
    e.session_up = false;
    observers_.get().on_route(
        NodeRouteChosen{e.tunnel.name, next.route, next.url, "the overlay answers again"});
    e.agent->set_server_url(next.url);
    e.agent->stop();
    e.agent->start();
    set_state(e, NodeTunnelState::connecting);
    return;
  }
  if (!wanted || e.probe) return;
  auto overlay = overlay_url_for(e.tunnel, resolver_);
  if (!overlay) return;
  WsClientOptions o;
  o.url = *overlay;
  o.ca_file = settings_.ca_file;
  o.insecure = settings_.insecure;
  o.connect_timeout = settings_.connect_timeout;
  e.probe = std::make_unique<OverlayProbe>();
  Entry* entry = &e;
  e.probe->done = [this, entry](bool ok, const std::string& why) {
    entry->probe_result = std::make_pair(ok, why);
    entry->probe_timer.start(std::chrono::milliseconds(0),
                             [this, entry] { probe_overlay(*entry); });
  };
  e.probe->client = std::make_unique<WsClient>(runtime_.loop(), o, e.probe.get());
  e.probe->client->start();
}

}  // namespace zlt
