// The access readers: the one object an access manager is created from, split into the client
// and the access configuration, and the request for one access session.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "support/result_text.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

std::string setup_error(std::string_view text) {
  return error_of(access_setup_from_json(json::parse(text)));
}
std::string request_error(std::string_view text) {
  return error_of(access_session_request_from_json(json::parse(text)));
}

TEST(ConfigAccessTest, SetupSplitsTheClientAndTheAccessKeys) {
  Result<AccessSetup> setup = access_setup_from_json(json::parse(
      R"({"server_url": "ws://127.0.0.1:1/tunnel/v1", "token": "t", "insecure": true,
          "default_ttl": "5m", "local_bind": "::1"})"));
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  TunnelClientConfig client("ws://127.0.0.1:1/tunnel/v1", "t");
  client.insecure = true;
  EXPECT_EQ(setup->client, client);
  EXPECT_EQ(setup->access, (AccessConfig{5min, "::1"}));
}

TEST(ConfigAccessTest, SetupWithoutAccessKeysGivesTheAccessDefaults) {
  Result<AccessSetup> setup =
      access_setup_from_json(json::parse(R"({"server_url": "ws://h:1/", "token": "t"})"));
  ASSERT_TRUE(setup.ok()) << setup.error().message;
  EXPECT_EQ(setup->access, AccessConfig{});
  EXPECT_EQ(setup->client, TunnelClientConfig("ws://h:1/", "t"));
}

TEST(ConfigAccessTest, SetupErrorsNameTheField) {
  EXPECT_EQ(setup_error(R"({"token": "t"})"), "missing required key 'server_url'");
  EXPECT_EQ(setup_error(R"({"server_url": "ws://h:1/", "token": "t", "bogus": 1})"),
            "unknown key 'bogus'");
  EXPECT_EQ(setup_error(R"({"server_url": "ws://h:1/", "token": "t", "default_ttl": true})"),
            "default_ttl: expected a duration (\"500ms\", \"30s\", \"2m\", \"1h\") or a whole "
            "number of seconds");
  EXPECT_EQ(setup_error(R"({"server_url": "ws://h:1/", "token": "t", "local_bind": 1})"),
            "local_bind: expected a string");
  EXPECT_EQ(setup_error(R"({"server_url": "ws://h:1/", "token": "t",
                           "services": [{"name": "a", "local_port": "x"}]})"),
            "services[0].local_port: expected an integer 0..65535");
  EXPECT_EQ(setup_error("[]"), "expected an object");
}

TEST(ConfigAccessTest, ParseSetupValidatesTheClientConfiguration) {
  EXPECT_TRUE(error_of(parse_access_setup("{")).starts_with("invalid JSON: "))
      << error_of(parse_access_setup("{"));
  EXPECT_EQ(error_of(parse_access_setup(R"({"server_url": "http://h", "token": "t"})")),
            "server_url must start with ws:// or wss://");
  Result<AccessSetup> ok = parse_access_setup(
      R"({"server_url": "ws://127.0.0.1:1/tunnel/v1", "token": "t", "default_ttl": 30})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->access.default_ttl, std::optional<Duration>(30s));
}

TEST(ConfigAccessTest, SessionRequestReadsEveryField) {
  Result<AccessSessionRequest> full = access_session_request_from_json(json::parse(
      R"({"target": "service:db", "local_port": 15432, "ttl": "10m", "protocol": "udp"})"));
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(*full, (AccessSessionRequest{"service:db", 15432, Duration(10min),
                                         proto::ServiceProtocol::udp}));
  Result<AccessSessionRequest> plain =
      access_session_request_from_json(json::parse(R"({"target": "service:db", "ttl": null})"));
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  AccessSessionRequest defaults;
  defaults.target = "service:db";
  EXPECT_EQ(*plain, defaults);
}

TEST(ConfigAccessTest, SessionRequestErrorsNameTheField) {
  EXPECT_EQ(request_error(R"({"local_port": 0})"), "missing required key 'target'");
  EXPECT_EQ(request_error(R"({"target": 1})"), "target: expected a string");
  EXPECT_EQ(request_error(R"({"target": "service:a", "local_port": 70000})"),
            "local_port: expected an integer 0..65535");
  EXPECT_EQ(request_error(R"({"target": "service:a", "protocol": "sctp"})"),
            "protocol: expected \"tcp\" or \"udp\"");
  EXPECT_TRUE(request_error(R"({"target": "service:a", "ttl": "soon"})").starts_with("ttl: "))
      << request_error(R"({"target": "service:a", "ttl": "soon"})");
  EXPECT_EQ(request_error(R"({"target": "service:a", "bogus": 1})"), "unknown key 'bogus'");
  EXPECT_EQ(request_error(R"("service:a")"), "expected an object");
}

TEST(ConfigAccessTest, ParseSessionRequestReportsBadSyntax) {
  Result<AccessSessionRequest> bad = parse_access_session_request("{");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::config);
  EXPECT_TRUE(bad.error().message.starts_with("invalid JSON: ")) << bad.error().message;
  Result<AccessSessionRequest> ok = parse_access_session_request(R"({"target": "service:a"})");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->target, "service:a");
}

}  // namespace
}  // namespace zlt::config
