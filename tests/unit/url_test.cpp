#include "core/transport/url.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

namespace zlt {
namespace {

using ::testing::HasSubstr;

struct GoodCase {
  const char* text;
  const char* scheme;
  const char* host;
  std::uint16_t port;
  const char* target;
  bool ipv6;
  const char* authority;
  const char* userinfo;
};

const GoodCase kGood[] = {
    {"ws://example.com", "ws", "example.com", 80, "/", false, "example.com", ""},
    {"ws://example.com/", "ws", "example.com", 80, "/", false, "example.com", ""},
    {"wss://example.com", "wss", "example.com", 443, "/", false, "example.com", ""},
    {"WSS://Example.COM:443/Tunnel/V1", "wss", "example.com", 443, "/Tunnel/V1", false,
     "example.com", ""},
    {"ws://example.com:8080/tunnel/v1", "ws", "example.com", 8080, "/tunnel/v1", false,
     "example.com:8080", ""},
    {"wss://example.com:80/x", "wss", "example.com", 80, "/x", false, "example.com:80", ""},
    {"ws://127.0.0.1:3669/tunnel/v1?token=a&b=c", "ws", "127.0.0.1", 3669, "/tunnel/v1?token=a&b=c",
     false, "127.0.0.1:3669", ""},
    {"ws://host?x=1", "ws", "host", 80, "/?x=1", false, "host", ""},
    {"ws://[::1]:8080/tunnel/v1", "ws", "::1", 8080, "/tunnel/v1", true, "[::1]:8080", ""},
    {"wss://[::1]", "wss", "::1", 443, "/", true, "[::1]", ""},
    {"wss://[2001:DB8::1]:443/a?b", "wss", "2001:db8::1", 443, "/a?b", true, "[2001:db8::1]", ""},
    {"ws://[::ffff:127.0.0.1]:1/", "ws", "::ffff:127.0.0.1", 1, "/", true, "[::ffff:127.0.0.1]:1",
     ""},
    {"ws://my_host-1.internal:65535", "ws", "my_host-1.internal", 65535, "/", false,
     "my_host-1.internal:65535", ""},
    {"http://proxy:3128", "http", "proxy", 3128, "/", false, "proxy:3128", ""},
    {"http://user:p%40ss@proxy:3128", "http", "proxy", 3128, "/", false, "proxy:3128",
     "user:p%40ss"},
    {"https://secure-proxy", "https", "secure-proxy", 443, "/", false, "secure-proxy", ""},
    {"http://[::1]:3128", "http", "::1", 3128, "/", true, "[::1]:3128", ""},
};

TEST(UrlTest, ParsesGoodUrls) {
  for (const auto& c : kGood) {
    SCOPED_TRACE(c.text);
    auto url = parse_url(c.text);
    ASSERT_TRUE(url.ok()) << url.error().message;
    EXPECT_EQ(url->scheme, c.scheme);
    EXPECT_EQ(url->host, c.host);
    EXPECT_EQ(url->port, c.port);
    EXPECT_EQ(url->target, c.target);
    EXPECT_EQ(url->host_is_ipv6, c.ipv6);
    EXPECT_EQ(url->authority(), c.authority);
    EXPECT_EQ(url->userinfo, c.userinfo);
  }
}

TEST(UrlTest, Helpers) {
  auto url = parse_url("wss://[::1]:9443/t?q");
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(url->tls());
  EXPECT_TRUE(url->host_is_ip());
  EXPECT_EQ(url->host_port(), "[::1]:9443");
  EXPECT_EQ(url->to_string(), "wss://[::1]:9443/t?q");

  url = parse_url("ws://10.1.2.3/");
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(url->tls());
  EXPECT_TRUE(url->host_is_ip());
  EXPECT_FALSE(url->host_is_ipv6);
  EXPECT_EQ(url->host_port(), "10.1.2.3:80");

  url = parse_url("ws://localhost:80");
  ASSERT_TRUE(url.ok());
  EXPECT_FALSE(url->host_is_ip());
  EXPECT_EQ(url->to_string(), "ws://localhost/");

  // Credentials never show up in the printable form.
  url = parse_url("http://user:secret@proxy:8080");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->to_string(), "http://proxy:8080/");
}

struct BadCase {
  const char* text;
  const char* why;
};

const BadCase kBad[] = {
    {"", "expected scheme://host"},
    {"example.com", "expected scheme://host"},
    {"ftp://example.com", "unsupported scheme 'ftp'"},
    {"ws://", "missing host"},
    {"ws:///path", "missing host"},
    {"ws://:80", "missing host"},
    {"ws://host:", "empty port"},
    {"ws://host:0", "port out of range"},
    {"ws://host:65536", "port out of range"},
    {"ws://host:99999999999999999999", "port out of range"},
    {"ws://host:8o", "bad port"},
    {"ws://host:-1", "bad port"},
    {"ws://[::1", "unterminated '['"},
    {"ws://[::1]x", "unexpected characters after ']'"},
    {"ws://[not-v6]:80", "bad IPv6 address"},
    {"ws://[]:80", "bad IPv6 address"},
    {"ws://::1:80", "missing host"},
    {"ws://ho st/", "whitespace"},
    {"ws://host/pa th", "whitespace"},
    {"ws://host/\r\nX-Injected: 1", "control characters"},
    {"ws://host/#frag", "fragments are not allowed"},
    {"ws://bad..host/", "bad host"},
    {"ws://bad!host/", "bad host"},
};

TEST(UrlTest, RejectsBadUrls) {
  for (const auto& c : kBad) {
    SCOPED_TRACE(c.text);
    auto url = parse_url(c.text);
    ASSERT_FALSE(url.ok());
    EXPECT_EQ(url.error().code, Errc::config);
    EXPECT_THAT(url.error().message, HasSubstr(std::string("invalid URL '") + c.text + "'"));
    EXPECT_THAT(url.error().message, HasSubstr(c.why));
  }
}

TEST(UrlTest, ErrorsNeverShowCredentials) {
  auto url = parse_url("http://user:secret@bad host:1/");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().message,
            "invalid URL 'http://***@bad host:1/': contains whitespace or control characters");
  url = parse_url("ws://user:secret@host/");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.error().message,
            "invalid URL 'ws://***@host/': credentials are only allowed in proxy URLs");
  url = parse_url("wss://user@host/");
  ASSERT_FALSE(url.ok());
  EXPECT_THAT(url.error().message, HasSubstr("credentials are only allowed in proxy URLs"));
}

TEST(UrlTest, PercentDecode) {
  EXPECT_EQ(percent_decode("p%40ss%3Aword"), "p@ss:word");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("plain"), "plain");
  EXPECT_EQ(percent_decode("%41%62"), "Ab");
}

// Sets environment variables for one test and puts the previous values back.
class ScopedEnv {
 public:
  static constexpr const char* kNames[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                           "HTTPS_PROXY", "no_proxy",   "NO_PROXY"};
  ScopedEnv() {
    for (const char* n : kNames) {
      if (const char* v = std::getenv(n)) saved_[n] = v;
      ::unsetenv(n);
    }
  }
  ~ScopedEnv() {
    for (const char* n : kNames) {
      if (auto it = saved_.find(n); it != saved_.end())
        ::setenv(n, it->second.c_str(), 1);
      else
        ::unsetenv(n);
    }
  }
  void set(const char* name, const char* value) { ::setenv(name, value, 1); }

 private:
  std::map<std::string, std::string> saved_;
};

Url url_of(const char* text) {
  auto u = parse_url(text);
  EXPECT_TRUE(u.ok());
  return u.ok() ? *u : Url{};
}

TEST(ProxyFromEnvTest, PicksVariableByScheme) {
  ScopedEnv env;
  EXPECT_EQ(proxy_from_env(url_of("ws://example.com")), std::nullopt);
  env.set("HTTP_PROXY", "http://upper:1");
  env.set("HTTPS_PROXY", "http://upper-tls:2");
  EXPECT_EQ(proxy_from_env(url_of("ws://example.com")), "http://upper:1");
  EXPECT_EQ(proxy_from_env(url_of("wss://example.com")), "http://upper-tls:2");
  env.set("http_proxy", "http://lower:3");
  env.set("https_proxy", "lower-tls:4");  // no scheme: http:// is implied
  EXPECT_EQ(proxy_from_env(url_of("ws://example.com")), "http://lower:3");
  EXPECT_EQ(proxy_from_env(url_of("wss://example.com")), "http://lower-tls:4");
  env.set("https_proxy", "");  // empty counts as unset
  EXPECT_EQ(proxy_from_env(url_of("wss://example.com")), "http://upper-tls:2");
}

TEST(ProxyFromEnvTest, NoProxy) {
  ScopedEnv env;
  env.set("http_proxy", "http://proxy:3128");
  env.set("https_proxy", "http://proxy:3128");
  const std::optional<std::string> proxied = "http://proxy:3128";

  env.set("no_proxy", "localhost, .internal,example.org ,10.0.0.1,[::1],svc:8080");
  EXPECT_EQ(proxy_from_env(url_of("ws://localhost:1/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://LOCALHOST:1/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://a.internal/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://a.b.internal/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://internal/")),
            std::nullopt);  // ".internal" = the domain too
  EXPECT_EQ(proxy_from_env(url_of("ws://example.org/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("wss://www.example.org/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://10.0.0.1/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://[::1]:9/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://svc:8080/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://svc:8081/")), proxied);
  EXPECT_EQ(proxy_from_env(url_of("ws://notexample.org/")), proxied);  // not a label boundary
  EXPECT_EQ(proxy_from_env(url_of("ws://10.0.0.10/")), proxied);
  EXPECT_EQ(proxy_from_env(url_of("ws://example.com/")), proxied);
  EXPECT_EQ(proxy_from_env(url_of("ws://localhost.evil.com/")), proxied);

  env.set("no_proxy", "*");
  EXPECT_EQ(proxy_from_env(url_of("wss://anything.example/")), std::nullopt);

  ::unsetenv("no_proxy");
  env.set("NO_PROXY", "example.com");
  EXPECT_EQ(proxy_from_env(url_of("ws://example.com/")), std::nullopt);
  EXPECT_EQ(proxy_from_env(url_of("ws://example.net/")), proxied);
}

}  // namespace
}  // namespace zlt
