// One live session per token, the v2 takeover by the same client, and the server's tunnel limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/crypto/crypto.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSecondToken = "second-token";
constexpr const char* kTakenOver = "session taken over by a new connection of the same client";

config::TunnelServerConfig two_token_config() {
  auto c = Harness::server_config();
  config::TokenEntry t;
  t.name = "second";
  t.sha256 = crypto::hash_token(kSecondToken);
  c.tokens.push_back(t);
  return c;
}

Uuid client_id_of(Harness& h, std::size_t index = 0) {
  Uuid id;
  h.on_loop([&] { id = h.agent(index).client_id(); });
  return id;
}

TEST(ControlSession, SecondAgentWithTheSameTokenIsRefused) {
  Harness h;
  h.start_server();
  h.start_agent(h.client_config());
  ASSERT_TRUE(h.agent_events(0).wait_event("authenticated"));
  h.start_agent(h.client_config());  // another agent object: another client_id
  auto refused = h.agent_events(1).wait_event("auth_failed");
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["reason"], "Token already in use");
  EXPECT_NE(client_id_of(h, 0), client_id_of(h, 1));
  // The first session is untouched.
  EXPECT_EQ(h.agent_events(0).count("disconnected"), 0u);
  EXPECT_EQ(h.agent_status(0)["state"], "connected");
  EXPECT_EQ(h.server_events().count("tunnel_connected"), 1u);
  EXPECT_EQ(h.server_status()["tunnel_count"], 1);
}

TEST(ControlSession, RawClientWithAnotherClientIdIsRefused) {
  Harness h;
  h.start_server();
  h.start_agent(h.client_config());
  ASSERT_TRUE(h.agent_events().wait_event("authenticated"));
  for (bool v2 : {true, false}) {
    auto ws = RawWs::connect(h.control_port());
    ASSERT_TRUE(ws && ws->is_open());
    auto answer = ws->authenticate(Harness::kToken, crypto::uuid_v4(), v2);
    ASSERT_TRUE(answer);
    auto fail = decode_as<proto::AuthFail>(*answer);
    ASSERT_TRUE(fail);
    EXPECT_EQ(fail->reason, "Token already in use");
    auto close = ws->wait_close();
    ASSERT_TRUE(close);
    EXPECT_EQ(close->code, 1008);
  }
  // A v1 Auth cannot take over even with the live session's client_id.
  const Uuid cid = client_id_of(h);
  auto v1 = RawWs::connect(h.control_port());
  ASSERT_TRUE(v1 && v1->is_open());
  auto answer = v1->authenticate(Harness::kToken, cid, false);
  ASSERT_TRUE(answer);
  auto fail = decode_as<proto::AuthFail>(*answer);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->reason, "Token already in use");
  EXPECT_EQ(h.agent_events().count("disconnected"), 0u);
}

TEST(ControlSession, SameClientIdTakesOverAtOnce) {
  EchoServer echo;
  Harness h;
  h.start_server();
  h.start_agent({config::ServiceConfig::tcp("echo", echo.port())});
  const std::uint16_t port = h.public_port("echo");
  ASSERT_NE(port, 0);
  auto first = h.agent_events().wait_event("authenticated");
  ASSERT_TRUE(first);
  const Uuid cid = client_id_of(h);

  // A new connection of "the same client" (the agent's client_id) replaces the live session
  // without waiting for it to time out.
  proto::AuthOk ok;
  auto ws = open_session(h.control_port(), Harness::kToken, true, &ok, &cid);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ok.v2);
  EXPECT_NE(ok.tunnel_id.to_string(), (*first)["tunnel_id"].get<std::string>());

  auto gone = h.server_events().wait_event("tunnel_disconnected");
  ASSERT_TRUE(gone);
  EXPECT_EQ((*gone)["tunnel"], (*first)["tunnel_id"]);
  EXPECT_EQ((*gone)["reason"], "taken over");
  auto dropped = h.agent_events().wait_event("disconnected");
  ASSERT_TRUE(dropped);
  EXPECT_EQ((*dropped)["reason"], std::string("server disconnected: ") + kTakenOver);

  // The agent reconnects with its client_id and takes the session back from the raw client,
  // which is told so.
  ASSERT_TRUE(eventually([&] { return h.agent_events().count("authenticated") >= 2; }));
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1000);
  ASSERT_FALSE(ws->skipped.empty());
  auto bye = decode_as<proto::Disconnect>(ws->skipped.back());
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->reason, kTakenOver);
  EXPECT_EQ(client_id_of(h), cid);

  // Re-registered, and the public port carries bytes again.
  ASSERT_TRUE(eventually([&] { return h.agent_events().count("service_registered") >= 2; }));
  auto status = h.agent_status();
  ASSERT_FALSE(status["services"][0]["public_port"].is_null());
  const auto again = status["services"][0]["public_port"].get<std::uint16_t>();
  // The successor got the very socket the first session had (held through the takeovers).
  EXPECT_EQ(again, port);
  std::string why;
  EXPECT_TRUE(echoes(again, probe_payload(), &why)) << why;
  EXPECT_EQ(h.server_status()["tunnel_count"], 1);
}

// A tunnel that registered "web" on the first port of a two-port range, then was taken over
// by a new connection of the same client that has not re-registered yet; and a session of
// another token.
struct TakenOverWeb {
  config::PortRange range;
  Harness h;
  std::unique_ptr<RawWs> successor;
  std::unique_ptr<RawWs> other;

  void start(std::optional<std::chrono::milliseconds> connect_timeout = std::nullopt) {
    auto free = free_port_range(2);
    ASSERT_TRUE(free);
    range = *free;
    auto c = two_token_config();
    c.data_port_range = range;
    if (connect_timeout) c.connect_timeout = *connect_timeout;
    h.start_server(c);
    const Uuid cid = crypto::uuid_v4();
    auto first = open_session(h.control_port(), Harness::kToken, true, nullptr, &cid);
    ASSERT_TRUE(first);
    ASSERT_TRUE(
        first->send(proto::Register{"web", proto::ServiceProtocol::tcp, 80, 0, std::nullopt}));
    auto web = first->expect<proto::RegisterOk>();
    ASSERT_TRUE(web);
    ASSERT_EQ(web->assigned_port, range.start);
    successor = open_session(h.control_port(), Harness::kToken, true, nullptr, &cid);
    ASSERT_TRUE(successor);
    ASSERT_TRUE(first->wait_close());
    other = open_session(h.control_port(), kSecondToken);
    ASSERT_TRUE(other);
  }

  // The other token registers "api" on `remote_port` (0: any); the decoded answer.
  std::optional<proto::Message> other_registers(std::uint16_t remote_port) {
    if (!other->send(
            proto::Register{"api", proto::ServiceProtocol::tcp, 81, remote_port, std::nullopt}))
      return std::nullopt;
    auto answer = other->next_message();
    if (!answer) return std::nullopt;
    return decode_message(*answer);
  }
};

// After a takeover the old session's public sockets are held for the successor (until
// connect_timeout). While they are held, their ports must not be handed to anyone else.
TEST(ControlSession, TakeoverKeepsThePublicPortForTheSuccessor) {
  TakenOverWeb t;
  ASSERT_NO_FATAL_FAILURE(t.start());
  // Before the successor re-registers, another tunnel asks for any port.
  auto api = t.other_registers(0);
  ASSERT_TRUE(api);
  if (auto* fail = std::get_if<proto::RegisterFail>(&*api))
    FAIL() << "the other tunnel was given the held port: " << fail->reason;
  auto* api_ok = std::get_if<proto::RegisterOk>(&*api);
  ASSERT_TRUE(api_ok);
  EXPECT_EQ(api_ok->assigned_port, t.range.end);

  // The successor gets its port back.
  ASSERT_TRUE(
      t.successor->send(proto::Register{"web", proto::ServiceProtocol::tcp, 80, 0, std::nullopt}));
  auto again = t.successor->expect<proto::RegisterOk>();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->assigned_port, t.range.start);
}

// The hold lasts connect_timeout: a successor that never re-registers gives the port back,
// and until then an explicit request for it is refused.
TEST(ControlSession, HeldPublicPortIsReleasedAfterConnectTimeout) {
  TakenOverWeb t;
  ASSERT_NO_FATAL_FAILURE(t.start(std::chrono::milliseconds(600)));
  auto refused = t.other_registers(t.range.start);
  ASSERT_TRUE(refused);
  auto* fail = std::get_if<proto::RegisterFail>(&*refused);
  ASSERT_TRUE(fail) << "the held port was handed to another token";
  EXPECT_NE(fail->reason.find("is not available"), std::string::npos) << fail->reason;

  // Once the hold has run out, the same request succeeds.
  std::optional<std::uint16_t> granted;
  ASSERT_TRUE(eventually([&] {
    auto answer = t.other_registers(t.range.start);
    if (!answer) return false;
    if (auto* ok = std::get_if<proto::RegisterOk>(&*answer)) granted = ok->assigned_port;
    return granted.has_value();
  }));
  EXPECT_EQ(granted, t.range.start);
}

TEST(ControlSession, MaxTunnelsRefusesWithServerFull) {
  Harness h;
  auto c = two_token_config();
  c.max_tunnels = 1;
  h.start_server(c);
  h.start_agent(h.client_config());
  ASSERT_TRUE(h.agent_events().wait_event("authenticated"));

  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  auto answer = ws->authenticate(kSecondToken, crypto::uuid_v4());
  ASSERT_TRUE(answer);
  auto fail = decode_as<proto::AuthFail>(*answer);
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->reason, "server full");
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1008);

  // A takeover does not need a free slot: the old session's slot is reused.
  const Uuid cid = client_id_of(h);
  auto takeover = open_session(h.control_port(), Harness::kToken, true, nullptr, &cid);
  EXPECT_TRUE(takeover);
  EXPECT_EQ(h.server_status()["tunnel_count"], 1);
}

TEST(ControlSession, TunnelSlotIsFreedWhenASessionEnds) {
  Harness h;
  auto c = two_token_config();
  c.max_tunnels = 1;
  h.start_server(c);
  {
    auto first = open_session(h.control_port(), Harness::kToken);
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->send(proto::Disconnect{"done"}));
    ASSERT_TRUE(first->wait_eof());
  }
  ASSERT_TRUE(h.server_events().wait_event("tunnel_disconnected"));
  EXPECT_TRUE(open_session(h.control_port(), kSecondToken));
}

}  // namespace
}  // namespace zlt::test
