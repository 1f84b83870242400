// Node configuration files (node_name, server, tunnels) and the overlay URL rewriting of node
// tunnels: every bad field is named, every URL keeps its scheme, port and path.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/node/overlay.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

const char* const kNodeB = R"({
  "node_name": "node-b",
  "server": {"listen": "127.0.0.1:0", "data_port_range": [0, 0]},
  "tunnels": [
    {"name": "db", "from": "node-a", "to": "node-b", "local_port": 5432, "remote_port": 15432,
     "token": "tok-db", "direct_url": "ws://127.0.0.1:3679/tunnel/v1"},
    {"name": "web", "from": "node-b", "to": "node-c", "local_port": 80, "remote_port": 0,
     "expose": "public", "token": "tok-web", "routing_mode": "directonly",
     "direct_url": "ws://10.0.0.3:3679/tunnel/v1"}
  ]
})";

TEST(NodeConfigTest, ParsesEveryField) {
  Result<NodeConfig> c = parse_node_config(kNodeB);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->node_name, "node-b");
  ASSERT_TRUE(c->server.has_value());
  EXPECT_EQ(c->server->listen, "127.0.0.1:0");
  ASSERT_EQ(c->tunnels.size(), 2u);
  EXPECT_EQ(c->tunnels[0].expose, ExposeType::internal);
  EXPECT_EQ(c->tunnels[0].direct_url, std::optional<std::string>("ws://127.0.0.1:3679/tunnel/v1"));
  EXPECT_EQ(c->tunnels[1].expose, ExposeType::public_);
  EXPECT_EQ(c->tunnels[1].routing_mode, RoutingMode::direct_only);
  EXPECT_EQ(c->internal_bind, "127.0.0.1");
  // Round trip through to_json.
  Result<NodeConfig> again = node_config_from_json(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *c);
}

TEST(NodeConfigTest, NoServerMeansNoInboundSide) {
  Result<NodeConfig> c = parse_node_config(R"({"node_name": "a", "tunnels": []})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c->server.has_value());
  EXPECT_TRUE(c->tunnels.empty());
}

TEST(NodeConfigTest, OverlayUrlRoundTrips) {
  NodeTunnel t("t", "a", "b");
  t.local_port = 22;
  t.direct_url = "wss://b.example.com/tunnel/v1";
  t.overlay_url = "ws://[fd00::2]:3679/tunnel/v1";
  Result<NodeTunnel> parsed = node_tunnel_from_json(to_json(t));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, t);
}

struct BadConfig {
  const char* text;
  const char* message;
};

TEST(NodeConfigTest, BadConfigsNameTheField) {
  const BadConfig cases[] = {
      {R"({"tunnels": []})", "missing required key 'node_name'"},
      {R"({"node_name": ""})", "node_name: cannot be empty"},
      {R"({"node_name": "a", "extra": 1})", "unknown key 'extra'"},
      {R"({"node_name": "a", "tunnels": {}})", "tunnels: expected an array"},
      {R"({"node_name": "a", "server": {"listen": 5}})", "server: listen: expected a string"},
      {R"({"node_name": "a", "server": {"bogus": 1}})", "server: unknown key 'bogus'"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1}]})",
       "tunnels[0]: missing required key 'remote_port'"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 70000, "remote_port": 1}]})",
       "tunnels[0].local_port: expected an integer 0..65535"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 0, "remote_port": 1, "direct_url": "ws://b:1/"}]})",
       "tunnels[0].local_port: cannot be 0"},
      {R"({"node_name": "a", "tunnels": [{"name": "bad name", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "direct_url": "ws://b:1/"}]})",
       "tunnels[0].name: must contain only alphanumeric characters, hyphens, and underscores"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "a",
          "local_port": 1, "remote_port": 1}]})",
       "tunnels[0].to: must differ from from ('a')"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "expose": "outside"}]})",
       "tunnels[0].expose: expected \"internal\" or \"public\""},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "routing_mode": "fast"}]})",
       "tunnels[0].routing_mode: expected \"preferoverlay\", \"overlayonly\" or \"directonly\""},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "direct_url": "http://b/"}]})",
       "tunnels[0].direct_url: must start with ws:// or wss://"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "routing_mode": "directonly"}]})",
       "tunnels[0].direct_url: required for routing_mode directonly"},
      {R"({"node_name": "a", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "token": ""}]})",
       "tunnels[0].token: cannot be empty"},
      {R"({"node_name": "b", "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1, "token": "x"}]})",
       "tunnels[0]: its destination is this node, which needs 'server'"},
      {R"({"node_name": "b", "server": {}, "tunnels": [{"name": "t", "from": "a", "to": "b",
          "local_port": 1, "remote_port": 1}]})",
       "tunnels[0].token: required for a tunnel whose destination is this node"},
      {R"({"node_name": "c", "tunnels": [
          {"name": "t", "from": "a", "to": "b", "local_port": 1, "remote_port": 1},
          {"name": "t", "from": "a", "to": "b", "local_port": 2, "remote_port": 2}]})",
       "tunnels[1].name: duplicate tunnel name 't'"},
      {R"({"node_name": "c", "tunnels": [
          {"name": "t", "from": "a", "to": "b", "local_port": 1, "remote_port": 1, "token": "x"},
          {"name": "u", "from": "a", "to": "b", "local_port": 2, "remote_port": 2, "token": "x"}]})",
       "tunnels[1].token: same token as tunnel 't'"},
      {R"({"node_name": "a", "reconnect_interval": "0s"})", "reconnect_interval: must be > 0"},
      {R"({"node_name": "a", "heartbeat_interval": "5s", "heartbeat_timeout": "5s"})",
       "heartbeat_timeout: must be > heartbeat_interval"},
  };
  for (const BadConfig& c : cases) {
    Result<NodeConfig> r = parse_node_config(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message, c.message) << c.text;
    EXPECT_EQ(r.error().code, Errc::config);
  }
}

TEST(NodeConfigTest, LoadNamesTheFile) {
  Result<NodeConfig> r = load_node_config("/nonexistent/node.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/node.json"), std::string::npos);
}

TEST(NodeTunnelValidateTest, NamesTheField) {
  NodeTunnel t("ok", "a", "b");
  t.local_port = 1;
  EXPECT_TRUE(t.validate().ok());
  t.from = "";
  EXPECT_EQ(t.validate().error().message, "from: cannot be empty");
  t.from = "a";
  t.to = "";
  EXPECT_EQ(t.validate().error().message, "to: cannot be empty");
  t.to = "b";
  t.overlay_url = "tcp://x";
  EXPECT_EQ(t.validate().error().message, "overlay_url: must start with ws:// or wss://");
}

}  // namespace
}  // namespace zlt::config

namespace zlt {
namespace {

TEST(OverlayUrlTest, RewritingKeepsSchemePortAndPath) {
  struct Case {
    const char* url;
    const char* host;
    const char* expected;
  };
  const Case cases[] = {
      {"ws://node-b:3679/tunnel/v1", "10.0.0.1", "ws://10.0.0.1:3679/tunnel/v1"},
      {"wss://node-b:3679/tunnel/v1", "10.0.0.1", "wss://10.0.0.1:3679/tunnel/v1"},
      // No explicit port: none added, the path is kept (the original lost it).
      {"ws://node-b/tunnel/v1", "10.0.0.1", "ws://10.0.0.1/tunnel/v1"},
      {"wss://node-b", "10.0.0.1", "wss://10.0.0.1"},
      {"ws://node-b:3679", "10.0.0.1", "ws://10.0.0.1:3679"},
      {"ws://node-b:3679/a/b?x=1", "10.0.0.1", "ws://10.0.0.1:3679/a/b?x=1"},
      // IPv6 overlay addresses get brackets (the original mangled them).
      {"ws://node-b:3679/tunnel/v1", "fd00::1", "ws://[fd00::1]:3679/tunnel/v1"},
      {"ws://node-b:3679/tunnel/v1", "[fd00::1]", "ws://[fd00::1]:3679/tunnel/v1"},
      {"wss://node-b/t", "fd00:200::5", "wss://[fd00:200::5]/t"},
      // An IPv6 literal in the direct URL is replaced whole.
      {"ws://[2001:db8::7]:3679/tunnel/v1", "10.0.0.1", "ws://10.0.0.1:3679/tunnel/v1"},
      {"ws://[2001:db8::7]/tunnel/v1", "fd00::9", "ws://[fd00::9]/tunnel/v1"},
      {"ws://192.168.1.5:80/x", "node-b.overlay", "ws://node-b.overlay:80/x"},
  };
  for (const Case& c : cases) {
    Result<std::string> r = rewrite_url_host(c.url, c.host);
    ASSERT_TRUE(r.ok()) << c.url << ": " << r.error().message;
    EXPECT_EQ(*r, c.expected) << c.url << " with " << c.host;
  }
  EXPECT_FALSE(rewrite_url_host("not a url", "10.0.0.1").ok());
  EXPECT_FALSE(rewrite_url_host("ws://node-b/", "").ok());
}

TEST(OverlayUrlTest, OverlayUrlForATunnel) {
  config::NodeTunnel t("t", "a", "b");
  t.direct_url = "ws://node-b:3679/tunnel/v1";
  EXPECT_EQ(overlay_url_for(t, nullptr), std::nullopt);
  OverlayResolver resolver = [](const std::string& node) -> std::optional<std::string> {
    if (node == "b") return "10.200.0.2";
    return std::nullopt;
  };
  // The tunnel server's port, not the original's hard-coded 3669.
  EXPECT_EQ(overlay_url_for(t, resolver),
            std::optional<std::string>("ws://10.200.0.2:3679/tunnel/v1"));
  t.to = "c";
  EXPECT_EQ(overlay_url_for(t, resolver), std::nullopt);
  // A given overlay_url wins.
  t.overlay_url = "ws://[fd00::3]:4000/tunnel/v1";
  EXPECT_EQ(overlay_url_for(t, resolver), t.overlay_url);
}

}  // namespace
}  // namespace zlt
