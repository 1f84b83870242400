// NodeTunnelManager::apply: a new node configuration, applied tunnel by tunnel.
#include <algorithm>

#include "core/node/node_entry.hpp"
#include "core/runtime/log.hpp"

namespace zlt {

Status NodeTunnelManager::apply(const config::NodeConfig& node) {
  if (auto st = node.validate(); !st) return make_error(Errc::config, st.error().message);
  if (node.node_name != node_name_)
    return make_error(Errc::config, "node_name: cannot change without a restart ('" + node_name_ +
                                        "' -> '" + node.node_name + "')");
  if (node.server != server_config_)
    ZLT_LOG(warn, kNodeLog)
        << "server: changes take effect after a restart; keeping the running one";
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
    ZLT_LOG(info, kNodeLog).field("tunnel", name) << "reload: stopping tunnel " << name;
    (void)remove_tunnel(name);
  }
  Status result;
  for (const auto& t : node.tunnels) {
    if (find(t.name) != nullptr) continue;
    ZLT_LOG(info, kNodeLog).field("tunnel", t.name) << "reload: starting tunnel " << t.name;
    if (auto st = add_tunnel(t); !st && result) result = st;
  }
  return result;
}

}  // namespace zlt
