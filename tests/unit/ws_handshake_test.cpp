#include "core/transport/ws_handshake.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/http_proxy.hpp"

namespace zlt {
namespace {

using ::testing::HasSubstr;

Url url_of(const char* text) {
  auto u = parse_url(text);
  EXPECT_TRUE(u.ok());
  return u.ok() ? *u : Url{};
}

HttpResponseHead head_of(std::string_view text) {
  auto h = parse_response_head(text);
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
  return h.ok() ? *h : HttpResponseHead{};
}

// RFC 6455 §1.3's example key and its accept value.
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

TEST(HttpHeadTest, FindsEndAndParses) {
  EXPECT_EQ(find_head_end("HTTP/1.1 200 OK\r\nA: b\r\n"), 0u);
  std::string text = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
  EXPECT_EQ(find_head_end(text), text.size() - 4);

  auto h = head_of(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade:  WebSocket \r\n"
      "Connection: keep-alive, Upgrade\r\nX-Many: a\r\nx-many: b\r\n\r\n");
  EXPECT_EQ(h.status, 101);
  EXPECT_EQ(h.reason, "Switching Protocols");
  EXPECT_EQ(h.status_text(), "101 Switching Protocols");
  EXPECT_EQ(h.header("upgrade"), "WebSocket");
  EXPECT_TRUE(h.has_token("connection", "UPGRADE"));
  EXPECT_FALSE(h.has_token("connection", "close"));
  EXPECT_EQ(h.joined("X-MANY"), "a, b");
  EXPECT_EQ(h.header("missing"), std::nullopt);

  auto empty_reason = head_of("HTTP/1.1 204\r\n\r\n");
  EXPECT_EQ(empty_reason.status_text(), "204");

  for (const char* bad :
       {"HTTP/1.1 20 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "HTTP/1.1 200 OK\r\nbad name: x\r\n\r\n"}) {
    EXPECT_FALSE(parse_response_head(bad).ok()) << bad;
  }
}

TEST(WsHandshakeTest, RequestHasEveryHeader) {
  std::string req =
      build_upgrade_request(url_of("ws://[::1]:8080/tunnel/v1?x=1"), kKey,
                            {"zlayer-tunnel.v1", "other"}, {{"Authorization", "Bearer t"}});
  EXPECT_EQ(req.rfind("GET /tunnel/v1?x=1 HTTP/1.1\r\n", 0), 0u);
  EXPECT_THAT(req, HasSubstr("\r\nHost: [::1]:8080\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nUpgrade: websocket\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nConnection: Upgrade\r\n"));
  EXPECT_THAT(req, HasSubstr(std::string("\r\nSec-WebSocket-Key: ") + kKey + "\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nSec-WebSocket-Version: 13\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nSec-WebSocket-Protocol: zlayer-tunnel.v1, other\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nUser-Agent: zlayer-tunnel/" ZLT_VERSION_STRING "\r\n"));
  EXPECT_THAT(req, HasSubstr("\r\nAuthorization: Bearer t\r\n"));
  EXPECT_EQ(req.substr(req.size() - 4), "\r\n\r\n");

  std::string bare = build_upgrade_request(url_of("wss://example.com"), kKey, {}, {});
  EXPECT_EQ(bare.rfind("GET / HTTP/1.1\r\nHost: example.com\r\n", 0), 0u);
  EXPECT_THAT(bare, ::testing::Not(HasSubstr("Sec-WebSocket-Protocol")));
}

TEST(WsHandshakeTest, ExtraHeadersAreChecked) {
  EXPECT_TRUE(check_extra_headers({{"Authorization", "Bearer x"}, {"X-Zlayer-Client", "1"}}).ok());
  for (const HeaderList& bad :
       {HeaderList{{"", "x"}}, HeaderList{{"Bad Name", "x"}},
        HeaderList{{"X-Ok", "a\r\nInjected: 1"}}, HeaderList{{"Sec-WebSocket-Key", "x"}},
        HeaderList{{"host", "x"}}}) {
    auto st = check_extra_headers(bad);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::config);
  }
}

TEST(WsHandshakeTest, AcceptsAGoodResponse) {
  EXPECT_EQ(crypto::websocket_accept(kKey), kAccept);
  const std::vector<std::string> offered{"zlayer-tunnel.v1"};
  auto ok = head_of(std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: ") +
                    kAccept + "\r\nSec-WebSocket-Protocol: zlayer-tunnel.v1\r\n\r\n");
  EXPECT_TRUE(check_upgrade_response(ok, kKey, offered).ok());
  // No subprotocol chosen is fine too; tokens are case-insensitive.
  auto plain = head_of(std::string("HTTP/1.1 101 x\r\nupgrade: WebSocket\r\nconnection: "
                                   "keep-alive, UPGRADE\r\nsec-websocket-accept: ") +
                       kAccept + "\r\n\r\n");
  EXPECT_TRUE(check_upgrade_response(plain, kKey, offered).ok());
}

TEST(WsHandshakeTest, RejectsBadResponses) {
  const std::vector<std::string> offered{"zlayer-tunnel.v1"};
  const std::string good_accept = std::string("Sec-WebSocket-Accept: ") + kAccept + "\r\n";
  struct Case {
    std::string head;
    const char* why;
  } cases[] = {
      {"HTTP/1.1 404 Not Found\r\n\r\n", "handshake: HTTP 404 Not Found"},
      {"HTTP/1.1 200 OK\r\n\r\n", "handshake: HTTP 200 OK"},
      {"HTTP/1.1 101 S\r\nConnection: Upgrade\r\n" + good_accept + "\r\n",
       "handshake: missing 'Upgrade: websocket'"},
      {"HTTP/1.1 101 S\r\nUpgrade: websocket\r\n" + good_accept + "\r\n",
       "handshake: missing 'Connection: Upgrade'"},
      {"HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
       "handshake: missing Sec-WebSocket-Accept"},
      {"HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
       "AAAA\r\n\r\n",
       "handshake: bad Sec-WebSocket-Accept"},
      {"HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + good_accept +
           "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
       "handshake: server negotiated an extension"},
      {"HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + good_accept +
           "Sec-WebSocket-Protocol: chat\r\n\r\n",
       "handshake: server chose subprotocol 'chat' which was not offered"},
  };
  for (const auto& c : cases) {
    auto st = check_upgrade_response(head_of(c.head), kKey, offered);
    ASSERT_FALSE(st.ok()) << c.head;
    EXPECT_EQ(st.error().code, Errc::connection);
    EXPECT_EQ(st.error().message, c.why);
  }
}

TEST(HttpProxyTest, ConnectRequestAndAnswer) {
  auto proxy = parse_proxy_url("http://us%3Aer:p%40ss@127.0.0.1:3128");
  ASSERT_TRUE(proxy.ok());
  Url target = url_of("wss://[::1]:8443/tunnel/v1");
  std::string req = build_connect_request(target, *proxy);
  EXPECT_EQ(req.rfind("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n", 0), 0u);
  // base64("us:er:p@ss")
  EXPECT_THAT(req, HasSubstr("\r\nProxy-Authorization: Basic dXM6ZXI6cEBzcw==\r\n"));
  EXPECT_EQ(req.substr(req.size() - 4), "\r\n\r\n");

  auto anonymous = parse_proxy_url("http://proxy:8080");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_THAT(build_connect_request(url_of("ws://example.com"), *anonymous),
              ::testing::Not(HasSubstr("Proxy-Authorization")));
  EXPECT_THAT(build_connect_request(url_of("ws://example.com"), *anonymous),
              HasSubstr("CONNECT example.com:80 HTTP/1.1"));

  EXPECT_TRUE(
      check_connect_response(head_of("HTTP/1.1 200 Connection established\r\n\r\n"), target, *proxy)
          .ok());
  auto refused = check_connect_response(head_of("HTTP/1.0 403 Forbidden\r\n\r\n"), target, *proxy);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::connection);
  EXPECT_EQ(refused.error().message,
            "proxy 127.0.0.1:3128 refused CONNECT [::1]:8443: HTTP 403 Forbidden");

  auto https_proxy = parse_proxy_url("https://proxy:443");
  ASSERT_FALSE(https_proxy.ok());
  EXPECT_EQ(https_proxy.error().code, Errc::config);
  EXPECT_FALSE(parse_proxy_url("proxy:80").ok());
}

}  // namespace
}  // namespace zlt
