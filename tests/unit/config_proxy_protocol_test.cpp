// The per-service proxy_protocol key: read, written back, validated with the field named.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "support/result_text.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

const std::string kPrefix = R"({"server_url": "ws://h:1/tunnel/v1", "token": "t", "services": [)";

Result<TunnelClientConfig> client(std::string_view services) {
  return parse_client_config(kPrefix + std::string(services) + "]}");
}

TEST(ConfigProxyProtocolTest, AbsentMeansNone) {
  auto c = client(R"({"name": "web", "local_port": 8080})");
  ASSERT_TRUE(c) << error_of(c);
  EXPECT_EQ(c->services[0].proxy_protocol, ProxyProtocol::none);
  EXPECT_FALSE(to_json(c->services[0]).contains("proxy_protocol"));
}

TEST(ConfigProxyProtocolTest, V1AndV2ReadAndRoundTrip) {
  auto c = client(R"({"name": "web", "local_port": 8080, "proxy_protocol": "v1"},
                     {"name": "db", "local_port": 5432, "proxy_protocol": "v2"},
                     {"name": "dns", "protocol": "udp", "local_port": 53, "proxy_protocol": "v2"})");
  ASSERT_TRUE(c) << error_of(c);
  EXPECT_EQ(c->services[0].proxy_protocol, ProxyProtocol::v1);
  EXPECT_EQ(c->services[1].proxy_protocol, ProxyProtocol::v2);
  EXPECT_EQ(c->services[2].proxy_protocol, ProxyProtocol::v2);
  EXPECT_EQ(to_json(c->services[0])["proxy_protocol"], "v1");
  auto again = client_config_from_json(to_json(*c));
  ASSERT_TRUE(again) << error_of(again);
  EXPECT_EQ(*again, *c);
}

TEST(ConfigProxyProtocolTest, BadValueNamesTheField) {
  for (const char* bad : {R"("v3")", R"("V2")", R"("")", "2", "true", "null"}) {
    EXPECT_EQ(error_of(client(std::string(R"({"name": "a", "local_port": 1}, {"name": "web",
                 "local_port": 8080, "proxy_protocol": )") +
                              bad + "}")),
              "services[1].proxy_protocol: expected \"v1\" or \"v2\"")
        << bad;
  }
}

TEST(ConfigProxyProtocolTest, V1ForUdpIsRefused) {
  EXPECT_EQ(error_of(client(R"({"name": "dns", "protocol": "udp", "local_port": 53,
                               "proxy_protocol": "v1"})")),
            "services[0]: proxy_protocol: v1 is for TCP only; a UDP service needs v2");
  ServiceConfig s = ServiceConfig::udp("dns", 53);
  s.proxy_protocol = ProxyProtocol::v1;
  EXPECT_EQ(error_of(s.validate()), "proxy_protocol: v1 is for TCP only; a UDP service needs v2");
  s.proxy_protocol = ProxyProtocol::v2;
  EXPECT_EQ(error_of(s.validate()), "<ok>");
}

TEST(ConfigProxyProtocolTest, CollectingReaderListsIt) {
  ErrorList errors;
  auto c = collect_client_config(
      json::parse(kPrefix + R"({"name": "a", "local_port": 1, "proxy_protocol": "v9"},
                               {"name": "b", "local_port": 0}]})"),
      errors);
  ASSERT_TRUE(c);
  c->validate_all(errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors.errors()[0].message, "services[0].proxy_protocol: expected \"v1\" or \"v2\"");
  EXPECT_EQ(errors.errors()[1].message, "services[1]: local_port cannot be 0");
}

TEST(ConfigProxyProtocolTest, Names) {
  EXPECT_EQ(proxy_protocol_name(ProxyProtocol::v2), "v2");
  EXPECT_EQ(*parse_proxy_protocol("v1"), ProxyProtocol::v1);
  EXPECT_FALSE(parse_proxy_protocol("none"));
}

}  // namespace
}  // namespace zlt::config
