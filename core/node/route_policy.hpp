// The route policy of an outbound node tunnel: which way its agent reaches
// the destination — "overlay" or "direct" — as a pure function of the tunnel's configuration,
// the overlay URL resolved for it now, and what the tunnel is doing. NodeTunnelManager applies
// the choice (the agent's URL, the status, NodeRouteChosen, the log); nothing here does I/O.
#pragma once

#include <optional>
#include <string>

#include "core/config/config.hpp"

namespace zlt {

// When the route is chosen.
enum class RouteMoment {
  starting,          // the agent is about to start
  session_ended,     // the agent's session on the current route ended
  overlay_answered,  // a probe of the overlay, made from the direct route, succeeded
};

// What the tunnel is doing at that moment.
struct RouteState {
  RouteMoment moment = RouteMoment::starting;
  std::string route;        // the current route, "overlay" or "direct" (empty when starting)
  std::string url;          // the URL in use on it
  bool session_up = false;  // a session had authenticated on it
  std::string why;          // session_ended: why the session ended
};

struct RouteChoice {
  enum class Action {
    keep,  // stay on the current route
    use,   // connect to `url` on `route`
    fail,  // no route at all: the tunnel fails with `reason`
  };
  Action action = Action::keep;
  std::string route;
  std::string url;
  // use: why it is not the overlay (a fallback), if so; fail: the failed state's reason.
  std::optional<std::string> reason;
};

// `overlay`: overlay_url_for(tunnel, resolver) at this moment; read only where
// route_reads_overlay says so (the resolver is a host's, consulted no more than needed).
//   starting: directonly takes direct_url, overlayonly the overlay; preferoverlay the overlay,
//     else direct_url ("no overlay URL available"); a missing URL fails in the original's words.
//   session_ended (preferoverlay only): an overlay that never brought a session up falls back
//     to direct_url ("overlay <url> unreachable: <why>"); a direct session that was up tries
//     the overlay first again. Otherwise the agent retries where it was.
//   overlay_answered (preferoverlay on the direct route): back to the overlay.
RouteChoice choose_route(const config::NodeTunnel& tunnel,
                         const std::optional<std::string>& overlay, const RouteState& now);
bool route_reads_overlay(const config::NodeTunnel& tunnel, const RouteState& now);

// preferoverlay on the direct route: while an overlay URL is known, the overlay is probed now
// and then, to go back to it as soon as it answers (overlay_answered).
bool probes_overlay(const config::NodeTunnel& tunnel, const std::string& route);

}  // namespace zlt
