#include "core/node/node_manager.hpp"

#include <algorithm>

#include "core/agent/agent_session.hpp"
#include "core/common/rfc3339.hpp"
#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/channel.hpp"
#include "core/transport/ws_client.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "node";
constexpr std::chrono::seconds kActivityTick{1};

nlohmann::json time_or_null(const std::optional<std::chrono::system_clock::time_point>& t) {
  return t ? nlohmann::json(format_rfc3339(*t)) : nlohmann::json(nullptr);
}

std::string not_found(const std::string& name) {
  return "Tunnel '" + name + "' not found";
}

}  // namespace

std::string_view node_tunnel_state_name(NodeTunnelState s) {
  switch (s) {
    case NodeTunnelState::pending:
      return "pending";
    case NodeTunnelState::connecting:
      return "connecting";
    case NodeTunnelState::connected:
      return "connected";
    case NodeTunnelState::disconnected:
      return "disconnected";
    case NodeTunnelState::failed:
      return "failed";
  }
  return "?";
}

nlohmann::json NodeTunnelStatus::to_json() const {
  nlohmann::json j = {
      {"name", name},
      {"from", from},
      {"to", to},
      {"direction", direction},
      {"local_port", local_port},
      {"remote_port", remote_port},
      {"state", node_tunnel_state_name(state)},
      {"connected_at", time_or_null(connected_at)},
      {"last_activity", time_or_null(last_activity)},
      {"bytes_in", bytes_in},
      {"bytes_out", bytes_out},
      {"latency_ms", latency_ms ? nlohmann::json(*latency_ms) : nlohmann::json(nullptr)},
      {"reconnects", reconnects}};
  if (!reason.empty() &&
      (state == NodeTunnelState::failed || state == NodeTunnelState::disconnected))
    j["reason"] = reason;
  if (route) j["route"] = *route;
  if (route_reason) j["route_reason"] = *route_reason;
  if (url) j["url"] = *url;
  if (public_port) j["public_port"] = *public_port;
  if (listen) j["listen"] = *listen;
  return j;
}

// A WebSocket upgrade to the overlay URL and nothing more: is the overlay path back?
struct NodeTunnelManager::OverlayProbe final : WsClientEvents {
  std::function<void(bool ok, const std::string& why)> done;
  std::unique_ptr<WsClient> client;
  bool finished = false;

  void on_channel_open() override { finish(true, {}); }
  void on_channel_message(std::span<const std::uint8_t>) override {}
  void on_channel_drain() override {}
  void on_channel_closed(const Error& why) override { finish(false, why.message); }
  void finish(bool ok, const std::string& why) {
    if (finished) return;
    finished = true;
    done(ok, why);
  }
};

struct NodeTunnelManager::Entry {
  config::NodeTunnel configured;  // as given (the token may be absent)
  config::NodeTunnel tunnel;      // with its token
  std::string token_hash;
  NodeTunnelState state = NodeTunnelState::pending;
  std::string reason;
  std::optional<std::chrono::system_clock::time_point> connected_at;
  std::optional<std::chrono::system_clock::time_point> last_activity;
  std::uint64_t reconnects = 0;
  bool ever_connected = false;
  std::uint64_t seen_bytes = 0;
  Counters base;  // traffic of earlier agents and earlier registrations

  // Outbound.
  std::unique_ptr<TunnelAgentObserver> agent_events;  // outlives the agent it observes
  std::unique_ptr<TunnelAgent> agent;
  std::string route;  // "overlay" or "direct"
  std::optional<std::string> route_reason;
  bool session_up = false;  // a session authenticated on the current route
  // preferoverlay on the direct route: the overlay is probed now and then, and used again as
  // soon as it answers.
  Timer probe_timer;
  std::unique_ptr<OverlayProbe> probe;
  std::optional<std::pair<bool, std::string>> probe_result;

  // Inbound.
  std::unique_ptr<PublicService> listener;  // internal tunnels
  std::optional<Uuid> inbound_tunnel;       // the server's tunnel that registered the service
  std::shared_ptr<Counters> service_counters;
  std::optional<std::uint16_t> public_port;
};

NodeTunnelManager::NodeTunnelManager(Runtime& runtime, std::string node_name,
                                     std::optional<config::TunnelServerConfig> server,
                                     config::NodeConfig settings)
    : runtime_(runtime),
      node_name_(std::move(node_name)),
      server_config_(std::move(server)),
      settings_(std::move(settings)),
      deferred_(runtime.loop()) {
  settings_.node_name = node_name_;
  settings_.server = server_config_;
  settings_.tunnels.clear();
}

Result<std::unique_ptr<NodeTunnelManager>> NodeTunnelManager::create(
    Runtime& runtime, std::string node_name, std::optional<config::TunnelServerConfig> server,
    config::NodeConfig settings) {
  settings.node_name = node_name;
  settings.server = server;
  settings.tunnels.clear();
  if (auto st = settings.validate(); !st) return make_error(Errc::config, st.error().message);
  std::unique_ptr<NodeTunnelManager> m(
      new NodeTunnelManager(runtime, std::move(node_name), std::move(server), std::move(settings)));
  m->activity_timer_.attach(runtime.loop());
  runtime.add_participant(m.get());
  m->registered_participant_ = true;
  return m;
}

Result<std::unique_ptr<NodeTunnelManager>> NodeTunnelManager::create(
    Runtime& runtime, const config::NodeConfig& node) {
  if (auto st = node.validate(); !st) return make_error(Errc::config, st.error().message);
  auto created = create(runtime, node.node_name, node.server, node);
  if (!created) return created;
  for (const auto& t : node.tunnels)
    if (auto st = (*created)->add_tunnel(t); !st) return st.take_error();
  return created;
}

NodeTunnelManager::~NodeTunnelManager() {
  shutdown();
  if (registered_participant_) runtime_.remove_participant(this);
}

NodeTunnelManager::Entry* NodeTunnelManager::find(const std::string& name) {
  for (auto& e : entries_)
    if (e->tunnel.name == name) return e.get();
  return nullptr;
}

const NodeTunnelManager::Entry* NodeTunnelManager::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e->tunnel.name == name) return e.get();
  return nullptr;
}

bool NodeTunnelManager::is_outbound(const Entry& e) const {
  return e.tunnel.from == node_name_;
}
bool NodeTunnelManager::is_inbound(const Entry& e) const {
  return e.tunnel.to == node_name_;
}

void NodeTunnelManager::set_state(Entry& e, NodeTunnelState state, std::string reason) {
  if (e.state == state && e.reason == reason) return;
  e.state = state;
  e.reason = std::move(reason);
  const char* direction = is_outbound(e) ? "outbound" : is_inbound(e) ? "inbound" : "none";
  // Hosts hear of the change through the event; the log line is for debugging.
  const LogLevel level = LogLevel::debug;
  if (Log::enabled(level)) {
    nlohmann::json fields = {{"tunnel", e.tunnel.name},
                             {"state", node_tunnel_state_name(state)},
                             {"direction", direction}};
    std::string text = "tunnel " + e.tunnel.name + " (" + direction +
                       "): " + std::string(node_tunnel_state_name(state));
    if (!e.reason.empty()) {
      fields["reason"] = e.reason;
      text += " (" + e.reason + ")";
    }
    Log::write(level, kLog, text, fields);
  }
  observers_.get().on_tunnel_state(
      NodeTunnelStateChanged{e.tunnel.name, state, direction, e.reason});
}

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

void NodeTunnelManager::bury(std::unique_ptr<TunnelAgent> agent) {
  if (!agent) return;
  agent->set_observer(nullptr);
  agent->stop();
  deferred_.later(std::move(agent));
}

// ---------------------------------------------------------------------------------------------
// Tunnels

Status NodeTunnelManager::add_tunnel(config::NodeTunnel tunnel) {
  if (find(tunnel.name) != nullptr)
    return make_error(Errc::registry, "Tunnel '" + tunnel.name + "' already exists");
  if (auto st = tunnel.validate(); !st) return make_error(Errc::config, st.error().message);
  auto e = std::make_unique<Entry>();
  e->probe_timer.attach(runtime_.loop());
  e->configured = tunnel;
  if (!tunnel.token) tunnel.token = crypto::new_token();
  e->token_hash = crypto::hash_token(*tunnel.token);
  e->tunnel = std::move(tunnel);
  Entry& entry = *e;
  entries_.push_back(std::move(e));
  ZLT_LOG(info, kLog).field("tunnel", entry.tunnel.name)
      << "tunnel " << entry.tunnel.name << " added (" << entry.tunnel.from << " -> "
      << entry.tunnel.to << ", " << config::expose_type_name(entry.tunnel.expose) << ")";
  if (running_) {
    if (is_inbound(entry)) bind_inbound(entry);
    if (is_outbound(entry)) return start_outbound(entry.tunnel.name);
  }
  return {};
}

Status NodeTunnelManager::remove_tunnel(const std::string& name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const auto& e) { return e->tunnel.name == name; });
  if (it == entries_.end()) return make_error(Errc::registry, not_found(name));
  std::unique_ptr<Entry> e = std::move(*it);
  entries_.erase(it);
  stop_entry(*e, "tunnel removed");
  // Its agent, connected to this node, goes too; it will be refused from now on.
  if (server_ && is_inbound(*e)) {
    if (Tunnel* t = server_->registry().get_tunnel_by_token(e->token_hash))
      server_->end_tunnel(t->id, "tunnel removed");
  }
  ZLT_LOG(info, kLog).field("tunnel", name) << "tunnel " << name << " removed";
  // We may be inside one of its callbacks (a host reacting to an event): it dies later.
  deferred_.later(std::move(e));
  return {};
}

void NodeTunnelManager::stop_entry(Entry& e, const std::string& reason) {
  ZLT_LOG(debug, kLog).field("tunnel", e.tunnel.name)
      << "tunnel " << e.tunnel.name << ": stopping (" << reason << ")";
  e.listener.reset();
  if (e.service_counters) {
    e.base += *e.service_counters;
    e.service_counters.reset();
  }
  e.inbound_tunnel.reset();
  if (e.agent) {
    if (const RegisteredService* svc = e.agent->service(e.tunnel.name)) e.base += *svc->counters;
    bury(std::move(e.agent));
  }
  e.session_up = false;
  e.probe_timer.stop();
  e.probe.reset();
  e.probe_result.reset();
}

std::optional<config::NodeTunnel> NodeTunnelManager::get_tunnel(const std::string& name) const {
  const Entry* e = find(name);
  return e ? std::optional(e->tunnel) : std::nullopt;
}

std::vector<config::NodeTunnel> NodeTunnelManager::list_tunnels() const {
  std::vector<config::NodeTunnel> out;
  for (const auto& e : entries_) out.push_back(e->tunnel);
  return out;
}

std::vector<config::NodeTunnel> NodeTunnelManager::outbound_tunnels() const {
  std::vector<config::NodeTunnel> out;
  for (const auto& e : entries_)
    if (is_outbound(*e)) out.push_back(e->tunnel);
  return out;
}

std::vector<config::NodeTunnel> NodeTunnelManager::inbound_tunnels() const {
  std::vector<config::NodeTunnel> out;
  for (const auto& e : entries_)
    if (is_inbound(*e)) out.push_back(e->tunnel);
  return out;
}

std::size_t NodeTunnelManager::outbound_count() const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [this](const auto& e) { return is_outbound(*e); }));
}

std::size_t NodeTunnelManager::inbound_count() const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [this](const auto& e) { return is_inbound(*e); }));
}

bool NodeTunnelManager::is_tunnel_active(const std::string& name) const {
  const Entry* e = find(name);
  return e != nullptr && e->state == NodeTunnelState::connected;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

Status NodeTunnelManager::start() {
  if (running_) return {};
  if (server_config_) ZLT_TRY(start_server());
  running_ = true;
  activity_timer_.start(
      kActivityTick, [this] { refresh_activity(); }, kActivityTick);
  for (auto& e : entries_) {
    if (is_inbound(*e)) bind_inbound(*e);
    if (is_outbound(*e)) (void)start_outbound(e->tunnel.name);
  }
  return {};
}

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
  ZLT_LOG(info, kLog) << "node " << node_name_ << ": accepting inbound tunnels on "
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

void NodeTunnelManager::shutdown() {
  const bool was_running = running_;
  running_ = false;
  activity_timer_.stop();
  for (auto& e : entries_) {
    stop_entry(*e, "node shutting down");
    if (was_running) set_state(*e, NodeTunnelState::disconnected, "node shutting down");
  }
  deferred_.flush();
  if (server_) {
    server_->set_observer(nullptr);
    server_->stop();
    server_.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Outbound

Status NodeTunnelManager::start_outbound(const std::string& name) {
  Entry* e = find(name);
  if (e == nullptr) return make_error(Errc::registry, not_found(name));
  if (!is_outbound(*e))
    return make_error(Errc::config, "Tunnel '" + name + "' source is '" + e->tunnel.from +
                                        "', not this node '" + node_name_ + "'");
  if (!e->tunnel.token) return make_error(Errc::config, "Tunnel has no token");
  if (e->agent && e->agent->running()) return {};
  if (e->agent) stop_entry(*e, "restarting");

  const config::NodeTunnel& t = e->tunnel;
  const std::optional<std::string> overlay = overlay_url_for(t, resolver_);
  std::string url;
  switch (t.routing_mode) {
    case config::RoutingMode::direct_only:
      if (!t.direct_url) {
        set_state(*e, NodeTunnelState::failed,
                  "Configuration error: direct_url is required for routing mode directonly");
        return {};
      }
      url = *t.direct_url;
      e->route = "direct";
      e->route_reason.reset();
      break;
    case config::RoutingMode::overlay_only:
      if (!overlay) {
        set_state(*e, NodeTunnelState::failed,
                  make_error(Errc::connection, kNoOverlayUrl).display());
        return {};
      }
      url = *overlay;
      e->route = "overlay";
      e->route_reason.reset();
      break;
    case config::RoutingMode::prefer_overlay:
      if (overlay) {
        url = *overlay;
        e->route = "overlay";
        e->route_reason.reset();
      } else if (t.direct_url) {
        url = *t.direct_url;
        e->route = "direct";
        e->route_reason = "no overlay URL available";
      } else {
        set_state(*e, NodeTunnelState::failed,
                  "Configuration error: neither direct_url nor an overlay URL is available");
        return {};
      }
      break;
  }

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
  ZLT_LOG(info, kLog).field("tunnel", name).field("route", e->route)
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
  if (t.routing_mode == config::RoutingMode::prefer_overlay && e.agent) {
    if (e.route == "overlay" && !e.session_up && t.direct_url) {
      // The overlay did not answer: the direct path for now, the overlay again next time.
      const std::string overlay_url = e.agent->config().server_url;
      e.route = "direct";
      e.route_reason = "overlay " + overlay_url + " unreachable: " + why;
      ZLT_LOG(warn, kLog).field("tunnel", t.name).field("route", "direct")
          << "tunnel " << t.name << ": " << *e.route_reason << "; falling back to "
          << *t.direct_url;
      e.agent->set_server_url(*t.direct_url);
      observers_.get().on_route(NodeRouteChosen{t.name, "direct", *t.direct_url, e.route_reason});
    } else if (e.route == "direct" && e.session_up) {
      if (auto overlay = overlay_url_for(t, resolver_)) {
        // The direct session ended: the next attempt tries the overlay first again.
        e.route = "overlay";
        e.route_reason.reset();
        ZLT_LOG(info, kLog).field("tunnel", t.name).field("route", "overlay")
            << "tunnel " << t.name << ": direct session ended; trying the overlay " << *overlay
            << " first";
        e.agent->set_server_url(*overlay);
        observers_.get().on_route(NodeRouteChosen{t.name, "overlay", *overlay, std::nullopt});
      }
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
  if (e.tunnel.routing_mode != config::RoutingMode::prefer_overlay || e.route != "direct") return;
  if (!overlay_url_for(e.tunnel, resolver_)) return;
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
    auto overlay = overlay_url_for(e.tunnel, resolver_);
    if (!ok || !overlay) {
      ZLT_LOG(debug, kLog).field("tunnel", e.tunnel.name)
          << "tunnel " << e.tunnel.name << ": overlay still unreachable: " << why;
      arm_overlay_probe(e);
      return;
    }
    ZLT_LOG(info, kLog).field("tunnel", e.tunnel.name).field("route", "overlay")
        << "tunnel " << e.tunnel.name << ": the overlay " << *overlay
        << " answers again; moving the tunnel back to it";
    e.route = "overlay";
    e.route_reason.reset();
    e.session_up = false;
    observers_.get().on_route(
        NodeRouteChosen{e.tunnel.name, "overlay", *overlay, "the overlay answers again"});
    e.agent->set_server_url(*overlay);
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

// ---------------------------------------------------------------------------------------------
// Inbound

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
    ZLT_LOG(info, kLog).field("tunnel", e.tunnel.name)
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

// ---------------------------------------------------------------------------------------------
// Reload and status

Status NodeTunnelManager::apply(const config::NodeConfig& node) {
  if (auto st = node.validate(); !st) return make_error(Errc::config, st.error().message);
  if (node.node_name != node_name_)
    return make_error(Errc::config, "node_name: cannot change without a restart ('" + node_name_ +
                                        "' -> '" + node.node_name + "')");
  if (node.server != server_config_)
    ZLT_LOG(warn, kLog) << "server: changes take effect after a restart; keeping the running one";
  settings_.internal_bind = node.internal_bind;
  settings_.reconnect_interval = node.reconnect_interval;
  settings_.max_reconnect_interval = node.max_reconnect_interval;
  settings_.heartbeat_interval = node.heartbeat_interval;
  settings_.heartbeat_timeout = node.heartbeat_timeout;
  settings_.connect_timeout = node.connect_timeout;
  settings_.ca_file = node.ca_file;
  settings_.insecure = node.insecure;

  // What matters of a tunnel on this node: an inbound tunnel does not care how its source
  // reaches this node, nor where the source's local service is.
  auto relevant = [this](config::NodeTunnel t) {
    if (t.to == node_name_ && t.from != node_name_) {
      t.direct_url.reset();
      t.overlay_url.reset();
      t.routing_mode = config::RoutingMode::prefer_overlay;
      t.local_port = 0;
    }
    return t;
  };
  std::vector<std::string> gone;
  for (auto& e : entries_) {
    auto same = std::find_if(node.tunnels.begin(), node.tunnels.end(), [&](const auto& t) {
      return t.name == e->tunnel.name && relevant(t) == relevant(e->configured);
    });
    if (same == node.tunnels.end()) {
      gone.push_back(e->tunnel.name);
    } else if (!(*same == e->configured)) {
      // Changed only where this node does not look: keep it running, remember the new text.
      e->configured = *same;
      e->tunnel.direct_url = same->direct_url;
      e->tunnel.overlay_url = same->overlay_url;
      e->tunnel.routing_mode = same->routing_mode;
      e->tunnel.local_port = same->local_port;
    }
  }
  for (const auto& name : gone) {
    ZLT_LOG(info, kLog).field("tunnel", name) << "reload: stopping tunnel " << name;
    (void)remove_tunnel(name);
  }
  Status result;
  for (const auto& t : node.tunnels) {
    if (find(t.name) != nullptr) continue;
    ZLT_LOG(info, kLog).field("tunnel", t.name) << "reload: starting tunnel " << t.name;
    if (auto st = add_tunnel(t); !st && result) result = st;
  }
  return result;
}

void NodeTunnelManager::refresh_activity() {
  const auto now = std::chrono::system_clock::now();
  for (auto& e : entries_) {
    NodeTunnelStatus s = snapshot(*e);
    const std::uint64_t total = s.bytes_in + s.bytes_out;
    if (total != e->seen_bytes) {
      e->seen_bytes = total;
      e->last_activity = now;
    }
  }
}

NodeTunnelStatus NodeTunnelManager::snapshot(const Entry& e) const {
  NodeTunnelStatus s;
  const config::NodeTunnel& t = e.tunnel;
  s.name = t.name;
  s.from = t.from;
  s.to = t.to;
  s.local_port = t.local_port;
  s.remote_port = t.remote_port;
  s.direction = is_outbound(e) ? "outbound" : is_inbound(e) ? "inbound" : "none";
  s.state = e.state;
  s.reason = e.reason;
  s.connected_at = e.state == NodeTunnelState::connected ? e.connected_at : std::nullopt;
  s.last_activity = e.last_activity;
  s.reconnects = e.reconnects;
  Counters c = e.base;
  if (e.agent) {
    if (const RegisteredService* svc = e.agent->service(t.name)) {
      c += *svc->counters;
      if (svc->public_port && *svc->public_port != 0) s.public_port = svc->public_port;
    }
    s.route = e.route;
    s.route_reason = e.route_reason;
    s.url = e.agent->config().server_url;
    if (AgentSession* session = e.agent->session()) s.latency_ms = session->rtt_ms();
  }
  if (e.service_counters) c += *e.service_counters;
  if (is_inbound(e)) {
    if (e.public_port && *e.public_port != 0) s.public_port = e.public_port;
    if (e.listener) s.listen = e.listener->address().to_string();
    if (server_ && e.inbound_tunnel) {
      if (server_->tunnel_live(*e.inbound_tunnel))
        s.latency_ms = server_->tunnel_rtt_ms(*e.inbound_tunnel);
    }
  }
  s.bytes_in = c.bytes_in;
  s.bytes_out = c.bytes_out;
  return s;
}

std::optional<NodeTunnelStatus> NodeTunnelManager::get_status(const std::string& name) const {
  const Entry* e = find(name);
  return e ? std::optional(snapshot(*e)) : std::nullopt;
}

std::vector<NodeTunnelStatus> NodeTunnelManager::list_status() const {
  std::vector<NodeTunnelStatus> out;
  for (const auto& e : entries_) out.push_back(snapshot(*e));
  return out;
}

nlohmann::json NodeTunnelManager::status() const {
  nlohmann::json tunnels = nlohmann::json::array();
  for (const auto& e : entries_) tunnels.push_back(snapshot(*e).to_json());
  nlohmann::json server = nullptr;
  if (server_) {
    nlohmann::json listen = nlohmann::json::array();
    for (const auto& a : server_->listen_addresses()) listen.push_back(a.to_string());
    server = {{"listen", listen}, {"sessions", server_->session_count()}};
  }
  return {
      {"node_name", node_name_}, {"running", running_}, {"server", server}, {"tunnels", tunnels}};
}

std::optional<SockAddr> NodeTunnelManager::server_address() const {
  if (!server_ || server_->listen_addresses().empty()) return std::nullopt;
  return server_->listen_addresses().front();
}

std::optional<SockAddr> NodeTunnelManager::inbound_address(const std::string& name) const {
  const Entry* e = find(name);
  if (e == nullptr || !e->listener) return std::nullopt;
  return e->listener->address();
}

}  // namespace zlt
