#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

NodeTunnel with_ports(NodeTunnel t, std::uint16_t local, std::uint16_t remote) {
  t.local_port = local;
  t.remote_port = remote;
  return t;
}

NodeTunnel round_trip(const NodeTunnel& t) {
  Result<NodeTunnel> parsed = node_tunnel_from_json(json::parse(to_json(t).dump()));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? *parsed : NodeTunnel{};
}

TEST(NodeTunnelConfigTest, New) {
  NodeTunnel t("test-tunnel", "node-a", "node-b");
  EXPECT_EQ(t.name, "test-tunnel");
  EXPECT_EQ(t.from, "node-a");
  EXPECT_EQ(t.to, "node-b");
  EXPECT_EQ(t.local_port, 0);
  EXPECT_EQ(t.remote_port, 0);
  EXPECT_EQ(t.protocol, proto::ServiceProtocol::tcp);
  EXPECT_EQ(t.expose, ExposeType::internal);
  EXPECT_FALSE(t.token.has_value());
  EXPECT_EQ(t.routing_mode, RoutingMode::prefer_overlay);
}

TEST(NodeTunnelConfigTest, AllFieldsSet) {
  NodeTunnel t = with_ports(NodeTunnel("ssh-tunnel", "client-node", "server-node"), 22, 2222);
  t.protocol = proto::ServiceProtocol::tcp;
  t.expose = ExposeType::public_;
  t.token = "secret-token-123";
  EXPECT_EQ(t.name, "ssh-tunnel");
  EXPECT_EQ(t.from, "client-node");
  EXPECT_EQ(t.to, "server-node");
  EXPECT_EQ(t.local_port, 22);
  EXPECT_EQ(t.remote_port, 2222);
  EXPECT_EQ(t.expose, ExposeType::public_);
  EXPECT_EQ(t.token, std::optional<std::string>("secret-token-123"));
}

TEST(NodeTunnelConfigTest, WithUdp) {
  NodeTunnel t = with_ports(NodeTunnel("game-tunnel", "game-client", "game-server"), 27015, 27015);
  t.protocol = proto::ServiceProtocol::udp;
  EXPECT_EQ(t.protocol, proto::ServiceProtocol::udp);
  EXPECT_EQ(round_trip(t).protocol, proto::ServiceProtocol::udp);
}

TEST(NodeTunnelConfigTest, ExposeTypeDefaultsToInternal) {
  EXPECT_EQ(ExposeType{}, ExposeType::internal);
  EXPECT_EQ(NodeTunnel().expose, ExposeType::internal);
}

TEST(NodeTunnelConfigTest, Equality) {
  NodeTunnel a = with_ports(NodeTunnel("test", "a", "b"), 22, 2222);
  NodeTunnel b = with_ports(NodeTunnel("test", "a", "b"), 22, 2222);
  NodeTunnel c = with_ports(NodeTunnel("test", "a", "b"), 22, 3333);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(NodeTunnelConfigTest, Copy) {
  NodeTunnel t = with_ports(NodeTunnel("test", "a", "b"), 22, 2222);
  t.token = "token";
  NodeTunnel copy = t;
  EXPECT_EQ(t, copy);
}

TEST(NodeTunnelConfigTest, JsonRoundTrip) {
  NodeTunnel t = with_ports(NodeTunnel("test-tunnel", "node-a", "node-b"), 22, 2222);
  t.expose = ExposeType::public_;
  t.token = "token123";
  t.routing_mode = RoutingMode::direct_only;
  EXPECT_EQ(round_trip(t), t);
  EXPECT_EQ(to_json(t), json::parse(R"({"name": "test-tunnel", "from": "node-a", "to": "node-b",
                            "local_port": 22, "remote_port": 2222, "protocol": "tcp",
                            "expose": "public", "token": "token123",
                            "routing_mode": "directonly"})"));
}

TEST(NodeTunnelConfigTest, JsonWithoutTokenHasNoTokenKey) {
  NodeTunnel t = with_ports(NodeTunnel("test-tunnel", "node-a", "node-b"), 22, 2222);
  json j = to_json(t);
  EXPECT_FALSE(j.contains("token"));
  EXPECT_EQ(j.dump().find("token"), std::string::npos);
  EXPECT_EQ(round_trip(t), t);
}

TEST(NodeTunnelConfigTest, ExposeTypeNames) {
  NodeTunnel t("test", "a", "b");
  EXPECT_EQ(to_json(t)["expose"], "internal");
  t.expose = ExposeType::public_;
  EXPECT_EQ(to_json(t)["expose"], "public");
  EXPECT_EQ(*parse_expose_type("public"), ExposeType::public_);
  EXPECT_EQ(*parse_expose_type("internal"), ExposeType::internal);
  Result<ExposeType> bad = parse_expose_type("Public");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "unknown expose type 'Public' (expected internal or public)");
}

TEST(NodeTunnelConfigTest, RequiredKeys) {
  json full =
      json::parse(R"({"name": "n", "from": "a", "to": "b", "local_port": 1, "remote_port": 2})");
  ASSERT_TRUE(node_tunnel_from_json(full).ok());
  for (const char* key : {"name", "from", "to", "local_port", "remote_port"}) {
    json j = full;
    j.erase(key);
    Result<NodeTunnel> t = node_tunnel_from_json(j);
    ASSERT_FALSE(t.ok()) << key;
    EXPECT_EQ(t.error().message, "missing required key '" + std::string(key) + "'");
  }
  json extra = full;
  extra["port"] = 5;
  EXPECT_EQ(node_tunnel_from_json(extra).error().message, "unknown key 'port'");
  json bad_expose = full;
  bad_expose["expose"] = "external";
  EXPECT_EQ(node_tunnel_from_json(bad_expose).error().message,
            "expose: expected \"internal\" or \"public\"");
}

// overlay.rs and tunnel_overlay_e2e.rs: routing modes in configs.
TEST(RoutingModeConfigTest, DefaultIsPreferOverlay) {
  EXPECT_EQ(RoutingMode{}, RoutingMode::prefer_overlay);
  EXPECT_NE(RoutingMode::overlay_only, RoutingMode::direct_only);
}

TEST(RoutingModeConfigTest, NamesRoundTrip) {
  for (auto [mode, name] : {std::pair{RoutingMode::prefer_overlay, "preferoverlay"},
                            std::pair{RoutingMode::overlay_only, "overlayonly"},
                            std::pair{RoutingMode::direct_only, "directonly"}}) {
    TunnelClientConfig c("ws://host:3669/tunnel/v1", "token");
    c.routing_mode = mode;
    json j = to_json(c);
    EXPECT_EQ(j["routing_mode"], name);
    EXPECT_EQ(client_config_from_json(j)->routing_mode, mode);
  }
}

TEST(RoutingModeConfigTest, ClientAndServerRoundTrip) {
  TunnelClientConfig client("wss://tunnel.example.com/tunnel/v1", "my-token");
  client.overlay_server_url = "ws://10.200.0.5:3669/tunnel/v1";
  client.routing_mode = RoutingMode::overlay_only;
  Result<TunnelClientConfig> parsed_client =
      client_config_from_json(json::parse(to_json(client).dump()));
  ASSERT_TRUE(parsed_client.ok());
  EXPECT_EQ(parsed_client->routing_mode, RoutingMode::overlay_only);
  EXPECT_EQ(parsed_client->overlay_server_url,
            std::optional<std::string>("ws://10.200.0.5:3669/tunnel/v1"));
  EXPECT_EQ(*parsed_client, client);

  TunnelServerConfig server;
  server.routing_mode = RoutingMode::direct_only;
  server.bind_overlay = true;
  server.dns_registration = true;
  Result<TunnelServerConfig> parsed_server =
      server_config_from_json(json::parse(to_json(server).dump()));
  ASSERT_TRUE(parsed_server.ok());
  EXPECT_EQ(parsed_server->routing_mode, RoutingMode::direct_only);
  EXPECT_TRUE(parsed_server->bind_overlay);
  EXPECT_TRUE(parsed_server->dns_registration);
  EXPECT_EQ(*parsed_server, server);

  TunnelClientConfig plain("ws://host:3669/tunnel/v1", "token");
  EXPECT_EQ(client_config_from_json(to_json(plain))->routing_mode, RoutingMode::prefer_overlay);
}

TEST(RoutingModeConfigTest, NodeTunnelAllModesAndMissingField) {
  for (RoutingMode mode :
       {RoutingMode::prefer_overlay, RoutingMode::overlay_only, RoutingMode::direct_only}) {
    NodeTunnel t = with_ports(NodeTunnel("test-tunnel", "node-a", "node-b"), 22, 2222);
    t.token = "secret-token";
    t.routing_mode = mode;
    NodeTunnel parsed = round_trip(t);
    EXPECT_EQ(parsed.routing_mode, mode);
    EXPECT_EQ(parsed, t);
  }
  Result<NodeTunnel> minimal = node_tunnel_from_json(json::parse(
      R"({"name": "minimal", "from": "a", "to": "b", "local_port": 80, "remote_port": 8080})"));
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->routing_mode, RoutingMode::prefer_overlay);
  EXPECT_EQ(minimal->protocol, proto::ServiceProtocol::tcp);
  EXPECT_EQ(minimal->expose, ExposeType::internal);
  EXPECT_FALSE(minimal->token.has_value());
}

TEST(RoutingModeConfigTest, Ipv6OverlayUrlRoundTrip) {
  TunnelClientConfig c("wss://tunnel.example.com/tunnel/v1", "my-token");
  c.overlay_server_url = "ws://[fd00:200::5]:3669/tunnel/v1";
  c.routing_mode = RoutingMode::overlay_only;
  Result<TunnelClientConfig> parsed = parse_client_config(to_json(c).dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->overlay_server_url, c.overlay_server_url);
  EXPECT_EQ(parsed->routing_mode, RoutingMode::overlay_only);
  EXPECT_EQ(parsed->server_url, c.server_url);
  EXPECT_EQ(parsed->token, c.token);
}

TEST(AccessConfigTest, DefaultsAndRoundTrip) {
  AccessConfig c;
  EXPECT_FALSE(c.default_ttl.has_value());
  EXPECT_EQ(c.local_bind, "127.0.0.1");
  EXPECT_EQ(to_json(c), json::parse(R"({"local_bind": "127.0.0.1"})"));
  EXPECT_EQ(*access_config_from_json(json::object()), c);

  c.default_ttl = 90s;
  c.local_bind = "::1";
  EXPECT_EQ(to_json(c), json::parse(R"({"local_bind": "::1", "default_ttl": "90s"})"));
  EXPECT_EQ(*access_config_from_json(to_json(c)), c);
  EXPECT_EQ(access_config_from_json(json::parse(R"({"default_ttl": 3600})"))->default_ttl,
            std::optional<Duration>(3600s));
  EXPECT_EQ(access_config_from_json(json::parse(R"({"default_ttl": null})"))->default_ttl,
            std::nullopt);
  EXPECT_EQ(access_config_from_json(json::parse(R"({"ttl": "5s"})")).error().message,
            "unknown key 'ttl'");
  EXPECT_EQ(access_config_from_json(json::parse(R"({"default_ttl": "soon"})")).error().message,
            "default_ttl: invalid duration format: soon");
}

}  // namespace
}  // namespace zlt::config
