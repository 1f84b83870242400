#include <gtest/gtest.h>

#include <string>

#include "core/config/config.hpp"

namespace zlt::config {
namespace {

std::string error_of(const Status& s) {
  return s.ok() ? "<ok>" : s.error().message;
}

TunnelClientConfig example() {
  return TunnelClientConfig("wss://example.com/tunnel/v1", "my-token");
}

TEST(ClientConfigTest, NewHasTheOriginalDefaults) {
  TunnelClientConfig c("wss://example.com/tunnel/v1", "my-token");
  EXPECT_EQ(c.server_url, "wss://example.com/tunnel/v1");
  EXPECT_EQ(c.token, "my-token");
  EXPECT_EQ(c.reconnect_interval, 5s);
  EXPECT_EQ(c.max_reconnect_interval, 60s);
  EXPECT_TRUE(c.services.empty());
  EXPECT_FALSE(c.overlay_server_url.has_value());
  EXPECT_EQ(c.routing_mode, RoutingMode::prefer_overlay);
}

TEST(ClientConfigTest, DefaultsOfTheAdditions) {
  TunnelClientConfig c = example();
  EXPECT_EQ(c.local_host, "127.0.0.1");
  EXPECT_FALSE(c.ca_file.has_value());
  EXPECT_FALSE(c.insecure);
  EXPECT_FALSE(c.proxy.has_value());
  EXPECT_EQ(c.connect_timeout, 10s);
  EXPECT_EQ(c.heartbeat_interval, 30s);
  EXPECT_EQ(c.heartbeat_timeout, 40s);
  EXPECT_EQ(error_of(c.validate()), "<ok>");
}

TEST(ClientConfigTest, WithService) {
  TunnelClientConfig c = example();
  c.with_service(ServiceConfig::tcp("ssh", 22)).with_service(ServiceConfig::udp("game", 27015));
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].name, "ssh");
  EXPECT_EQ(c.services[1].name, "game");
}

TEST(ClientConfigTest, OriginalRulesAndMessages) {
  TunnelClientConfig ok = example();
  ok.with_service(ServiceConfig::tcp("ssh", 22));
  EXPECT_EQ(error_of(ok.validate()), "<ok>");

  TunnelClientConfig c("wss://example.com", "token");
  c.server_url = "";
  EXPECT_EQ(error_of(c.validate()), "server_url cannot be empty");
  EXPECT_EQ(c.validate().error().code, Errc::config);

  EXPECT_EQ(error_of(TunnelClientConfig("http://example.com", "token").validate()),
            "server_url must start with ws:// or wss://");
  EXPECT_EQ(error_of(TunnelClientConfig("ws://example.com", "token").validate()), "<ok>");

  c = TunnelClientConfig("wss://example.com", "");
  EXPECT_EQ(error_of(c.validate()), "token cannot be empty");

  c = TunnelClientConfig("wss://example.com", "token");
  c.reconnect_interval = 60s;
  c.max_reconnect_interval = 30s;
  EXPECT_EQ(error_of(c.validate()),
            "max_reconnect_interval (30s) must be >= reconnect_interval (60s)");
  c.max_reconnect_interval = 60s;
  EXPECT_EQ(error_of(c.validate()), "<ok>");
  c.reconnect_interval = 1500ms;
  c.max_reconnect_interval = 1s;
  EXPECT_EQ(error_of(c.validate()),
            "max_reconnect_interval (1s) must be >= reconnect_interval (1500ms)");

  c = TunnelClientConfig("wss://example.com", "token");
  c.with_service(ServiceConfig::tcp("ssh", 22)).with_service(ServiceConfig::tcp("ssh", 2222));
  EXPECT_EQ(error_of(c.validate()), "duplicate service name: ssh");
}

TEST(ClientConfigTest, ServiceErrorsNameTheIndex) {
  TunnelClientConfig c = example();
  c.with_service(ServiceConfig::tcp("ssh", 22)).with_service(ServiceConfig::tcp("my service", 80));
  EXPECT_EQ(
      error_of(c.validate()),
      "services[1]: name must contain only alphanumeric characters, hyphens, and underscores");
  c.services[1] = ServiceConfig::tcp("web", 0);
  EXPECT_EQ(error_of(c.validate()), "services[1]: local_port cannot be 0");
}

TEST(ClientConfigTest, ServiceErrorsComeBeforeDuplicates) {
  TunnelClientConfig c = example();
  c.with_service(ServiceConfig::tcp("ssh", 22))
      .with_service(ServiceConfig::tcp("ssh", 23))
      .with_service(ServiceConfig::tcp("", 80));
  EXPECT_EQ(error_of(c.validate()), "services[2]: name cannot be empty");
}

TEST(ClientConfigTest, DuplicateReportedIsTheSmallestName) {
  TunnelClientConfig c = example();
  for (const char* name : {"web", "b", "web", "a", "b"})
    c.with_service(ServiceConfig::tcp(name, 1));
  EXPECT_EQ(error_of(c.validate()), "duplicate service name: b");
}

TEST(ClientConfigTest, OriginalRulesComeBeforeAdditions) {
  TunnelClientConfig c = example();
  c.local_host = "";
  c.token = "";
  EXPECT_EQ(error_of(c.validate()), "token cannot be empty");
}

TEST(ClientConfigTest, AdditionsNameTheField) {
  auto error_with = [](auto change) {
    TunnelClientConfig c = example();
    change(c);
    return error_of(c.validate());
  };
  EXPECT_EQ(error_with([](auto& c) { c.reconnect_interval = 0s; }),
            "reconnect_interval: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.overlay_server_url = "http://10.0.0.5:3669/tunnel/v1"; }),
            "overlay_server_url: must start with ws:// or wss://");
  EXPECT_EQ(error_with([](auto& c) { c.overlay_server_url = "ws://10.0.0.5:3669/tunnel/v1"; }),
            "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.local_host = ""; }), "local_host: cannot be empty");
  EXPECT_EQ(error_with([](auto& c) { c.ca_file = ""; }), "ca_file: cannot be empty");
  EXPECT_EQ(error_with([](auto& c) { c.ca_file = "/etc/ssl/ca.pem"; }), "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.proxy = "socks5://proxy:1080"; }),
            "proxy: must start with http://");
  EXPECT_EQ(error_with([](auto& c) { c.proxy = "https://proxy:3128"; }),
            "proxy: must start with http://");
  EXPECT_EQ(error_with([](auto& c) { c.proxy = "http://proxy:3128"; }), "<ok>");
  EXPECT_EQ(error_with([](auto& c) { c.connect_timeout = 0s; }), "connect_timeout: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.heartbeat_interval = 0s; }),
            "heartbeat_interval: must be > 0");
  EXPECT_EQ(error_with([](auto& c) { c.heartbeat_timeout = 30s; }),
            "heartbeat_timeout (30s) must be > heartbeat_interval (30s)");
  EXPECT_EQ(error_with([](auto& c) {
              c.heartbeat_interval = 500ms;
              c.heartbeat_timeout = 1500ms;
            }),
            "<ok>");
}

TEST(ServiceConfigTest, Tcp) {
  ServiceConfig s = ServiceConfig::tcp("ssh", 22);
  EXPECT_EQ(s.name, "ssh");
  EXPECT_EQ(s.protocol, proto::ServiceProtocol::tcp);
  EXPECT_EQ(s.local_port, 22);
  EXPECT_EQ(s.remote_port, 0);
  EXPECT_FALSE(s.internal);
}

TEST(ServiceConfigTest, Udp) {
  ServiceConfig s = ServiceConfig::udp("game", 27015);
  EXPECT_EQ(s.name, "game");
  EXPECT_EQ(s.protocol, proto::ServiceProtocol::udp);
  EXPECT_EQ(s.local_port, 27015);
  EXPECT_EQ(s.remote_port, 0);
}

TEST(ServiceConfigTest, WithRemotePort) {
  EXPECT_EQ(ServiceConfig::tcp("ssh", 22).with_remote_port(2222).remote_port, 2222);
}

TEST(ServiceConfigTest, ValidationMessages) {
  EXPECT_EQ(error_of(ServiceConfig::tcp("ssh", 22).validate()), "<ok>");
  EXPECT_EQ(error_of(ServiceConfig::tcp("", 22).validate()), "name cannot be empty");
  EXPECT_EQ(error_of(ServiceConfig::tcp(std::string(256, 'a'), 22).validate()),
            "name too long: 256 bytes, max 255");
  EXPECT_EQ(error_of(ServiceConfig::tcp(std::string(255, 'a'), 22).validate()), "<ok>");
  EXPECT_EQ(error_of(ServiceConfig::tcp("ssh service", 22).validate()),
            "name must contain only alphanumeric characters, hyphens, and underscores");
  EXPECT_EQ(error_of(ServiceConfig::tcp("ssh", 0).validate()), "local_port cannot be 0");
  // Length is checked before the characters, and both before the port.
  EXPECT_EQ(error_of(ServiceConfig::tcp(std::string(300, ' '), 0).validate()),
            "name too long: 300 bytes, max 255");
  EXPECT_EQ(error_of(ServiceConfig::tcp("a b", 0).validate()),
            "name must contain only alphanumeric characters, hyphens, and underscores");
}

TEST(ServiceConfigTest, NameCharacters) {
  for (const char* name : {"ssh", "my-service", "my_service", "service123", "SSH"})
    EXPECT_EQ(error_of(ServiceConfig::tcp(name, 22).validate()), "<ok>") << name;
  for (const char* name : {"my service", "my.service", "my/service", "a:b", "tab\there", "n\n"})
    EXPECT_EQ(error_of(ServiceConfig::tcp(name, 22).validate()),
              "name must contain only alphanumeric characters, hyphens, and underscores")
        << name;
}

TEST(ServiceConfigTest, NonAsciiNamesCountBytes) {
  // Letters outside ASCII pass, as in the original.
  EXPECT_EQ(error_of(ServiceConfig::tcp("caf\xc3\xa9", 22).validate()), "<ok>");
  EXPECT_EQ(error_of(ServiceConfig::tcp("\xe6\x9c\x8d\xe5\x8a\xa1", 22).validate()), "<ok>");
  std::string e_acute_128;
  for (int i = 0; i < 128; ++i) e_acute_128 += "\xc3\xa9";
  EXPECT_EQ(error_of(ServiceConfig::tcp(e_acute_128, 22).validate()),
            "name too long: 256 bytes, max 255");
  // Malformed UTF-8 is not a name.
  for (const char* name : {"\xff", "caf\xc3", "\xc0\xaf", "\xed\xa0\x80"})
    EXPECT_EQ(error_of(ServiceConfig::tcp(name, 22).validate()),
              "name must contain only alphanumeric characters, hyphens, and underscores");
}

}  // namespace
}  // namespace zlt::config
