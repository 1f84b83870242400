#include <gtest/gtest.h>

#include <string>

#include "core/common/ascii.hpp"
#include "core/config/config.hpp"
#include "core/crypto/crypto.hpp"

namespace zlt::config {
namespace {

std::string error_of(const Status& s) {
  return s.ok() ? "<ok>" : s.error().message;
}

TokenEntry token(std::string name, std::string secret) {
  TokenEntry t;
  t.name = std::move(name);
  t.sha256 = crypto::hash_token(secret);
  return t;
}

TEST(ServerConfigTest, DefaultsMatchTheOriginal) {
  TunnelServerConfig c;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.control_path, "/tunnel/v1");
  EXPECT_EQ(c.data_port_range, (PortRange{30000, 31000}));
  EXPECT_EQ(c.heartbeat_interval, 30s);
  EXPECT_EQ(c.heartbeat_timeout, 40s);
  EXPECT_EQ(c.max_tunnels, 1000u);
  EXPECT_EQ(c.max_services_per_tunnel, 50u);
  EXPECT_EQ(c.routing_mode, RoutingMode::prefer_overlay);
  EXPECT_FALSE(c.bind_overlay);
  EXPECT_FALSE(c.dns_registration);
}

TEST(ServerConfigTest, DefaultsOfTheAdditions) {
  TunnelServerConfig c;
  EXPECT_EQ(c.listen, "0.0.0.0:3679");
  EXPECT_EQ(c.public_bind, "0.0.0.0");
  EXPECT_FALSE(c.tls_cert.has_value());
  EXPECT_FALSE(c.tls_key.has_value());
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_FALSE(c.accept_any_token);
  EXPECT_EQ(c.max_streams_per_tunnel, 4096u);
  EXPECT_EQ(c.auth_timeout, 10s);
  EXPECT_EQ(c.connect_timeout, 10s);
  EXPECT_EQ(c.udp_idle_timeout, 60s);
  EXPECT_EQ(error_of(c.validate()), "<ok>");
}

TEST(ServerConfigTest, OriginalRulesAndMessages) {
  auto error_with = [](auto change) {
    TunnelServerConfig c;
    change(c);
    Status s = c.validate();
    EXPECT_TRUE(s.ok() || s.error().code == Errc::config);
    return error_of(s);
  };
  EXPECT_EQ(error_with([](auto& c) { c.control_path = ""; }), "control_path cannot be empty");
  EXPECT_EQ(error_with([](auto& c) { c.control_path = "tunnel/v1"; }),
            "control_path must start with '/'");
  EXPECT_EQ(error_with([](auto& c) {
              c.data_port_range = {31000, 30000};
            }),
            "data_port_range start (31000) must be <= end (30000)");
  EXPECT_EQ(error_with([](auto& c) {
              c.data_port_range = {80, 100};
            }),
            "data_port_range start (80) should be >= 1024 (privileged ports)");
  EXPECT_EQ(error_with([](auto& c) { c.heartbeat_timeout = 30s; }),
            "heartbeat_timeout (30s) must be > heartbeat_interval (30s)");
  EXPECT_EQ(error_with([](auto& c) { c.max_tunnels = 0; }), "max_tunnels must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.max_services_per_tunnel = 0; }),
            "max_services_per_tunnel must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.data_port_range = {1024, 1024}; }), "<ok>");
  // [0, 0] leaves every public port to the kernel; any other range below 1024 is refused.
  EXPECT_EQ(error_with([](auto& c) { c.data_port_range = {0, 0}; }), "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.data_port_range = {0, 5}; }),
            "data_port_range start (0) should be >= 1024 (privileged ports)");
}

TEST(ServerConfigTest, HeartbeatMessageKeepsMilliseconds) {
  TunnelServerConfig c;
  c.heartbeat_interval = 1500ms;
  c.heartbeat_timeout = 1200ms;
  EXPECT_EQ(error_of(c.validate()),
            "heartbeat_timeout (1200ms) must be > heartbeat_interval (1500ms)");
}

TEST(ServerConfigTest, FirstFailingRuleWins) {
  TunnelServerConfig c;
  c.max_services_per_tunnel = 0;
  c.max_tunnels = 0;
  c.udp_idle_timeout = 0s;
  EXPECT_EQ(error_of(c.validate()), "max_tunnels must be > 0");
  c.control_path = "x";
  EXPECT_EQ(error_of(c.validate()), "control_path must start with '/'");
  // The original rules come before the additions.
  TunnelServerConfig d;
  d.listen = "nonsense";
  d.data_port_range = {1, 2};
  EXPECT_EQ(error_of(d.validate()),
            "data_port_range start (1) should be >= 1024 (privileged ports)");
  EXPECT_EQ(d.validate().error().display(),
            "Configuration error: data_port_range start (1) should be >= 1024 (privileged ports)");
}

TEST(ServerConfigTest, AdditionsNameTheField) {
  auto error_with = [](auto change) {
    TunnelServerConfig c;
    change(c);
    return error_of(c.validate());
  };
  EXPECT_EQ(error_with([](auto& c) { c.heartbeat_interval = 0s; }),
            "heartbeat_interval: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.public_bind = ""; }), "public_bind: cannot be empty");
  EXPECT_EQ(error_with([](auto& c) { c.public_bind = "0.0.0.0:80"; }),
            "public_bind: expected a host name or IP address, got '0.0.0.0:80'");
  EXPECT_EQ(error_with([](auto& c) { c.public_bind = "::"; }), "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.public_bind = "tunnel.example.com"; }), "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.tls_cert = "cert.pem"; }),
            "tls_key: must be set together with tls_cert");
  EXPECT_EQ(error_with([](auto& c) { c.tls_key = "key.pem"; }),
            "tls_cert: must be set together with tls_key");
  EXPECT_EQ(error_with([](auto& c) {
              c.tls_cert = "";
              c.tls_key = "key.pem";
            }),
            "tls_cert: cannot be empty");
  EXPECT_EQ(error_with([](auto& c) {
              c.tls_cert = "cert.pem";
              c.tls_key = "";
            }),
            "tls_key: cannot be empty");
  EXPECT_EQ(error_with([](auto& c) {
              c.tls_cert = "cert.pem";
              c.tls_key = "key.pem";
            }),
            "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.max_streams_per_tunnel = 0; }),
            "max_streams_per_tunnel: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.auth_timeout = 0s; }), "auth_timeout: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.connect_timeout = -1s; }), "connect_timeout: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.udp_idle_timeout = 0s; }), "udp_idle_timeout: must be > 0");
}

TEST(ServerConfigTest, ListenMustBeHostAndPort) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"0.0.0.0:3679", "<ok>"},
      {"127.0.0.1:0", "<ok>"},
      {"[::1]:3679", "<ok>"},
      {"[::]:443", "<ok>"},
      {"localhost:65535", "<ok>"},
      {"nonsense", "listen: expected HOST:PORT, got 'nonsense'"},
      {":3679", "listen: expected HOST:PORT, got ':3679'"},
      {"host:", "listen: expected HOST:PORT, got 'host:'"},
      {"host:65536", "listen: expected HOST:PORT, got 'host:65536'"},
      {"host:-1", "listen: expected HOST:PORT, got 'host:-1'"},
      {"::1:80", "listen: expected HOST:PORT, got '::1:80'"},
      {"[::1]", "listen: expected HOST:PORT, got '[::1]'"},
      {"[::1]80", "listen: expected HOST:PORT, got '[::1]80'"},
      {"[nothost]:80", "listen: expected HOST:PORT, got '[nothost]:80'"},
      {"bad host:80", "listen: expected HOST:PORT, got 'bad host:80'"},
  };
  for (const auto& [listen, message] : cases) {
    TunnelServerConfig c;
    c.listen = std::string(listen);
    EXPECT_EQ(error_of(c.validate()), message) << listen;
  }
}

TEST(ServerConfigTest, ParseHostPort) {
  Result<HostPort> v4 = parse_host_port("10.0.0.1:22", "x");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(*v4, (HostPort{"10.0.0.1", 22}));
  EXPECT_EQ(v4->to_string(), "10.0.0.1:22");
  Result<HostPort> v6 = parse_host_port("[fd00::5]:3669", "x");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(*v6, (HostPort{"fd00::5", 3669}));
  EXPECT_EQ(v6->to_string(), "[fd00::5]:3669");
  Result<HostPort> bad = parse_host_port("x", "target");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::config);
  EXPECT_EQ(bad.error().message, "target: expected HOST:PORT, got 'x'");
}

TEST(ServerConfigTest, TokenEntries) {
  auto error_with = [](auto change) {
    TunnelServerConfig c;
    c.tokens = {token("alpha", "a"), token("beta", "b")};
    change(c);
    return error_of(c.validate());
  };
  EXPECT_EQ(error_with([](auto&) {}), "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.tokens[0].name = ""; }), "tokens[0].name: cannot be empty");
  EXPECT_EQ(error_with([](auto& c) { c.tokens[1].sha256 = "abc"; }),
            "tokens[1].sha256: expected 64 hex digits");
  EXPECT_EQ(error_with([](auto& c) { c.tokens[1].sha256 = std::string(63, 'a') + "z"; }),
            "tokens[1].sha256: expected 64 hex digits");
  EXPECT_EQ(error_with([](auto& c) { c.tokens[1].sha256 = crypto::hash_token("a"); }),
            "tokens[1].sha256: same token as tokens[0]");
  EXPECT_EQ(error_with([](auto& c) {
              c.tokens[1].sha256 = to_ascii_upper(crypto::hash_token("a"));
            }),
            "tokens[1].sha256: same token as tokens[0]");
  EXPECT_EQ(error_with([](auto& c) {
              c.tokens[0].allowed_ports = PortRange{200, 100};
            }),
            "tokens[0].allowed_ports: start (200) must be <= end (100)");
  EXPECT_EQ(error_with([](auto& c) {
              c.tokens[0].allowed_ports = PortRange{0, 100};
            }),
            "tokens[0].allowed_ports: ports must be within 1..65535");
  EXPECT_EQ(error_with([](auto& c) { c.tokens[0].allowed_ports = PortRange{1, 65535}; }), "<ok>");
  EXPECT_EQ(error_with([](auto& c) {
              c.tokens[1].allow = {"service:ssh", "nope"};
            }),
            "tokens[1].allow[1]: invalid target 'nope' (expected service:NAME, HOST:PORT or "
            "CIDR:PORT)");
}

TEST(ServerConfigTest, AllowTargetSyntax) {
  const std::string_view valid[] = {
      "service:ssh",
      "service:*",
      "service:my_svc-1",
      "service:caf\xc3\xa9",
      "db.internal:5432",
      "*:443",
      "*:*",
      "host:*",
      "127.0.0.1:8080",
      "10.0.0.0/8:*",
      "10.1.2.0/24:22",
      "0.0.0.0/0:80",
      "[::1]:22",
      "[fd00::/8]:80",
      "[::/0]:*",
  };
  const std::string_view invalid[] = {
      "service:",
      "service:a b",
      "service:a.b",
      "service:\xff",
      "host",
      "host:",
      "host:0",
      "host:70000",
      "host:port",
      "::1:22",
      "10.0.0.0/33:80",
      "10.0.0.0/:80",
      "10.0.0.0/8/8:80",
      "[fd00::/129]:80",
      "[::1]",
      "[::1]22",
      "[nothost]:80",
      "*",
      "*.example.com:80",
      "",
      ":80",
      "a b:80",
      // A NUL inside an address must not end it early (inet_pton reads a C string).
      std::string_view("10.0.0.1\0x/8:22", 15),
      std::string_view("[::1\0x]:22", 10),
  };
  for (std::string_view target : valid) {
    TunnelServerConfig c;
    c.tokens = {token("t", "s")};
    c.tokens[0].allow = {std::string(target)};
    EXPECT_EQ(error_of(c.validate()), "<ok>") << target;
  }
  for (std::string_view target : invalid) {
    TunnelServerConfig c;
    c.tokens = {token("t", "s")};
    c.tokens[0].allow = {std::string(target)};
    EXPECT_EQ(error_of(c.validate()), "tokens[0].allow[0]: invalid target '" + std::string(target) +
                                          "' (expected service:NAME, HOST:PORT or CIDR:PORT)");
  }
}

TEST(ServerConfigTest, RoutingModeNames) {
  EXPECT_EQ(routing_mode_name(RoutingMode::prefer_overlay), "preferoverlay");
  EXPECT_EQ(routing_mode_name(RoutingMode::overlay_only), "overlayonly");
  EXPECT_EQ(routing_mode_name(RoutingMode::direct_only), "directonly");
  for (RoutingMode m :
       {RoutingMode::prefer_overlay, RoutingMode::overlay_only, RoutingMode::direct_only}) {
    EXPECT_EQ(*parse_routing_mode(routing_mode_name(m)), m);
  }
  Result<RoutingMode> bad = parse_routing_mode("PreferOverlay");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::config);
  EXPECT_EQ(bad.error().message,
            "unknown routing mode 'PreferOverlay' (expected preferoverlay, overlayonly or "
            "directonly)");
}

}  // namespace
}  // namespace zlt::config
