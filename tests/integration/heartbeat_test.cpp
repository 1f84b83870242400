// Liveness in both directions: the server's heartbeats and their timeout, the agent noticing a
// server that went silent, client heartbeats (v2), and an agent outliving a server restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "core/crypto/crypto.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

config::TunnelServerConfig fast_heartbeats() {
  auto c = Harness::server_config();
  c.heartbeat_interval = 100ms;
  c.heartbeat_timeout = 400ms;
  return c;
}

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

TEST(ControlHeartbeat, ServerEndsASilentClient) {
  Harness h;
  h.start_server(fast_heartbeats());
  for (bool v2 : {true, false}) {
    SCOPED_TRACE(v2 ? "v2" : "v1");
    h.server_events().clear();
    proto::AuthOk ok;
    auto ws = open_session(h.control_port(), Harness::kToken, v2, &ok);
    ASSERT_TRUE(ws);
    const auto t0 = Clock::now();
    ws->ack_heartbeats = false;  // answers Auth, then says nothing
    auto close = ws->wait_close(5s);
    ASSERT_TRUE(close) << "the server kept a silent client";
    EXPECT_EQ(close->code, 1001);
    EXPECT_EQ(close->reason, "heartbeat timeout");
    EXPECT_GE(ms_since(t0), 350);
    ASSERT_FALSE(ws->skipped.empty());
    auto bye = decode_as<proto::Disconnect>(ws->skipped.back());
    ASSERT_TRUE(bye);
    EXPECT_EQ(bye->reason, "heartbeat timeout");
    // Heartbeats came first: at once after AuthOk, then every interval.
    EXPECT_GE(ws->heartbeats.size(), 3u);
    EXPECT_TRUE(ws->wait_eof());
    auto gone = h.server_events().wait_event("tunnel_disconnected");
    ASSERT_TRUE(gone);
    EXPECT_EQ((*gone)["tunnel"], ok.tunnel_id.to_string());
    EXPECT_THAT((*gone)["reason"].get<std::string>(), HasSubstr("heartbeat timeout"));
    EXPECT_EQ(h.server_status()["tunnel_count"], 0);
  }
}

TEST(ControlHeartbeat, AnsweringClientStaysConnected) {
  Harness h;
  h.start_server(fast_heartbeats());
  auto ws = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(ws);
  // Four heartbeat timeouts' worth of acknowledged heartbeats: nothing but heartbeats arrives.
  auto m = ws->next_message(1600ms);
  EXPECT_FALSE(m) << to_hex(*m);
  EXPECT_FALSE(ws->close_frame()) << ws->close_frame()->reason;
  EXPECT_GE(ws->heartbeats.size(), 8u);
  // Timestamps are Unix milliseconds, increasing.
  const auto now_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  EXPECT_LE(ws->heartbeats.back(), now_ms + 1000);
  EXPECT_GE(ws->heartbeats.back(), now_ms - 60000);
  for (std::size_t i = 1; i < ws->heartbeats.size(); ++i)
    EXPECT_GE(ws->heartbeats[i], ws->heartbeats[i - 1]);
  EXPECT_EQ(h.server_status()["tunnel_count"], 1);
  EXPECT_FALSE(h.server_status()["tunnels"][0]["rtt_ms"].is_null());
}

TEST(ControlHeartbeat, ClientHeartbeatIsAnsweredInV2Only) {
  Harness h;
  h.start_server();
  auto v2 = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(v2);
  ASSERT_TRUE(v2->send(proto::Heartbeat{1700000000000}));
  auto ack = v2->expect<proto::HeartbeatAck>();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->timestamp, 1700000000000u);
  ASSERT_TRUE(v2->send(proto::Disconnect{"done"}));
  ASSERT_TRUE(v2->wait_eof());
  ASSERT_TRUE(h.server_events().wait_event("tunnel_disconnected"));

  // A v1 session did not negotiate CLIENT_HEARTBEAT: its Heartbeat is ignored (as the original
  // ignored every client Heartbeat), and the session goes on.
  auto v1 = open_session(h.control_port(), Harness::kToken, false);
  ASSERT_TRUE(v1);
  ASSERT_TRUE(v1->send(proto::Heartbeat{42}));
  ASSERT_TRUE(v1->send(proto::Register{"after", proto::ServiceProtocol::tcp, 1, 0, std::nullopt}));
  auto next = v1->next_message();
  ASSERT_TRUE(next);
  auto ok = decode_as<proto::RegisterOk>(*next);
  ASSERT_TRUE(ok) << "a HeartbeatAck or something else came first";
  EXPECT_FALSE(ok->assigned_port) << "v1 RegisterOk carries no port";
}

TEST(ControlHeartbeat, AgentMeasuresRoundTrip) {
  Harness h;
  h.start_server();
  auto cfg = h.client_config();
  cfg.heartbeat_interval = 100ms;
  cfg.heartbeat_timeout = 1s;
  h.start_agent(cfg);
  ASSERT_TRUE(h.agent_events().wait_event("authenticated"));
  ASSERT_TRUE(eventually([&] { return !h.agent_status()["rtt_ms"].is_null(); }, 5s))
      << h.agent_status().dump();
  EXPECT_LT(h.agent_status()["rtt_ms"].get<std::uint64_t>(), 5000u);
  ASSERT_TRUE(eventually(
      [&] {
        auto s = h.server_status();
        return s["tunnel_count"] == 1 && !s["tunnels"][0]["rtt_ms"].is_null();
      },
      5s));
}

TEST(ControlHeartbeat, AgentLeavesASilentServer) {
  std::uint16_t port = 0;
  Fd listener = tcp_listen(&port);
  ASSERT_TRUE(listener);
  Harness h;
  auto cfg = h.client_config();
  cfg.server_url = "ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1";
  cfg.heartbeat_interval = 100ms;
  cfg.heartbeat_timeout = 400ms;
  h.start_agent(cfg);

  // Plays a server that accepts the agent and then never says another word.
  auto ws = RawWs::accept(listener.get());
  ASSERT_TRUE(ws);
  ws->skip_heartbeats = false;
  auto auth = ws->expect<proto::Auth>();
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->token, Harness::kToken);
  ASSERT_TRUE(auth->v2);
  EXPECT_EQ(auth->v2->proto_version, 2);
  EXPECT_EQ(auth->v2->features, proto::feature::kAll);
  const auto granted = proto::feature::kStreams | proto::feature::kClientHeartbeat;
  ASSERT_TRUE(ws->send(proto::AuthOk{test_u1(), proto::V2Trailer{2, granted}}));
  const auto t0 = Clock::now();

  // The agent sends its own heartbeats, hears nothing back, and gives up after the timeout with
  // a Disconnect and a close.
  std::size_t client_heartbeats = 0;
  while (auto m = ws->next_message(3s)) {
    auto decoded = decode_message(*m);
    ASSERT_TRUE(decoded);
    if (std::holds_alternative<proto::Heartbeat>(*decoded)) {
      ++client_heartbeats;
      continue;
    }
    auto bye = std::get_if<proto::Disconnect>(&*decoded);
    ASSERT_TRUE(bye) << to_hex(*m);
    EXPECT_EQ(bye->reason, "server silent for 400ms");
  }
  ASSERT_TRUE(ws->close_frame()) << "the agent kept a silent server";
  EXPECT_EQ(ws->close_frame()->code, 1001);
  EXPECT_GE(ms_since(t0), 350);
  EXPECT_GE(client_heartbeats, 2u);
  auto dropped = h.agent_events().wait_event("disconnected");
  ASSERT_TRUE(dropped);
  EXPECT_EQ((*dropped)["reason"], "server silent for 400ms");

  // And it comes back, with the same client_id (so a real server would let it take over).
  auto again = RawWs::accept(listener.get(), 5s);
  ASSERT_TRUE(again) << "the agent did not reconnect";
  auto auth2 = again->expect<proto::Auth>();
  ASSERT_TRUE(auth2);
  EXPECT_EQ(auth2->client_id, auth->client_id);
}

TEST(ControlHeartbeat, AgentSurvivesAServerRestart) {
  EchoServer echo;
  Harness h;
  h.start_server();
  h.start_agent({config::ServiceConfig::tcp("echo", echo.port())});
  const std::uint16_t before = h.public_port("echo");
  ASSERT_NE(before, 0);
  std::string why;
  ASSERT_TRUE(echoes(before, probe_payload(), &why)) << why;
  const std::uint16_t control = h.control_port();

  h.stop_server();
  ASSERT_TRUE(h.agent_events().wait_event("disconnected"));
  h.agent_events().clear();
  h.start_server();
  ASSERT_EQ(h.control_port(), control);

  // Reconnect within the backoff (100 ms doubling to 1 s), re-register, carry bytes again.
  auto back = h.agent_events().wait_event("authenticated", 10s);
  ASSERT_TRUE(back) << "the agent did not come back";
  const std::uint16_t after = h.public_port("echo");
  ASSERT_NE(after, 0);
  EXPECT_TRUE(echoes(after, probe_payload(100000), &why)) << why;
  EXPECT_EQ(h.server_status()["tunnel_count"], 1);
  EXPECT_EQ(h.agent_status()["state"], "connected");
}

TEST(ControlHeartbeat, GracefulServerStopTellsEveryone) {
  Harness h;
  auto c = Harness::server_config();
  config::TokenEntry raw_token;
  raw_token.name = "raw";
  raw_token.sha256 = crypto::hash_token("raw-token");
  c.tokens.push_back(raw_token);
  h.start_server(c);
  h.start_agent(h.client_config());
  ASSERT_TRUE(h.agent_events().wait_event("authenticated"));
  auto ws = open_session(h.control_port(), "raw-token");
  ASSERT_TRUE(ws);

  h.on_loop([&] { h.server().stop(); });
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1001);
  ASSERT_FALSE(ws->skipped.empty());
  auto bye = decode_as<proto::Disconnect>(ws->skipped.back());
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->reason, "server shutting down");

  auto dropped = h.agent_events().wait_event("disconnected");
  ASSERT_TRUE(dropped);
  EXPECT_EQ((*dropped)["reason"], "server disconnected: server shutting down");
  // Not fatal: the agent keeps trying (and finds nobody listening).
  ASSERT_TRUE(eventually([&] { return h.agent_events().count("disconnected") >= 2; }));
  bool running = false;
  h.on_loop([&] { running = h.agent().running(); });
  EXPECT_TRUE(running);
  EXPECT_EQ(h.server_status()["tunnel_count"], 0);
}

TEST(ControlHeartbeat, AgentObeysFatalDisconnectOnly) {
  std::uint16_t port = 0;
  Fd listener = tcp_listen(&port);
  ASSERT_TRUE(listener);
  Harness h;
  auto cfg = h.client_config();
  cfg.server_url = "ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1";
  h.start_agent(cfg);
  const auto granted = proto::feature::kStreams | proto::feature::kClientHeartbeat;

  // An ordinary Disconnect: the agent comes back.
  auto ws = RawWs::accept(listener.get());
  ASSERT_TRUE(ws);
  ASSERT_TRUE(ws->expect<proto::Auth>());
  ASSERT_TRUE(ws->send(proto::AuthOk{test_u1(), proto::V2Trailer{2, granted}}));
  ASSERT_TRUE(h.agent_events().wait_event("authenticated"));
  ASSERT_TRUE(ws->send(proto::Disconnect{"maintenance"}));
  ASSERT_TRUE(ws->wait_close());  // and answer the agent's close
  auto first = h.agent_events().wait_event("disconnected");
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["reason"], "server disconnected: maintenance");
  auto again = RawWs::accept(listener.get(), 5s);
  ASSERT_TRUE(again) << "the agent did not come back after a plain Disconnect";

  // "fatal: ...": it stops for good.
  ASSERT_TRUE(again->expect<proto::Auth>());
  ASSERT_TRUE(again->send(proto::AuthOk{test_u2(), proto::V2Trailer{2, granted}}));
  ASSERT_TRUE(eventually([&] { return h.agent_events().count("authenticated") >= 2; }));
  h.agent_events().clear();
  ASSERT_TRUE(again->send(proto::Disconnect{"fatal: token revoked"}));
  ASSERT_TRUE(again->wait_close());
  auto last = h.agent_events().wait_event("disconnected");
  ASSERT_TRUE(last);
  EXPECT_EQ((*last)["reason"], "server disconnected: fatal: token revoked");
  ASSERT_TRUE(eventually([&] { return h.agent_status()["state"] == "disconnected"; }));
  bool running = true;
  h.on_loop([&] { running = h.agent().running(); });
  EXPECT_FALSE(running);
  // Ten reconnect intervals later nobody has knocked.
  EXPECT_EQ(RawWs::accept(listener.get(), 1s), nullptr);
}

}  // namespace
}  // namespace zlt::test
