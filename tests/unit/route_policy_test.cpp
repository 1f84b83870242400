// The route policy of outbound node tunnels: every routing mode at start, the fallback to the
// direct path and the return to the overlay, and the failures in the original's words.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "core/node/overlay.hpp"
#include "core/node/route_policy.hpp"

namespace zlt {
namespace {

using Action = RouteChoice::Action;

const std::string kDirect = "ws://10.0.0.2:3679/tunnel/v1";
const std::string kOverlay = "ws://[fd00::2]:3679/tunnel/v1";

config::NodeTunnel tunnel(config::RoutingMode mode, bool with_direct = true) {
  config::NodeTunnel t("db", "a", "b");
  t.routing_mode = mode;
  if (with_direct) t.direct_url = kDirect;
  return t;
}

RouteState ended(std::string route, std::string url, bool session_up, std::string why = "refused") {
  return RouteState{RouteMoment::session_ended, std::move(route), std::move(url), session_up,
                    std::move(why)};
}

TEST(RoutePolicyTest, DirectOnlyStartsOnTheDirectUrlEvenWithAnOverlay) {
  RouteChoice c = choose_route(tunnel(config::RoutingMode::direct_only), kOverlay, {});
  EXPECT_EQ(c.action, Action::use);
  EXPECT_EQ(c.route, "direct");
  EXPECT_EQ(c.url, kDirect);
  EXPECT_EQ(c.reason, std::nullopt);
}

TEST(RoutePolicyTest, DirectOnlyWithoutDirectUrlFails) {
  RouteChoice c = choose_route(tunnel(config::RoutingMode::direct_only, false), kOverlay, {});
  EXPECT_EQ(c.action, Action::fail);
  EXPECT_EQ(c.reason, "Configuration error: direct_url is required for routing mode directonly");
}

TEST(RoutePolicyTest, OverlayOnlyStartsOnTheOverlayOrFailsInTheOriginalsWords) {
  RouteChoice c = choose_route(tunnel(config::RoutingMode::overlay_only), kOverlay, {});
  EXPECT_EQ(c.action, Action::use);
  EXPECT_EQ(c.route, "overlay");
  EXPECT_EQ(c.url, kOverlay);

  RouteChoice none = choose_route(tunnel(config::RoutingMode::overlay_only), std::nullopt, {});
  EXPECT_EQ(none.action, Action::fail);
  ASSERT_TRUE(none.reason.has_value());
  EXPECT_NE(none.reason->find(kNoOverlayUrl), std::string::npos) << *none.reason;
}

TEST(RoutePolicyTest, PreferOverlayStartsOnTheOverlayElseDirectAndSaysWhy) {
  const config::NodeTunnel t = tunnel(config::RoutingMode::prefer_overlay);
  RouteChoice overlay = choose_route(t, kOverlay, {});
  EXPECT_EQ(overlay.action, Action::use);
  EXPECT_EQ(overlay.route, "overlay");
  EXPECT_EQ(overlay.url, kOverlay);
  EXPECT_EQ(overlay.reason, std::nullopt);

  RouteChoice direct = choose_route(t, std::nullopt, {});
  EXPECT_EQ(direct.action, Action::use);
  EXPECT_EQ(direct.route, "direct");
  EXPECT_EQ(direct.url, kDirect);
  EXPECT_EQ(direct.reason, "no overlay URL available");

  RouteChoice none =
      choose_route(tunnel(config::RoutingMode::prefer_overlay, false), std::nullopt, {});
  EXPECT_EQ(none.action, Action::fail);
  EXPECT_EQ(none.reason, "Configuration error: neither direct_url nor an overlay URL is available");
}

TEST(RoutePolicyTest, AnOverlayThatNeverAnsweredFallsBackToDirectNamingItAndWhy) {
  RouteChoice c = choose_route(tunnel(config::RoutingMode::prefer_overlay), kOverlay,
                               ended("overlay", kOverlay, false, "connection refused"));
  EXPECT_EQ(c.action, Action::use);
  EXPECT_EQ(c.route, "direct");
  EXPECT_EQ(c.url, kDirect);
  EXPECT_EQ(c.reason, "overlay " + kOverlay + " unreachable: connection refused");
}

TEST(RoutePolicyTest, AnOverlaySessionThatWasUpIsRetriedOnTheOverlay) {
  RouteChoice c = choose_route(tunnel(config::RoutingMode::prefer_overlay), kOverlay,
                               ended("overlay", kOverlay, true));
  EXPECT_EQ(c.action, Action::keep);
  // Nowhere to fall back to: the overlay again.
  RouteChoice no_direct = choose_route(tunnel(config::RoutingMode::prefer_overlay, false), kOverlay,
                                       ended("overlay", kOverlay, false));
  EXPECT_EQ(no_direct.action, Action::keep);
}

TEST(RoutePolicyTest, AnEndedDirectSessionTriesTheOverlayFirstAgain) {
  const config::NodeTunnel t = tunnel(config::RoutingMode::prefer_overlay);
  RouteChoice c = choose_route(t, kOverlay, ended("direct", kDirect, true));
  EXPECT_EQ(c.action, Action::use);
  EXPECT_EQ(c.route, "overlay");
  EXPECT_EQ(c.url, kOverlay);
  EXPECT_EQ(c.reason, std::nullopt);
  // Never up (the direct path fails too), or no overlay URL now: stay on the direct path.
  EXPECT_EQ(choose_route(t, kOverlay, ended("direct", kDirect, false)).action, Action::keep);
  EXPECT_EQ(choose_route(t, std::nullopt, ended("direct", kDirect, true)).action, Action::keep);
}

TEST(RoutePolicyTest, OnlyPreferOverlayChangesRouteWhenASessionEnds) {
  for (auto mode : {config::RoutingMode::direct_only, config::RoutingMode::overlay_only}) {
    EXPECT_EQ(choose_route(tunnel(mode), kOverlay, ended("overlay", kOverlay, false)).action,
              Action::keep);
    EXPECT_EQ(choose_route(tunnel(mode), kOverlay, ended("direct", kDirect, true)).action,
              Action::keep);
  }
}

TEST(RoutePolicyTest, AnOverlayThatAnswersAgainIsUsedFromTheDirectRoute) {
  const config::NodeTunnel t = tunnel(config::RoutingMode::prefer_overlay);
  RouteState answered{RouteMoment::overlay_answered, "direct", kDirect, true, {}};
  RouteChoice c = choose_route(t, kOverlay, answered);
  EXPECT_EQ(c.action, Action::use);
  EXPECT_EQ(c.route, "overlay");
  EXPECT_EQ(c.url, kOverlay);
  EXPECT_EQ(c.reason, std::nullopt);
  EXPECT_EQ(choose_route(t, std::nullopt, answered).action, Action::keep);
}

TEST(RoutePolicyTest, OnlyPreferOverlayOnTheDirectRouteProbesTheOverlay) {
  EXPECT_TRUE(probes_overlay(tunnel(config::RoutingMode::prefer_overlay), "direct"));
  EXPECT_FALSE(probes_overlay(tunnel(config::RoutingMode::prefer_overlay), "overlay"));
  EXPECT_FALSE(probes_overlay(tunnel(config::RoutingMode::direct_only), "direct"));
  EXPECT_FALSE(probes_overlay(tunnel(config::RoutingMode::overlay_only), "overlay"));
}

TEST(RoutePolicyTest, TheOverlayIsReadOnlyWhereTheChoiceDependsOnIt) {
  const config::NodeTunnel t = tunnel(config::RoutingMode::prefer_overlay);
  EXPECT_TRUE(route_reads_overlay(t, {}));
  EXPECT_TRUE(route_reads_overlay(
      t, RouteState{RouteMoment::overlay_answered, "direct", kDirect, true, {}}));
  EXPECT_TRUE(route_reads_overlay(t, ended("direct", kDirect, true)));
  EXPECT_FALSE(route_reads_overlay(t, ended("direct", kDirect, false)));
  EXPECT_FALSE(route_reads_overlay(t, ended("overlay", kOverlay, false)));
  EXPECT_FALSE(route_reads_overlay(tunnel(config::RoutingMode::direct_only),
                                   ended("direct", kDirect, true)));
  // Where it is not read, its absence changes nothing.
  for (const RouteState& now :
       {ended("overlay", kOverlay, false), ended("direct", kDirect, false)}) {
    const RouteChoice with = choose_route(t, kOverlay, now);
    const RouteChoice without = choose_route(t, std::nullopt, now);
    EXPECT_EQ(with.action, without.action);
    EXPECT_EQ(with.route, without.route);
    EXPECT_EQ(with.url, without.url);
    EXPECT_EQ(with.reason, without.reason);
  }
}

}  // namespace
}  // namespace zlt
