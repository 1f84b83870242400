// Typed events of NodeTunnelManager (core/node/node_manager.hpp): a tunnel's state changing
// and an outbound tunnel choosing its route. Reported on the loop thread as they happen; the
// JSON that hosts see is made from them in one place (include/zlt/event_json.hpp).
#pragma once

#include <optional>
#include <string>

namespace zlt {

enum class NodeTunnelState;  // core/node/node_manager.hpp

struct NodeTunnelStateChanged {
  std::string tunnel;
  NodeTunnelState state;
  std::string direction;  // "outbound", "inbound" or "none"
  std::string reason;     // empty: none
};

struct NodeRouteChosen {
  std::string tunnel;
  std::string route;  // "overlay" or "direct"
  std::string url;
  std::optional<std::string> reason;  // why this route (a fallback, a return to the overlay)
};

class NodeTunnelObserver {
 public:
  virtual ~NodeTunnelObserver() = default;
  virtual void on_tunnel_state(const NodeTunnelStateChanged&) {}
  virtual void on_route(const NodeRouteChosen&) {}
};

}  // namespace zlt
