// Authentication and the HTTP side of the control listener: who gets in, what the refused are
// told (the original's exact texts), and how long the server waits for the slow.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "core/crypto/crypto.hpp"
#include "core/protocol/utf8.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

// A reason string as it travels in AuthFail/RegisterFail/Disconnect: u16 length, then the text.
std::string reason_message(std::uint8_t type, const std::string& reason) {
  std::string m(1, static_cast<char>(type));
  const std::size_t payload = reason.size() + 2;
  for (int shift : {24, 16, 8, 0}) m.push_back(static_cast<char>((payload >> shift) & 0xff));
  m.push_back(static_cast<char>(reason.size() >> 8));
  m.push_back(static_cast<char>(reason.size() & 0xff));
  return m + reason;
}

config::TunnelServerConfig quick_auth_config() {
  auto c = Harness::server_config();
  c.auth_timeout = 400ms;
  return c;
}

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

TEST(ControlAuth, AgentAuthenticatesAsV2) {
  Harness h;
  h.start_server();
  TunnelAgent& agent = h.start_agent(h.client_config());
  auto ev = h.agent_events().wait_event("authenticated");
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["version"], 2);
  // The agent asks for every feature and this server grants them all.
  EXPECT_EQ((*ev)["features"], proto::feature::kStreams | proto::feature::kDatagrams |
                                   proto::feature::kOpen | proto::feature::kClientHeartbeat |
                                   proto::feature::kServiceRouting);
  auto sev = h.server_events().wait_event("tunnel_connected");
  ASSERT_TRUE(sev);
  EXPECT_EQ((*sev)["tunnel"], (*ev)["tunnel_id"]);
  EXPECT_EQ((*sev)["name"], "test");
  EXPECT_EQ((*sev)["version"], 2);
  EXPECT_THAT((*sev)["peer"].get<std::string>(), StartsWith("127.0.0.1:"));

  auto status = h.agent_status();
  EXPECT_EQ(status["state"], "connected");
  EXPECT_EQ(status["tunnel_id"], (*ev)["tunnel_id"]);
  bool connected = false;
  h.on_loop([&] { connected = agent.is_connected(); });
  EXPECT_TRUE(connected);
  auto server = h.server_status();
  EXPECT_EQ(server["tunnel_count"], 1);
  EXPECT_EQ(server["tunnels"][0]["id"], (*ev)["tunnel_id"]);
  EXPECT_EQ(server["tunnels"][0]["version"], 2);
}

TEST(ControlAuth, WrongTokenIsRefusedAndRetriedAtMaxBackoff) {
  Harness h;
  h.start_server();
  auto cfg = h.client_config();
  cfg.token = "not-the-token";
  cfg.reconnect_interval = 50ms;
  cfg.max_reconnect_interval = 500ms;
  h.start_agent(cfg);
  EventLog& log = h.agent_events();

  // Ordinary backoff would retry after 50, 100, 200 ms; after a refused token the agent waits
  // the maximum (500 ms, +-20% jitter) every time.
  std::vector<Clock::time_point> refused;
  for (std::size_t n = 1; n <= 4; ++n) {
    ASSERT_TRUE(eventually([&] { return log.count("auth_failed") >= n; }, 5s)) << "attempt " << n;
    refused.push_back(Clock::now());
  }
  for (std::size_t i = 1; i < refused.size(); ++i) {
    auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(refused[i] - refused[i - 1]);
    EXPECT_GE(gap.count(), 380) << "retry " << i << " came too early";
  }
  for (const auto& e : log.all()) {
    if (e["event"] == "auth_failed") {
      EXPECT_EQ(e["reason"], "Authentication error: invalid tunnel token");
    }
  }
  auto disconnected = log.wait_event("disconnected");
  ASSERT_TRUE(disconnected);
  EXPECT_EQ((*disconnected)["reason"], "Authentication error: invalid tunnel token");
  EXPECT_EQ(log.count("authenticated"), 0u);
  EXPECT_EQ(h.server_events().count("tunnel_connected"), 0u);
  EXPECT_EQ(h.agent_status()["last_error"], "Authentication error: invalid tunnel token");
}

TEST(ControlAuth, WrongTokenOnTheWire) {
  Harness h;
  h.start_server();
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  auto answer = ws->authenticate("not-the-token", crypto::uuid_v4());
  ASSERT_TRUE(answer);
  EXPECT_EQ(to_hex(*answer),
            to_hex(reason_message(0x03, "Authentication error: invalid tunnel token")));
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1008);
  EXPECT_TRUE(ws->wait_eof());
}

TEST(ControlAuth, EmptyTokenIsAConfigurationError) {
  Harness h;
  h.start_server();
  auto cfg = h.client_config();
  cfg.token = "";
  std::optional<Error> error;
  h.on_loop([&] {
    auto agent = TunnelAgent::create(h.runtime(), cfg);
    if (!agent) error = agent.error();
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, Errc::config);
  EXPECT_EQ(error->message, "token cannot be empty");

  // And on the wire the server refuses an empty token before looking it up.
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  auto answer = ws->authenticate("", crypto::uuid_v4());
  ASSERT_TRUE(answer);
  EXPECT_EQ(to_hex(*answer),
            to_hex(reason_message(0x03, "Authentication error: Token cannot be empty")));
}

TEST(ControlAuth, AcceptAnyTokenStillRefusesTheEmptyOne) {
  Harness h;
  auto c = Harness::server_config();
  c.tokens.clear();
  c.accept_any_token = true;
  h.start_server(c);
  proto::AuthOk ok;
  auto ws = open_session(h.control_port(), "anything-at-all", true, &ok);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ok.v2);
  auto empty = RawWs::connect(h.control_port());
  ASSERT_TRUE(empty && empty->is_open());
  auto answer = empty->authenticate("", crypto::uuid_v4());
  ASSERT_TRUE(answer);
  EXPECT_EQ(to_hex(*answer),
            to_hex(reason_message(0x03, "Authentication error: Token cannot be empty")));
}

// A host validator's reason reaches the client whole in AuthFail; the close frame can carry
// only 123 bytes of it, cut where a character ends.
TEST(ControlAuth, HostValidatorReasonAndLongCloseReasons) {
  Harness h;
  h.start_server();
  std::string umlauts;
  for (int i = 0; i < 100; ++i) umlauts += "\xc3\xbc";  // u with diaeresis
  h.on_loop([&] {
    h.server().set_token_validator(
        [umlauts](std::string_view token, const std::string&) -> Result<TokenGrant> {
          if (token == "host-approved") return TokenGrant{};
          return make_error(Errc::auth, umlauts);
        });
  });
  EXPECT_TRUE(open_session(h.control_port(), "host-approved"));
  // The configured token no longer counts: the host decides.
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  auto answer = ws->authenticate(Harness::kToken, crypto::uuid_v4());
  ASSERT_TRUE(answer);
  auto fail = decode_as<proto::AuthFail>(*answer);
  ASSERT_TRUE(fail);
  const std::string reason = "Authentication error: " + umlauts;
  EXPECT_EQ(fail->reason, reason);
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1008);
  EXPECT_LE(close->reason.size(), 123u);
  EXPECT_GE(close->reason.size(), 122u);
  EXPECT_EQ(reason.substr(0, close->reason.size()), close->reason);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(close->reason.data());
  EXPECT_FALSE(proto::validate_utf8({bytes, close->reason.size()}))
      << "the close reason was cut inside a character";
}

TEST(ControlAuth, ClientThatNeverSendsAuthIsClosed) {
  Harness h;
  h.start_server(quick_auth_config());
  const auto t0 = Clock::now();
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  auto close = ws->wait_close(5s);
  ASSERT_TRUE(close) << "the server kept a silent client";
  EXPECT_EQ(close->code, 1008);
  EXPECT_EQ(close->reason, "auth timeout");
  EXPECT_TRUE(ws->skipped.empty()) << "nothing is sent before Auth";
  EXPECT_GE(ms_since(t0), 350);
  EXPECT_TRUE(ws->wait_eof());
  EXPECT_EQ(h.server_events().count("tunnel_connected"), 0u);
}

TEST(ControlAuth, AnythingButAuthFirstIsRefused) {
  Harness h;
  h.start_server();
  const proto::Message firsts[] = {
      proto::Heartbeat{1700000000000},
      proto::Register{"ssh", proto::ServiceProtocol::tcp, 22, 0, std::nullopt},
      proto::AuthOk{test_u1(), std::nullopt},
      proto::Disconnect{"bye"},
  };
  for (const auto& first : firsts) {
    SCOPED_TRACE(std::string(proto::msg_type_name(proto::type_of(first))));
    auto ws = RawWs::connect(h.control_port());
    ASSERT_TRUE(ws && ws->is_open());
    ASSERT_TRUE(ws->send(first));
    auto answer = ws->next_message();
    ASSERT_TRUE(answer);
    EXPECT_EQ(to_hex(*answer), to_hex(reason_message(0x03, "Expected AUTH message")));
    auto close = ws->wait_close();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->code, 1008);
    EXPECT_TRUE(ws->wait_eof());
  }
  // The golden bytes of the original's answer.
  EXPECT_EQ(to_hex(reason_message(0x03, "Expected AUTH message")),
            "03 00 00 00 17 00 15 45 78 70 65 63 74 65 64 20 41 55 54 48 20 6d 65 73 73 61 67 "
            "65");
}

TEST(ControlAuth, UpgradeOnAnotherPathIs404) {
  Harness h;
  h.start_server();
  for (const char* path :
       {"/", "/wrong", "/tunnel/v2", "/tunnel/v1/", "/tunnel/v1/x", "/healthz"}) {
    auto ws = RawWs::connect(h.control_port(), path);
    ASSERT_TRUE(ws) << path;
    EXPECT_EQ(ws->http_status(), 404) << path << "\n" << ws->http_response();
  }
  auto ok = RawWs::connect(h.control_port());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->http_status(), 101);
}

TEST(ControlAuth, HealthzAnswersOk) {
  Harness h;
  h.start_server();
  auto r = http_exchange(h.control_port(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_THAT(*r, StartsWith("HTTP/1.1 200"));
  auto body = r->substr(r->find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "ok");

  auto other = http_exchange(h.control_port(), "GET /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(other);
  EXPECT_THAT(*other, StartsWith("HTTP/1.1 404"));
  // The control path without an upgrade.
  auto plain =
      http_exchange(h.control_port(), "GET /tunnel/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(plain);
  EXPECT_THAT(*plain, StartsWith("HTTP/1.1 426"));
}

TEST(ControlAuth, UnfinishedUpgradeIsDropped) {
  Harness h;
  h.start_server(quick_auth_config());
  const auto t0 = Clock::now();
  Fd silent = tcp_connect(h.control_port());
  Fd partial = tcp_connect(h.control_port());
  ASSERT_TRUE(silent && partial);
  ASSERT_TRUE(
      send_all(partial.get(), std::string("GET /tunnel/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")));
  EXPECT_TRUE(wait_closed(silent.get(), 5s)) << "a connection that sent nothing was kept";
  EXPECT_TRUE(wait_closed(partial.get(), 5s)) << "a half-sent upgrade was kept";
  EXPECT_GE(ms_since(t0), 350);
  // The listener still serves.
  auto ws = open_session(h.control_port(), Harness::kToken);
  EXPECT_TRUE(ws);
}

}  // namespace
}  // namespace zlt::test
