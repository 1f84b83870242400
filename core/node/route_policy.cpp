#include "core/node/route_policy.hpp"

#include "core/common/error.hpp"
#include "core/node/overlay.hpp"

namespace zlt {
namespace {

RouteChoice use(std::string route, std::string url, std::optional<std::string> reason = {}) {
  return RouteChoice{RouteChoice::Action::use, std::move(route), std::move(url), std::move(reason)};
}

RouteChoice fail(std::string reason) {
  return RouteChoice{RouteChoice::Action::fail, {}, {}, std::move(reason)};
}

RouteChoice starting_route(const config::NodeTunnel& t, const std::optional<std::string>& overlay) {
  switch (t.routing_mode) {
    case config::RoutingMode::direct_only:
      if (!t.direct_url)
        return fail("Configuration error: direct_url is required for routing mode directonly");
      return use("direct", *t.direct_url);
    case config::RoutingMode::overlay_only:
      if (!overlay) return fail(make_error(Errc::connection, kNoOverlayUrl).display());
      return use("overlay", *overlay);
    case config::RoutingMode::prefer_overlay:
      if (overlay) return use("overlay", *overlay);
      if (t.direct_url) return use("direct", *t.direct_url, "no overlay URL available");
      return fail("Configuration error: neither direct_url nor an overlay URL is available");
  }
  return fail("unknown routing mode");
}

}  // namespace

RouteChoice choose_route(const config::NodeTunnel& tunnel,
                         const std::optional<std::string>& overlay, const RouteState& now) {
  if (now.moment == RouteMoment::starting) return starting_route(tunnel, overlay);
  if (tunnel.routing_mode != config::RoutingMode::prefer_overlay) return {};
  if (now.moment == RouteMoment::session_ended) {
    // The overlay did not answer: the direct path for now, the overlay again next time.
    if (now.route == "overlay" && !now.session_up && tunnel.direct_url)
      return use("direct", *tunnel.direct_url, "overlay " + now.url + " unreachable: " + now.why);
    // The direct session ended: the next attempt tries the overlay first again.
    if (now.route == "direct" && now.session_up && overlay) return use("overlay", *overlay);
    return {};
  }
  if (now.route == "direct" && overlay) return use("overlay", *overlay);
  return {};
}

bool route_reads_overlay(const config::NodeTunnel& tunnel, const RouteState& now) {
  switch (now.moment) {
    case RouteMoment::starting:
    case RouteMoment::overlay_answered:
      return true;
    case RouteMoment::session_ended:
      return tunnel.routing_mode == config::RoutingMode::prefer_overlay && now.route == "direct" &&
             now.session_up;
  }
  return true;
}

bool probes_overlay(const config::NodeTunnel& tunnel, const std::string& route) {
  return tunnel.routing_mode == config::RoutingMode::prefer_overlay && route == "direct";
}

}  // namespace zlt
