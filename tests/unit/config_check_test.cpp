// Collecting every error of a config (for `zlt check`): the collecting readers and
// validate_all() list each bad field, and their first error is the one the plain reader and
// validate() return.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/config/config_check.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

std::vector<std::string> messages(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  for (const Error& e : errors) out.push_back(e.message);
  return out;
}

// The collecting reader lists `expected`; the plain reader fails with its first entry.
template <class Config>
void expect_collected(const json& j, Result<Config> (*collect)(const json&, ErrorList&),
                      Result<Config> (*plain)(const json&),
                      const std::vector<std::string>& expected) {
  ErrorList errors;
  auto c = collect(j, errors);
  ASSERT_TRUE(c);
  EXPECT_EQ(messages(errors.errors()), expected);
  auto first = plain(j);
  ASSERT_FALSE(first);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(first.error().message, expected.front());
}

const json kBadAgent = json::parse(R"({
  "server_url": "ws://127.0.0.1:1/tunnel/v1",
  "token": "t",
  "heartbeat_interval": "soon",
  "colour": "red",
  "services": [
    {"name": "web", "local_port": 8080},
    {"name": "dns", "protocol": "udp", "local_port": 53},
    {"name": "db", "local_port": 70000}
  ]
})");

TEST(ConfigCollect, AgentReaderListsEveryBadFieldAndKeepsTheFirstError) {
  expect_collected(kBadAgent, collect_client_config, client_config_from_json,
                   {
                       "services[2].local_port: expected an integer 0..65535",
                       "heartbeat_interval: invalid duration format: soon",
                       "unknown key 'colour'",
                   });
  // The entries that read well are kept.
  ErrorList errors;
  auto c = collect_client_config(kBadAgent, errors);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->services.size(), 3u);
  EXPECT_EQ(c->services[1].name, "dns");
}

TEST(ConfigCollect, ServerReaderGoesOnPastBadTokenEntries) {
  const json j = json::parse(R"({
    "listen": 5,
    "tokens": [
      {"name": "a", "token": "x", "sha256": "00"},
      {"name": "b", "token": "", "bogus": 1},
      "not an object"
    ],
    "admin_token": "a", "admin_token_hash": "b"
  })");
  expect_collected(j, collect_server_config, server_config_from_json,
                   {
                       "listen: expected a string",
                       "tokens[0]: exactly one of 'token' and 'sha256' is required",
                       "tokens[1]: unknown key 'bogus'",
                       "tokens[1].token: cannot be empty",
                       "tokens[2]: expected an object",
                       "admin_token: give either admin_token or admin_token_hash",
                   });
}

TEST(ConfigCollect, NodeReaderPrefixesItsServerAndReadsEveryTunnel) {
  const json j = json::parse(R"({
    "node_name": "a",
    "server": {"listen": 1, "tokens": 2},
    "tunnels": [{"name": "t", "from": "a", "to": "b", "local_port": "x", "remote_port": 0},
                {"name": "u", "from": "a"}]
  })");
  expect_collected(j, collect_node_config, node_config_from_json,
                   {
                       "server: listen: expected a string",
                       "server: tokens: expected an array",
                       "tunnels[0].local_port: expected an integer 0..65535",
                       "tunnels[1]: missing required key 'to'",
                       "tunnels[1]: missing required key 'local_port'",
                       "tunnels[1]: missing required key 'remote_port'",
                   });
}

TEST(ConfigCollect, ValidateAllListsEveryRuleAndValidateReturnsTheFirst) {
  TunnelServerConfig s;
  s.control_path = "x";
  s.data_port_range = {10, 20};
  s.max_tunnels = 0;
  s.listen = "nowhere";
  ErrorList server_errors;
  s.validate_all(server_errors);
  EXPECT_EQ(messages(server_errors.errors()),
            (std::vector<std::string>{
                "control_path must start with '/'",
                "data_port_range start (10) should be >= 1024 (privileged ports)",
                "max_tunnels must be > 0",
                "listen: expected HOST:PORT, got 'nowhere'",
            }));
  ASSERT_FALSE(s.validate());
  EXPECT_EQ(s.validate().error().message, "control_path must start with '/'");

  TunnelClientConfig c("http://x", "");
  c.services.push_back(ServiceConfig::tcp("bad name", 0));
  c.services.push_back(ServiceConfig::tcp("ok", 1));
  c.services.push_back(ServiceConfig::tcp("ok", 2));
  ErrorList client_errors;
  c.validate_all(client_errors);
  EXPECT_EQ(messages(client_errors.errors()),
            (std::vector<std::string>{
                "server_url must start with ws:// or wss://",
                "token cannot be empty",
                "services[0]: name must contain only alphanumeric characters, hyphens, and "
                "underscores",
                "services[0]: local_port cannot be 0",
                "duplicate service name: ok",
            }));
  EXPECT_EQ(c.validate().error().message, "server_url must start with ws:// or wss://");

  NodeConfig n;
  n.tunnels.push_back(NodeTunnel("t", "a", "a"));
  ErrorList node_errors;
  n.validate_all(node_errors);
  EXPECT_EQ(messages(node_errors.errors()), (std::vector<std::string>{
                                                "node_name: cannot be empty",
                                                "tunnels[0].to: must differ from from ('a')",
                                                "tunnels[0].local_port: cannot be 0",
                                            }));
  EXPECT_EQ(n.validate().error().message, "node_name: cannot be empty");
}

TEST(ConfigCheck, ThreeBadFieldsAreAllNamedWithoutRepeats) {
  const json j = json::parse(R"({
    "server_url": "ws://127.0.0.1:1/tunnel/v1",
    "token": "t",
    "reconnect_interval": "later",
    "services": [
      {"name": "web", "local_port": 8080},
      {"name": "dns", "protocol": "udp", "local_port": 53},
      {"name": "db", "local_port": 0}
    ],
    "proxy": "socks5://p:1"
  })");
  ConfigCheck check = check_config(j, ConfigRole::agent);
  std::vector<std::string> fields;
  for (const Error& e : check.errors) fields.push_back(error_field(e.message));
  EXPECT_EQ(fields,
            (std::vector<std::string>{"reconnect_interval", "services[2].local_port", "proxy"}))
      << testing::PrintToString(messages(check.errors));
  ASSERT_TRUE(check.agent);
  EXPECT_EQ(check.agent->services.size(), 3u);
}

TEST(ConfigCheck, ValidationDoesNotRepeatAFieldThatFailedToRead) {
  // Missing server_url is a reading error; "server_url cannot be empty" would say it again.
  ConfigCheck check = check_config(json::parse(R"({"token": "t"})"), ConfigRole::agent);
  EXPECT_EQ(messages(check.errors),
            (std::vector<std::string>{"missing required key 'server_url'"}));

  ConfigCheck good = check_config(json::parse(R"({"listen": "127.0.0.1:0"})"), ConfigRole::server);
  EXPECT_TRUE(good.errors.empty()) << testing::PrintToString(messages(good.errors));
  ASSERT_TRUE(good.server);
  EXPECT_EQ(good.server->listen, "127.0.0.1:0");

  ConfigCheck not_object = check_config(json::array(), ConfigRole::node);
  EXPECT_EQ(messages(not_object.errors), (std::vector<std::string>{"expected an object"}));
  EXPECT_FALSE(not_object.node);
}

TEST(ConfigCheck, RoleIsToldFromKeysOnlyOneRoleHas) {
  EXPECT_EQ(*guess_config_role(json::parse(R"({"node_name": "a"})")), ConfigRole::node);
  EXPECT_EQ(*guess_config_role(json::parse(R"({"server_url": "ws://h/", "insecure": true})")),
            ConfigRole::agent);
  EXPECT_EQ(*guess_config_role(json::parse(R"({"listen": "0.0.0.0:1", "max_tunnels": 3})")),
            ConfigRole::server);

  auto none = guess_config_role(json::parse(R"({"heartbeat_interval": "1s"})"));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("give --role"), std::string::npos);

  auto both = guess_config_role(json::parse(R"({"listen": "x", "services": []})"));
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("listen (server)"), std::string::npos)
      << both.error().message;
  EXPECT_NE(both.error().message.find("services (agent)"), std::string::npos)
      << both.error().message;

  EXPECT_EQ(parse_config_role("node"), ConfigRole::node);
  EXPECT_FALSE(parse_config_role("client"));
}

TEST(ConfigCheck, ErrorFieldNamesTheFieldOfEachMessageForm) {
  EXPECT_EQ(error_field("services[1].local_port: expected an integer 0..65535"),
            "services[1].local_port");
  EXPECT_EQ(error_field("services[1]: local_port cannot be 0"), "services[1].local_port");
  EXPECT_EQ(error_field("services[1]: missing required key 'name'"), "services[1].name");
  EXPECT_EQ(error_field("missing required key 'server_url'"), "server_url");
  EXPECT_EQ(error_field("server_url cannot be empty"), "server_url");
  EXPECT_EQ(error_field("heartbeat_timeout (40s) must be > heartbeat_interval (50s)"),
            "heartbeat_timeout");
  EXPECT_EQ(error_field("server: tokens[0].sha256: expected 64 hex digits"),
            "server.tokens[0].sha256");
}

}  // namespace
}  // namespace zlt::config
