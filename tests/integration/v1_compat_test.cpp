// Version 1 peers: a hand-made v1 client (the original agent's exact bytes) against our server,
// and our agent against a server that speaks only version 1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>

#include "core/crypto/crypto.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/paths.hpp"
#include "support/raw_ws.hpp"
#include "support/subprocess.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::StartsWith;

const std::string kU1 = "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff";

config::TunnelServerConfig tok_server() {
  auto c = Harness::server_config();
  c.tokens[0].sha256 = crypto::hash_token("tok");
  c.heartbeat_interval = 200ms;
  c.heartbeat_timeout = 10s;
  c.connect_timeout = 2s;
  return c;
}

std::uint16_t local_port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

TEST(V1Compat, HandMadeV1ClientGetsV1Answers) {
  Harness h;
  h.start_server(tok_server());
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  ws->skip_heartbeats = false;

  // docs/PROTOCOL.md §3 golden vector Auth{"tok", U1}: no trailer.
  ASSERT_TRUE(ws->send_binary(from_hex("01 00 00 00 15 00 03 74 6f 6b " + kU1)));
  auto auth_ok = ws->next_message();
  ASSERT_TRUE(auth_ok);
  ASSERT_EQ(auth_ok->size(), 21u) << "a v1 AuthOk has no trailer: " << to_hex(*auth_ok);
  EXPECT_EQ(to_hex(auth_ok->substr(0, 5)), "02 00 00 00 10");
  const Uuid tunnel_id =
      Uuid::from_bytes(reinterpret_cast<const std::uint8_t*>(auth_ok->data() + 5));

  // Then at once a Heartbeat (13 bytes, Unix ms), which the client echoes.
  auto hb = ws->next_message();
  ASSERT_TRUE(hb);
  ASSERT_EQ(hb->size(), 13u) << to_hex(*hb);
  EXPECT_EQ(to_hex(hb->substr(0, 5)), "30 00 00 00 08");
  auto heartbeat = decode_as<proto::Heartbeat>(*hb);
  ASSERT_TRUE(heartbeat);
  EXPECT_NEAR(static_cast<double>(heartbeat->timestamp), static_cast<double>(unix_ms()), 60000.0);
  ASSERT_TRUE(ws->send_binary("\x31" + hb->substr(1)));  // HeartbeatAck, same timestamp

  auto connected = h.server_events().wait_event("tunnel_connected");
  ASSERT_TRUE(connected);
  EXPECT_EQ((*connected)["version"], 1);
  EXPECT_EQ((*connected)["tunnel"], tunnel_id.to_string());

  // Register{"ssh", tcp, 22, any}: a 21-byte RegisterOk without assigned_port.
  ws->skip_heartbeats = true;
  ws->ack_heartbeats = true;
  ASSERT_TRUE(ws->send_binary(from_hex("10 00 00 00 09 03 73 73 68 00 00 16 00 00")));
  auto reg_ok = ws->next_message();
  ASSERT_TRUE(reg_ok);
  ASSERT_EQ(reg_ok->size(), 21u) << "a v1 RegisterOk has no port: " << to_hex(*reg_ok);
  EXPECT_EQ(to_hex(reg_ok->substr(0, 5)), "11 00 00 00 10");
  const Uuid service_id =
      Uuid::from_bytes(reinterpret_cast<const std::uint8_t*>(reg_ok->data() + 5));

  auto status = h.server_status();
  ASSERT_EQ(status["tunnels"].size(), 1u);
  EXPECT_EQ(status["tunnels"][0]["version"], 1);
  EXPECT_EQ(status["tunnels"][0]["features"], 0);
  auto svc = status["tunnels"][0]["services"][0];
  EXPECT_EQ(svc["id"], service_id.to_string());
  ASSERT_FALSE(svc["assigned_port"].is_null());
  const auto public_port = svc["assigned_port"].get<std::uint16_t>();

  // A public connection becomes a Connect. ConnectFail closes the public socket at once.
  Fd refused = tcp_connect(public_port);
  ASSERT_TRUE(refused);
  auto connect = ws->expect<proto::Connect>();
  ASSERT_TRUE(connect);
  EXPECT_EQ(connect->service_id, service_id);
  EXPECT_EQ(connect->client_addr, "127.0.0.1:" + std::to_string(local_port_of(refused.get())));
  ASSERT_TRUE(
      ws->send(proto::ConnectFail{connect->connection_id, "connection rejected by client"}));
  EXPECT_TRUE(wait_closed(refused.get(), 1500ms)) << "a refused connection was kept";

  // A v1 client can acknowledge a connection but not carry its bytes: the server holds the
  // public socket until connect_timeout (2 s here), then closes it.
  Fd visitor = tcp_connect(public_port);
  ASSERT_TRUE(visitor);
  auto connect2 = ws->expect<proto::Connect>();
  ASSERT_TRUE(connect2);
  EXPECT_NE(connect2->connection_id, connect->connection_id);
  const auto acked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(ws->send(proto::ConnectAck{connect2->connection_id}));
  EXPECT_TRUE(wait_closed(visitor.get(), 6s)) << "the public connection was kept";
  EXPECT_GE(std::chrono::steady_clock::now() - acked_at, 1800ms);

  // Nothing v2 reached this client: no trailers, no streams.
  EXPECT_EQ(h.server_status()["tunnels"][0]["streams"], 0);

  // Unregister (no reply), then a v2-only message: a protocol error in a v1 session.
  ASSERT_TRUE(ws->send(proto::Unregister{service_id}));
  ASSERT_TRUE(h.server_events().wait_event("service_unregistered"));
  ASSERT_TRUE(ws->send_binary(from_hex("51 00 00 00 10 " + kU1)));  // Eof{U1}
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1002);
  ASSERT_FALSE(ws->skipped.empty());
  auto bye = decode_as<proto::Disconnect>(ws->skipped.back());
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->reason, "protocol error: Eof is not allowed in a version 1 session");
}

TEST(V1Compat, V1ClientDisconnectEndsTheSession) {
  Harness h;
  h.start_server(tok_server());
  auto ws = RawWs::connect(h.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  ASSERT_TRUE(ws->send_binary(from_hex("01 00 00 00 15 00 03 74 6f 6b " + kU1)));
  ASSERT_TRUE(ws->next_message());
  ASSERT_TRUE(
      ws->send_binary(from_hex("41 00 00 00 0e 00 0c 69 64 6c 65 20 74 69 6d 65 6f 75 74")));
  auto gone = h.server_events().wait_event("tunnel_disconnected");
  ASSERT_TRUE(gone);
  EXPECT_EQ(h.server_status()["tunnel_count"], 0);
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1000);
}

// Our agent against a server that speaks only version 1: it must settle for v1 (no client
// heartbeats, no Register flags, no streams) and still answer Connect.
TEST(V1Compat, AgentAgainstAV1Server) {
  EchoServer echo;
  std::uint16_t port = 0;
  Fd listener = tcp_listen(&port);
  ASSERT_TRUE(listener);
  Harness h;
  auto cfg = h.client_config({config::ServiceConfig::tcp("web", echo.port())});
  cfg.server_url = "ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1";
  cfg.heartbeat_interval = 100ms;
  cfg.heartbeat_timeout = 2s;
  h.start_agent(cfg);

  auto ws = RawWs::accept(listener.get());
  ASSERT_TRUE(ws);
  ws->skip_heartbeats = false;
  auto auth = ws->expect<proto::Auth>();
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->token, Harness::kToken);
  ASSERT_TRUE(auth->v2) << "the agent offers v2";

  // The original server's answer: AuthOk without a trailer (a v1 server ignores the Auth
  // trailer), then a Heartbeat.
  ASSERT_TRUE(ws->send_binary(from_hex("02 00 00 00 10 " + kU1)));
  ASSERT_TRUE(ws->send(proto::Heartbeat{1700000000000}));

  // Register (v1 layout: no flags byte) and the HeartbeatAck.
  std::optional<std::string> register_bytes;
  bool acked = false;
  for (int i = 0; i < 2; ++i) {
    auto m = ws->next_message();
    ASSERT_TRUE(m);
    auto decoded = decode_message(*m);
    ASSERT_TRUE(decoded);
    if (std::holds_alternative<proto::Register>(*decoded)) {
      register_bytes = *m;
    } else {
      auto ack = std::get_if<proto::HeartbeatAck>(&*decoded);
      ASSERT_TRUE(ack) << "unexpected " << to_hex(*m);
      EXPECT_EQ(ack->timestamp, 1700000000000u);
      acked = true;
    }
  }
  EXPECT_TRUE(acked);
  ASSERT_TRUE(register_bytes);
  std::string expect_register = from_hex("10 00 00 00 09 03 77 65 62 00");
  expect_register.push_back(static_cast<char>(echo.port() >> 8));
  expect_register.push_back(static_cast<char>(echo.port() & 0xff));
  expect_register += from_hex("00 00");
  EXPECT_EQ(to_hex(*register_bytes), to_hex(expect_register));

  auto authenticated = h.agent_events().wait_event("authenticated");
  ASSERT_TRUE(authenticated);
  EXPECT_EQ((*authenticated)["version"], 1);
  EXPECT_EQ((*authenticated)["features"], 0);

  // RegisterOk{U2} without assigned_port.
  const std::string kU2 = "ff ee dd cc bb aa 99 88 77 66 55 44 33 22 11 00";
  ASSERT_TRUE(ws->send_binary(from_hex("11 00 00 00 10 " + kU2)));
  auto registered = h.agent_events().wait_event("service_registered");
  ASSERT_TRUE(registered);
  EXPECT_EQ((*registered)["service_id"], test_u2().to_string());
  EXPECT_TRUE((*registered)["public_port"].is_null());

  // Connect{U2, U1, "1.2.3.4:5"} (golden vector): acknowledged, and nothing else.
  ASSERT_TRUE(ws->send_binary(
      from_hex("20 00 00 00 2b " + kU2 + kU1 + "00 09 31 2e 32 2e 33 2e 34 3a 35")));
  auto ack = ws->next_message();
  ASSERT_TRUE(ack);
  EXPECT_EQ(to_hex(*ack), "21 00 00 00 10 " + kU1);
  auto incoming = h.agent_events().wait_event("incoming_connection");
  ASSERT_TRUE(incoming);
  EXPECT_EQ((*incoming)["client_addr"], "1.2.3.4:5");
  EXPECT_EQ((*incoming)["connection_id"], test_u1().to_string());

  // A Connect for a service it does not have is refused.
  ASSERT_TRUE(ws->send(proto::Connect{test_u1(), test_u2(), "1.2.3.4:6"}));
  auto refused = ws->expect<proto::ConnectFail>();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->connection_id, test_u2());
  EXPECT_EQ(refused->reason, "unknown service");

  // For a while (many client heartbeat intervals) only HeartbeatAcks may come back.
  for (std::uint64_t i = 1; i <= 8; ++i) {
    ASSERT_TRUE(ws->send(proto::Heartbeat{i}));
    while (auto m = ws->next_message(150ms)) {
      auto decoded = decode_message(*m);
      ASSERT_TRUE(decoded);
      auto hb_ack = std::get_if<proto::HeartbeatAck>(&*decoded);
      ASSERT_TRUE(hb_ack) << "a v1 agent sent " << to_hex(*m);
      EXPECT_EQ(hb_ack->timestamp, i);
    }
    ASSERT_FALSE(ws->close_frame());
  }
  EXPECT_EQ(h.agent_status()["version"], 1);

  // Stopping: a v1 agent cannot send Disconnect; it just closes.
  h.on_loop([&] { h.agent().stop(); });
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1000);
  for (const auto& m : ws->skipped) {
    auto decoded = decode_message(m);
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(std::holds_alternative<proto::HeartbeatAck>(*decoded)) << to_hex(m);
  }
}

// The same against an independent implementation: a v1 server written on Python's websockets.
TEST(V1Compat, AgentAgainstAPythonV1Server) {
  ignore_sigpipe();
  auto server = Subprocess::start(
      {"/usr/bin/python3", std::string(source_dir()) + "/tests/support/v1_tunnel_server.py"});
  ASSERT_TRUE(server);
  auto port_line = server->wait_for_line("PORT ", 20s);
  ASSERT_TRUE(port_line) << "the Python server did not start";
  EchoServer echo;
  Harness h;
  auto cfg = h.client_config({config::ServiceConfig::tcp("web", echo.port())});
  cfg.server_url = "ws://127.0.0.1:" + port_line->substr(5) + "/tunnel/v1";
  cfg.heartbeat_interval = 100ms;
  cfg.heartbeat_timeout = 3s;
  h.start_agent(cfg);

  auto auth = server->wait_for_line("AUTH ", 10s);
  ASSERT_TRUE(auth);
  auto registered = h.agent_events().wait_event("service_registered");
  ASSERT_TRUE(registered);
  EXPECT_EQ((*registered)["service_id"], "ffeeddcc-bbaa-9988-7766-554433221100");
  EXPECT_TRUE((*registered)["public_port"].is_null());
  auto authenticated = h.agent_events().wait_event("authenticated");
  ASSERT_TRUE(authenticated);
  EXPECT_EQ((*authenticated)["version"], 1);
  auto incoming = h.agent_events().wait_event("incoming_connection");
  ASSERT_TRUE(incoming);
  EXPECT_EQ((*incoming)["client_addr"], "198.51.100.7:4242");

  // Everything the agent sent, for a second of 100 ms client heartbeat intervals: its
  // Register (v1 layout), the ConnectAck, and HeartbeatAcks, nothing else.
  const std::string connect_ack = "21000000100123456789abcdef0123456789abcdef";
  char local[5];
  std::snprintf(local, sizeof local, "%04x", echo.port());
  const std::string register_hex = std::string("10000000090377656200") + local + "0000";
  bool saw_register = false;
  bool saw_ack = false;
  std::size_t heartbeat_acks = 0;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until || !saw_ack) {
    auto line = server->read_line(3s);
    ASSERT_TRUE(line) << "the Python server went quiet";
    ASSERT_EQ(line->rfind("RECV ", 0), 0u) << *line;
    const std::string hex = line->substr(5);
    if (hex.starts_with("31")) {
      ++heartbeat_acks;
    } else if (hex.starts_with("10")) {
      EXPECT_FALSE(saw_register);
      EXPECT_EQ(hex, register_hex) << "not the v1 Register layout";
      saw_register = true;
    } else if (hex == connect_ack) {
      saw_ack = true;
    } else {
      ADD_FAILURE() << "a v1 agent sent " << hex;
    }
  }
  EXPECT_TRUE(saw_register);
  EXPECT_GE(heartbeat_acks, 3u);
  EXPECT_EQ(h.agent_events().count("disconnected"), 0u);
}

}  // namespace
}  // namespace zlt::test
