#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/crypto/crypto.hpp"
#include "support/result_text.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

std::string server_error(std::string_view text) {
  return error_of(server_config_from_json(json::parse(text)));
}
std::string client_error(std::string_view text) {
  return error_of(client_config_from_json(json::parse(text)));
}

TunnelServerConfig full_server() {
  TunnelServerConfig c;
  c.enabled = false;
  c.control_path = "/t";
  c.data_port_range = {40000, 40100};
  c.heartbeat_interval = 1500ms;
  c.heartbeat_timeout = 5s;
  c.max_tunnels = 7;
  c.max_services_per_tunnel = 3;
  c.routing_mode = RoutingMode::overlay_only;
  c.bind_overlay = true;
  c.dns_registration = true;
  c.listen = "[::1]:0";
  c.public_bind = "127.0.0.1";
  c.tls_cert = "/etc/zlt/cert.pem";
  c.tls_key = "/etc/zlt/key.pem";
  TokenEntry a;
  a.name = "agent-a";
  a.sha256 = crypto::hash_token("a");
  a.allowed_ports = PortRange{40000, 40009};
  a.allow = {"service:ssh", "10.0.0.0/8:*"};
  TokenEntry b;
  b.name = "agent-b";
  b.sha256 = crypto::hash_token("b");
  c.tokens = {a, b};
  c.accept_any_token = true;
  c.max_streams_per_tunnel = 16;
  c.auth_timeout = 250ms;
  c.connect_timeout = 2s;
  c.udp_idle_timeout = 2min;
  c.max_connections = 500;
  c.max_pending_handshakes = 50;
  c.max_unauthenticated_per_source = 5;
  c.auth_failure_delay_max = 0ms;
  c.max_conns_per_source = 9;
  c.max_udp_flows = 16;
  c.admin_token_hash = crypto::hash_token("admin");
  c.max_access_ttl = 90min;
  c.grants_file = "/var/lib/zlt/grants.json";
  return c;
}

TunnelClientConfig full_client() {
  TunnelClientConfig c("wss://tunnel.example.com/tunnel/v1", "tun_0123");
  c.reconnect_interval = 100ms;
  c.max_reconnect_interval = 2min;
  c.with_service(ServiceConfig::tcp("ssh", 22).with_remote_port(2222));
  c.with_service(ServiceConfig::udp("game", 27015));
  ServiceConfig db = ServiceConfig::tcp("db", 5432);
  db.internal = true;
  c.with_service(db);
  c.overlay_server_url = "ws://10.200.0.5:3669/tunnel/v1";
  c.routing_mode = RoutingMode::direct_only;
  c.local_host = "::1";
  c.ca_file = "/etc/ssl/ca.pem";
  c.insecure = true;
  c.proxy = "http://proxy:3128";
  c.connect_timeout = 3s;
  c.heartbeat_interval = 10s;
  c.heartbeat_timeout = 25s;
  return c;
}

TEST(ConfigJsonTest, ServerRoundTrip) {
  for (const TunnelServerConfig& c : {TunnelServerConfig{}, full_server()}) {
    json j = json::parse(to_json(c).dump());
    Result<TunnelServerConfig> back = server_config_from_json(j);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, c) << j.dump(2);
    EXPECT_EQ(error_of(parse_server_config(j.dump())), "<ok>");
  }
}

TEST(ConfigJsonTest, ServerWritesEveryFieldAndOmitsUnsetOptionals) {
  json j = to_json(TunnelServerConfig{});
  EXPECT_EQ(j, json::parse(R"({
    "enabled": true, "control_path": "/tunnel/v1", "data_port_range": [30000, 31000],
    "heartbeat_interval": "30s", "heartbeat_timeout": "40s", "max_tunnels": 1000,
    "max_services_per_tunnel": 50, "routing_mode": "preferoverlay", "bind_overlay": false,
    "dns_registration": false, "listen": "0.0.0.0:3679", "public_bind": "0.0.0.0",
    "tokens": [], "accept_any_token": false, "max_streams_per_tunnel": 4096,
    "auth_timeout": "10s", "connect_timeout": "10s", "udp_idle_timeout": "60s",
    "max_connections": 10000, "max_pending_handshakes": 1000,
    "max_unauthenticated_per_source": 64, "auth_failure_delay_max": "5s",
    "max_conns_per_source": 0, "max_udp_flows": 1024,
    "max_session_queue": 2097152, "slow_peer_timeout": "30s", "max_buffered_bytes": 536870912,
    "grace_period": "30s",
    "max_access_ttl": "86400s", "http_max_connections": 16, "http_max_request_head": 8192,
    "http_idle_timeout": "10s"})"));
  json full = to_json(full_server());
  EXPECT_EQ(full["tls_cert"], "/etc/zlt/cert.pem");
  EXPECT_EQ(full["heartbeat_interval"], "1500ms");
  EXPECT_EQ(full["tokens"][0], json::parse(R"({"name": "agent-a",
    "sha256": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
    "allowed_ports": [40000, 40009], "allow": ["service:ssh", "10.0.0.0/8:*"]})"));
  EXPECT_FALSE(full["tokens"][1].contains("allowed_ports"));
}

TEST(ConfigJsonTest, MemoryLimitsAreReadAndChecked) {
  auto c = server_config_from_json(json::parse(
      R"({"max_session_queue": 1048576, "slow_peer_timeout": "5s", "max_buffered_bytes": 9})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_session_queue, 1048576u);
  EXPECT_EQ(c->slow_peer_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->max_buffered_bytes, 9u);
  TunnelServerConfig bad;
  bad.max_session_queue = 1000;
  EXPECT_EQ(bad.validate().error().message,
            "max_session_queue: must be at least 65536 (one message)");
  bad = TunnelServerConfig{};
  bad.max_buffered_bytes = 0;
  EXPECT_EQ(bad.validate().error().message, "max_buffered_bytes: must be > 0");
  TunnelClientConfig client("ws://host:1/tunnel/v1", "token");
  client.slow_peer_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(client.validate().error().message, "slow_peer_timeout: must be > 0");
}

TEST(ConfigJsonTest, EmptyObjectGivesDefaults) {
  Result<TunnelServerConfig> c = server_config_from_json(json::object());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, TunnelServerConfig{});
}

TEST(ConfigJsonTest, ClientRoundTrip) {
  for (const TunnelClientConfig& c :
       {TunnelClientConfig("ws://host:1/tunnel/v1", "token"), full_client()}) {
    json j = json::parse(to_json(c).dump());
    Result<TunnelClientConfig> back = client_config_from_json(j);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, c) << j.dump(2);
  }
  json plain = to_json(TunnelClientConfig("ws://host:1/tunnel/v1", "token"));
  for (const char* key : {"overlay_server_url", "ca_file", "proxy"})
    EXPECT_FALSE(plain.contains(key)) << key;
}

TEST(ConfigJsonTest, ServiceRoundTrip) {
  ServiceConfig s = ServiceConfig::udp("game", 27015).with_remote_port(30001);
  s.internal = true;
  EXPECT_EQ(to_json(s), json::parse(R"({"name": "game", "protocol": "udp", "local_port": 27015,
                                        "remote_port": 30001, "internal": true})"));
  EXPECT_EQ(*service_config_from_json(to_json(s)), s);
  Result<ServiceConfig> minimal =
      service_config_from_json(json::parse(R"({"name": "ssh", "local_port": 22})"));
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(*minimal, ServiceConfig::tcp("ssh", 22));
}

TEST(ConfigJsonTest, DurationsTakeStringsOrWholeSeconds) {
  Result<TunnelClientConfig> c = client_config_from_json(json::parse(
      R"({"server_url": "wss://example.com", "token": "test",
          "reconnect_interval": "10s", "max_reconnect_interval": "2m"})"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->reconnect_interval, 10s);
  EXPECT_EQ(c->max_reconnect_interval, 120s);
  c = client_config_from_json(json::parse(
      R"({"server_url": "wss://example.com", "token": "test",
          "reconnect_interval": "500ms", "max_reconnect_interval": "1000ms"})"));
  EXPECT_EQ(c->reconnect_interval, 500ms);
  EXPECT_EQ(c->max_reconnect_interval, 1000ms);
  c = client_config_from_json(json::parse(
      R"({"server_url": "wss://example.com", "token": "test",
          "reconnect_interval": "1h", "max_reconnect_interval": "2h"})"));
  EXPECT_EQ(c->reconnect_interval, 3600s);
  EXPECT_EQ(c->max_reconnect_interval, 7200s);
  c = client_config_from_json(json::parse(
      R"({"server_url": "wss://example.com", "token": "test", "reconnect_interval": 7,
          "max_reconnect_interval": 0})"));
  EXPECT_EQ(c->reconnect_interval, 7s);
  EXPECT_EQ(c->max_reconnect_interval, 0s);
}

TEST(ConfigJsonTest, DurationErrorsNameTheField) {
  const std::string expected =
      "heartbeat_interval: expected a duration (\"500ms\", \"30s\", \"2m\", \"1h\") or a whole "
      "number of seconds";
  EXPECT_EQ(server_error(R"({"heartbeat_interval": -5})"), expected);
  EXPECT_EQ(server_error(R"({"heartbeat_interval": 1.5})"), expected);
  EXPECT_EQ(server_error(R"({"heartbeat_interval": true})"), expected);
  EXPECT_EQ(server_error(R"({"heartbeat_interval": null})"), expected);
  EXPECT_EQ(server_error(R"({"heartbeat_interval": "5x"})"),
            "heartbeat_interval: invalid duration format: 5x");
  EXPECT_EQ(server_error(R"({"auth_timeout": "1.5s"})"),
            "auth_timeout: invalid duration number: 1.5");
  EXPECT_EQ(server_error(R"({"udp_idle_timeout": 9223372036854776})"),
            "udp_idle_timeout: duration out of range: 9223372036854776s");
  EXPECT_EQ(server_error(R"({"udp_idle_timeout": 9223372036854775})"), "<ok>");
}

TEST(ConfigJsonTest, UnknownKeysNameThePath) {
  EXPECT_EQ(server_error(R"({"bogus": 1})"), "unknown key 'bogus'");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": "t", "secret": "x"}]})"),
            "tokens[0]: unknown key 'secret'");
  EXPECT_EQ(client_error(R"({"server_url": "ws://h:1/", "token": "t",
                            "services": [{"name": "a", "local_port": 1},
                                         {"name": "b", "local_port": 2, "x": 0}]})"),
            "services[1]: unknown key 'x'");
  EXPECT_EQ(error_of(service_config_from_json(json::parse(R"({"name": "a", "local_port": 1,
                                                              "remote": 5})"))),
            "unknown key 'remote'");
  // Keys of the original's TOML spelling are not silently accepted either.
  EXPECT_EQ(client_error(R"({"server_url": "ws://h:1/", "token": "t", "Token": "u"})"),
            "unknown key 'Token'");
}

TEST(ConfigJsonTest, WrongTypesNameThePath) {
  EXPECT_EQ(error_of(server_config_from_json(json::array())), "expected an object");
  EXPECT_EQ(error_of(client_config_from_json(json("text"))), "expected an object");
  EXPECT_EQ(server_error(R"({"enabled": "yes"})"), "enabled: expected a boolean");
  EXPECT_EQ(server_error(R"({"control_path": 5})"), "control_path: expected a string");
  EXPECT_EQ(server_error(R"({"listen": null})"), "listen: expected a string");
  EXPECT_EQ(server_error(R"({"max_tunnels": -1})"), "max_tunnels: expected a non-negative integer");
  EXPECT_EQ(server_error(R"({"max_tunnels": 1.0})"),
            "max_tunnels: expected a non-negative integer");
  for (const char* range : {"[1]", "[1, 2, 3]", "\"30000-31000\"", "[1, -2]", "[1, 70000]",
                            "{\"start\": 1, \"end\": 2}"}) {
    EXPECT_EQ(server_error(std::string(R"({"data_port_range": )") + range + "}"),
              "data_port_range: expected [start, end] with ports 0..65535")
        << range;
  }
  EXPECT_EQ(server_error(R"({"routing_mode": "fast"})"),
            "routing_mode: expected \"preferoverlay\", \"overlayonly\" or \"directonly\"");
  EXPECT_EQ(server_error(R"({"tokens": {}})"), "tokens: expected an array");
  EXPECT_EQ(server_error(R"({"tokens": ["t"]})"), "tokens[0]: expected an object");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": "t", "allow": "service:ssh"}]})"),
            "tokens[0].allow: expected an array of strings");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": "t", "allow": ["service:ssh", 5]}]})"),
            "tokens[0].allow[1]: expected a string");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": "t", "allowed_ports": [5]}]})"),
            "tokens[0].allowed_ports: expected [start, end] with ports 0..65535");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": 5}]})"), "tokens[0].token: expected a string");

  const std::string prefix = R"({"server_url": "ws://h:1/", "token": "t", )";
  EXPECT_EQ(client_error(prefix + R"("services": {}})"), "services: expected an array");
  EXPECT_EQ(client_error(prefix + R"("services": [{"name": "a", "local_port": 1}, 3]})"),
            "services[1]: expected an object");
  for (const char* port : {"70000", "-1", "\"22\"", "22.5"}) {
    EXPECT_EQ(client_error(prefix + R"("services": [{"name": "a", "local_port": 1},
                                                     {"name": "b", "local_port": )" +
                           port + "}]}"),
              "services[1].local_port: expected an integer 0..65535")
        << port;
  }
  EXPECT_EQ(client_error(prefix + R"("services": [{"name": "a", "local_port": 1,
                                                    "protocol": "sctp"}]})"),
            "services[0].protocol: expected \"tcp\" or \"udp\"");
  EXPECT_EQ(client_error(prefix + R"("services": [{"name": "a", "local_port": 1,
                                                    "protocol": "TCP"}]})"),
            "services[0].protocol: expected \"tcp\" or \"udp\"");
  EXPECT_EQ(client_error(prefix + R"("insecure": 1})"), "insecure: expected a boolean");
  EXPECT_EQ(client_error(prefix + R"("proxy": 8080})"), "proxy: expected a string");
}

TEST(ConfigJsonTest, RequiredKeys) {
  EXPECT_EQ(client_error(R"({"token": "t"})"), "missing required key 'server_url'");
  EXPECT_EQ(client_error(R"({"server_url": "ws://h:1/"})"), "missing required key 'token'");
  EXPECT_EQ(client_error(R"({"server_url": "ws://h:1/", "token": "t",
                            "services": [{"name": "a", "local_port": 1}, {"name": "b"}]})"),
            "services[1]: missing required key 'local_port'");
  EXPECT_EQ(client_error(R"({"server_url": "ws://h:1/", "token": "t",
                            "services": [{"local_port": 1}]})"),
            "services[0]: missing required key 'name'");
}

TEST(ConfigJsonTest, OptionalNullMeansUnset) {
  Result<TunnelServerConfig> c =
      server_config_from_json(json::parse(R"({"tls_cert": null, "tls_key": null})"));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->tls_cert.has_value());
  Result<TunnelClientConfig> client = client_config_from_json(json::parse(
      R"({"server_url": "ws://h:1/", "token": "t", "overlay_server_url": null, "proxy": null})"));
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(client->overlay_server_url.has_value());
}

TEST(ConfigJsonTest, TokenEntries) {
  Result<TunnelServerConfig> c = server_config_from_json(json::parse(R"({"tokens": [
      {"token": "test"},
      {"name": "ops", "sha256": "1A7674EB4EE78DF7E1AC439A93C3FA8E3C945784D4DEC9FD8E3011738B2F1D62",
       "allowed_ports": [30000, 30010], "allow": ["service:*"]}]})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->tokens.size(), 2u);
  EXPECT_EQ(c->tokens[0].name, "token-0");
  EXPECT_EQ(c->tokens[0].sha256,
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_FALSE(c->tokens[0].allowed_ports.has_value());
  EXPECT_TRUE(c->tokens[0].allow.empty());
  EXPECT_EQ(c->tokens[1].name, "ops");
  EXPECT_EQ(c->tokens[1].sha256, crypto::hash_token("tok"));
  EXPECT_EQ(c->tokens[1].allowed_ports, (std::optional<PortRange>(PortRange{30000, 30010})));
  EXPECT_EQ(c->tokens[1].allow, std::vector<std::string>{"service:*"});
  // The plain token is never written back.
  std::string written = to_json(*c).dump();
  EXPECT_EQ(written.find("\"token\""), std::string::npos) << written;
  EXPECT_NE(written.find(crypto::hash_token("test")), std::string::npos);
}

TEST(ConfigJsonTest, TokenEntryNeedsExactlyOneSecret) {
  EXPECT_EQ(server_error(R"({"tokens": [{"token": "a"}, {"name": "x"}]})"),
            "tokens[1]: exactly one of 'token' and 'sha256' is required");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": "a", "sha256": "ab"}]})"),
            "tokens[0]: exactly one of 'token' and 'sha256' is required");
  EXPECT_EQ(server_error(R"({"tokens": [{"token": ""}]})"), "tokens[0].token: cannot be empty");
  // The digest's shape is checked by validate(), which names the entry too.
  EXPECT_EQ(error_of(parse_server_config(R"({"tokens": [{"sha256": "abc"}]})")),
            "tokens[0].sha256: expected 64 hex digits");
  EXPECT_EQ(error_of(parse_server_config(R"({"tokens": [{"token": "a"}, {"token": "a"}]})")),
            "tokens[1].sha256: same token as tokens[0]");
}

TEST(ConfigJsonTest, ParseTextValidates) {
  Result<TunnelServerConfig> bad_syntax = parse_server_config("{\"enabled\": tru}");
  ASSERT_FALSE(bad_syntax.ok());
  EXPECT_EQ(bad_syntax.error().code, Errc::config);
  EXPECT_TRUE(bad_syntax.error().message.starts_with("invalid JSON: parse error at line 1"))
      << bad_syntax.error().message;
  EXPECT_TRUE(error_of(parse_client_config("")).starts_with("invalid JSON: "))
      << error_of(parse_client_config(""));
  EXPECT_EQ(error_of(parse_server_config(R"({"control_path": ""})")),
            "control_path cannot be empty");
  EXPECT_EQ(error_of(parse_server_config(R"({"x": 1})")), "unknown key 'x'");
  EXPECT_EQ(error_of(parse_client_config(R"({"server_url": "http://h", "token": "t"})")),
            "server_url must start with ws:// or wss://");
  Result<TunnelClientConfig> ok = parse_client_config(
      R"({"server_url": "ws://127.0.0.1:3679/tunnel/v1", "token": "t",
          "services": [{"name": "web", "local_port": 8080}]})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->services, std::vector<ServiceConfig>{ServiceConfig::tcp("web", 8080)});
}

}  // namespace
}  // namespace zlt::config
