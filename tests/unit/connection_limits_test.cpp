// The bookkeeping behind the control listener's connection caps, the failed-Auth slowdown and
// the per-source keys: what is admitted, evicted or refused, and how long a guesser waits.
#include <gtest/gtest.h>

#include <string>

#include "core/config/config.hpp"
#include "core/server/auth_throttle.hpp"
#include "core/transport/admission.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {
namespace {

using namespace std::chrono_literals;

Admission::Key key(int n) { return reinterpret_cast<Admission::Key>(static_cast<std::uintptr_t>(n)); }

TEST(ConnectionAdmission, PerSourceCapRefusesOnlyThatSource) {
  Admission a({100, 100, 3});
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(a.decide("10.0.0.1").admit);
    a.add(key(i), "10.0.0.1");
  }
  auto d = a.decide("10.0.0.1");
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.refusal, "too many unauthenticated connections from 10.0.0.1");
  EXPECT_TRUE(a.decide("10.0.0.2").admit);
  // An authenticated connection no longer counts against its source.
  a.authenticated(key(1));
  EXPECT_EQ(a.pending_from("10.0.0.1"), 2u);
  EXPECT_TRUE(a.decide("10.0.0.1").admit);
  a.remove(key(2));
  a.remove(key(3));
  EXPECT_EQ(a.pending(), 0u);
  EXPECT_EQ(a.open(), 1u);
  a.remove(key(1));
  a.remove(key(1));  // twice is harmless
  EXPECT_EQ(a.open(), 0u);
}

TEST(ConnectionAdmission, FullPendingTableEvictsTheOldestOfTheHeaviestSource) {
  Admission a({100, 4, 10});
  a.add(key(1), "a");
  a.add(key(2), "a");
  a.add(key(3), "a");
  a.add(key(4), "b");
  // "a" holds the most: a newcomer from "a" itself is refused ...
  auto from_a = a.decide("a");
  EXPECT_FALSE(from_a.admit);
  EXPECT_EQ(from_a.refusal, "too many pending handshakes");
  // ... one from "b" or "c" takes the place of a's oldest.
  auto from_c = a.decide("c");
  ASSERT_TRUE(from_c.admit);
  EXPECT_EQ(from_c.evict, key(1));
  a.remove(key(1));
  a.add(key(5), "c");
  // Now a:2 b:1 c:1; "b" may still displace one of a's, but not after it holds as many.
  auto from_b = a.decide("b");
  ASSERT_TRUE(from_b.admit);
  EXPECT_EQ(from_b.evict, key(2));
  a.remove(key(2));
  a.add(key(6), "b");
  auto again_b = a.decide("b");  // a:1 b:2 c:1 — b is the heaviest now
  EXPECT_FALSE(again_b.admit);
}

TEST(ConnectionAdmission, ConnectionCapCountsAuthenticatedConnectionsToo) {
  Admission a({2, 10, 10});
  a.add(key(1), "a");
  a.add(key(2), "b");
  a.authenticated(key(1));
  a.authenticated(key(2));
  auto d = a.decide("c");
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.refusal, "too many connections");
  // An unauthenticated one can be displaced, an authenticated one never.
  a.remove(key(2));
  a.add(key(3), "b");
  auto e = a.decide("c");
  ASSERT_TRUE(e.admit);
  EXPECT_EQ(e.evict, key(3));
}

TEST(AuthFailureThrottleTest, FreeFailuresThenDoublingUpToTheCap) {
  AuthFailureThrottle t({.free_failures = 3, .first_delay = 250ms, .max_delay = 2s});
  std::uint64_t now = 1000;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(t.failed("1.2.3.4", now).delay, 0ms);
  EXPECT_EQ(t.failed("1.2.3.4", now).delay, 250ms);
  EXPECT_EQ(t.failed("1.2.3.4", now).delay, 500ms);
  EXPECT_EQ(t.failed("1.2.3.4", now).delay, 1000ms);
  EXPECT_EQ(t.failed("1.2.3.4", now).delay, 2000ms);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(t.failed("1.2.3.4", now).delay, 2000ms);
  // Another address is not slowed by the first one's failures.
  EXPECT_EQ(t.failed("5.6.7.8", now).delay, 0ms);
}

TEST(AuthFailureThrottleTest, QuietTimeForgivesFailures) {
  AuthFailureThrottle t({.free_failures = 1, .first_delay = 100ms, .max_delay = 5s,
                         .forgive_every = 10s});
  std::uint64_t now = 0;
  EXPECT_EQ(t.failed("a", now).delay, 0ms);
  EXPECT_EQ(t.failed("a", now).delay, 100ms);
  EXPECT_EQ(t.failed("a", now).delay, 200ms);
  now += 20000;  // two failures forgiven: one is left, this is the second
  EXPECT_EQ(t.failed("a", now).delay, 100ms);
  now += 1000000;
  EXPECT_EQ(t.failed("a", now).delay, 0ms);
}

TEST(AuthFailureThrottleTest, TableIsBoundedAndForgetsTheLongestQuiet) {
  AuthFailureThrottle t({.free_failures = 0, .first_delay = 100ms, .max_delay = 5s,
                         .forgive_every = 3600s, .max_sources = 3});
  EXPECT_EQ(t.failed("a", 0).delay, 100ms);
  EXPECT_EQ(t.failed("b", 1).delay, 100ms);
  EXPECT_EQ(t.failed("c", 2).delay, 100ms);
  EXPECT_EQ(t.failed("a", 3).delay, 200ms);  // a is the most recent now
  EXPECT_EQ(t.failed("d", 4).delay, 100ms);  // evicts b
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.failed("b", 5).delay, 100ms);  // b starts over (evicts c)
  EXPECT_EQ(t.failed("a", 6).delay, 400ms);  // a kept its history
}

TEST(AuthFailureThrottleTest, ZeroCapNeverWaits) {
  AuthFailureThrottle t({.free_failures = 0, .max_delay = 0ms});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t.failed("a", 0).delay, 0ms);
}

TEST(AuthFailureThrottleTest, LogsEachSourcesFirstFailureAndThrottlesTheRest) {
  AuthFailureThrottle t({.max_delay = 0ms, .forgive_every = 3600s, .log_period = 10s});
  // Each source's first failure is logged, whatever the others did.
  EXPECT_EQ(t.failed("a", 0).log, 0u);
  EXPECT_EQ(t.failed("b", 1).log, 0u);
  // Repeats share one line per period; the next line says how many were left out.
  EXPECT_EQ(t.failed("a", 2).log, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.failed("a", 3).log.has_value());
  EXPECT_FALSE(t.failed("b", 4).log.has_value());
  EXPECT_EQ(t.failed("c", 5).log, 0u);  // a new source is still visible
  EXPECT_EQ(t.failed("b", 10002).log, 6u);
  EXPECT_FALSE(t.failed("a", 10003).log.has_value());
}

TEST(SourceOf, GroupsIpv6By64AndUnmapsIpv4) {
  EXPECT_EQ(source_of(std::string_view("127.0.0.5:4242")), "127.0.0.5");
  EXPECT_EQ(source_of(std::string_view("[2001:db8:1:2:3:4:5:6]:80")), "2001:db8:1:2::/64");
  EXPECT_EQ(source_of(std::string_view("[::ffff:10.1.2.3]:80")), "10.1.2.3");
  EXPECT_EQ(source_of(std::string_view("?")), "?");
}

TEST(ServerConnectionLimits, DefaultsAndValidation) {
  config::TunnelServerConfig c;
  EXPECT_EQ(c.max_connections, 10000u);
  EXPECT_EQ(c.max_pending_handshakes, 1000u);
  EXPECT_EQ(c.max_unauthenticated_per_source, 64u);
  EXPECT_EQ(c.auth_failure_delay_max, 5s);
  EXPECT_EQ(c.max_conns_per_source, 0u);
  EXPECT_EQ(c.max_udp_flows, 1024u);
  auto error_with = [](auto change) {
    config::TunnelServerConfig x;
    change(x);
    auto st = x.validate();
    return st.ok() ? std::string("<ok>") : st.error().message;
  };
  EXPECT_EQ(error_with([](auto& x) { x.max_connections = 0; }), "max_connections: must be > 0");
  EXPECT_EQ(error_with([](auto& x) { x.max_pending_handshakes = 0; }),
            "max_pending_handshakes: must be > 0");
  EXPECT_EQ(error_with([](auto& x) { x.max_unauthenticated_per_source = 0; }),
            "max_unauthenticated_per_source: must be > 0");
  EXPECT_EQ(error_with([](auto& x) { x.auth_failure_delay_max = -1s; }),
            "auth_failure_delay_max: must be >= 0");
  EXPECT_EQ(error_with([](auto& x) { x.max_udp_flows = 0; }), "max_udp_flows: must be > 0");
  EXPECT_EQ(error_with([](auto& x) { x.auth_failure_delay_max = 0s; }), "<ok>");
}

}  // namespace
}  // namespace zlt
