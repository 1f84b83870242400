// NodeTunnelManager: construction, the tunnel list (add, remove, look up), start and shutdown.
// The source side is node_outbound.cpp, the destination side node_inbound.cpp, reload
// node_reload.cpp and status node_status.cpp; the route policy is route_policy.hpp.
#include "core/node/node_manager.hpp"

#include <algorithm>

#include "core/crypto/crypto.hpp"
#include "core/node/node_entry.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr std::chrono::seconds kActivityTick{1};

}  // namespace

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
    Log::write(level, kNodeLog, text, fields);
  }
  observers_.get().on_tunnel_state(
      NodeTunnelStateChanged{e.tunnel.name, state, direction, e.reason});
}

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
  ZLT_LOG(info, kNodeLog).field("tunnel", entry.tunnel.name)
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
  if (it == entries_.end()) return make_error(Errc::registry, tunnel_not_found(name));
  std::unique_ptr<Entry> e = std::move(*it);
  entries_.erase(it);
  stop_entry(*e, "tunnel removed");
  // Its agent, connected to this node, goes too; it will be refused from now on.
  if (server_ && is_inbound(*e)) {
    if (Tunnel* t = server_->registry().get_tunnel_by_token(e->token_hash))
      server_->end_tunnel(t->id, "tunnel removed");
  }
  ZLT_LOG(info, kNodeLog).field("tunnel", name) << "tunnel " << name << " removed";
  // We may be inside one of its callbacks (a host reacting to an event): it dies later.
  deferred_.later(std::move(e));
  return {};
}

void NodeTunnelManager::stop_entry(Entry& e, const std::string& reason) {
  ZLT_LOG(debug, kNodeLog).field("tunnel", e.tunnel.name)
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

}  // namespace zlt
