// Public services across session changes and real programs: a takeover keeps the public port,
// a port that cannot be bound is refused with the OS reason, curl fetches through the tunnel.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/subprocess.hpp"

namespace zlt::test {
namespace {

TEST(TunnelService, TakeoverKeepsThePublicPort) {
  EchoServer echo;
  Harness h;
  auto server_cfg = Harness::server_config();
  server_cfg.heartbeat_interval = 10s;  // the server must not notice the dead path by itself
  server_cfg.heartbeat_timeout = 30s;
  h.start_server(server_cfg);
  FreezableProxy path(h.control_port());
  auto cfg = h.client_config({config::ServiceConfig::tcp("echo", echo.port())});
  cfg.server_url = "ws://127.0.0.1:" + std::to_string(path.port()) + "/tunnel/v1";
  cfg.heartbeat_interval = 200ms;
  cfg.heartbeat_timeout = 800ms;  // the agent notices the silence quickly and reconnects
  h.start_agent(cfg);
  std::uint16_t port = h.public_port("echo");
  ASSERT_NE(port, 0);

  h.agent_events().clear();
  path.freeze_existing();
  // The agent reconnects over a fresh connection with the same client_id: the server hands
  // the live tunnel over at once instead of answering "Token already in use".
  auto again = h.agent_events().wait_event("service_registered", 10s);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["public_port"].get<std::uint16_t>(), port);
  EXPECT_EQ(h.agent_events().count("auth_failed"), 0u);
  EXPECT_TRUE(h.server_events().wait_for([](const nlohmann::json& e) {
    return e.value("event", "") == "tunnel_disconnected" && e.value("reason", "") == "taken over";
  }));
  EXPECT_EQ(h.server_status()["tunnel_count"].get<int>(), 1);

  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  ASSERT_TRUE(send_all(c.get(), "after takeover"));
  auto reply = recv_exact(c.get(), 14);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "after takeover");
}

TEST(TunnelService, UnbindablePortIsRefusedWithTheOsReason) {
  std::uint16_t taken = 0;
  Fd holder = tcp_listen(&taken);  // someone else already listens there
  ASSERT_TRUE(holder);
  Harness h;
  h.start_server();
  h.start_agent({config::ServiceConfig::tcp("web", 8080).with_remote_port(taken)});
  auto failed = h.agent_events().wait_event("service_failed");
  ASSERT_TRUE(failed);
  const std::string reason = (*failed)["reason"].get<std::string>();
  EXPECT_NE(reason.find("Registry error:"), std::string::npos) << reason;
  EXPECT_NE(reason.find("address already in use"), std::string::npos) << reason;
  // Nothing half-registered is left behind.
  EXPECT_EQ(h.server_status()["service_count"].get<int>(), 0);
}

TEST(TunnelService, CurlFetchesFromPythonHttpServerThroughTheTunnel) {
  char dir_template[] = "/tmp/zlt-http-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string body = pattern_bytes(300000, 11);
  {
    std::ofstream f(dir + "/file.bin", std::ios::binary);
    f << body;
  }
  auto http = Subprocess::start({"python3", "-u", "-m", "http.server", "0", "--bind",
                                 "127.0.0.1", "--directory", dir});
  ASSERT_TRUE(http);
  auto line = http->wait_for_line("Serving HTTP on", 10s);
  ASSERT_TRUE(line);
  auto at = line->find(" port ");
  ASSERT_NE(at, std::string::npos);
  auto http_port = static_cast<std::uint16_t>(std::stoi(line->substr(at + 6)));

  Harness h;
  h.start_server();
  h.start_agent({config::ServiceConfig::tcp("web", http_port)});
  std::uint16_t port = h.public_port("web");
  ASSERT_NE(port, 0);

  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/file.bin";
  const std::string fetched = dir + "/fetched.bin";
  int rc = run_command({"curl", "-sS", "--max-time", "20", "-o", fetched, url});
  EXPECT_EQ(rc, 0);
  std::ifstream in(fetched, std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(out.size(), body.size());
  EXPECT_TRUE(out == body);
  std::remove(fetched.c_str());
  std::remove((dir + "/file.bin").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace zlt::test

namespace zlt::test {
namespace {

TEST(TunnelService, ManyAgentsConnectingAtOnceAllRegister) {
  EchoServer echo;
  for (int round = 0; round < 10; ++round) {
    Harness h;
    auto cfg = Harness::server_config();
    cfg.tokens.clear();
    cfg.accept_any_token = true;  // one tunnel per token: every agent brings its own
    h.start_server(cfg);
    constexpr int kAgents = 8;
    for (int i = 0; i < kAgents; ++i) {
      auto c = h.client_config({config::ServiceConfig::tcp("echo-" + std::to_string(i), echo.port())});
      c.token = "agent-" + std::to_string(i);
      h.start_agent(c);
    }
    for (int i = 0; i < kAgents; ++i) {
      std::uint16_t port = h.public_port("echo-" + std::to_string(i), static_cast<std::size_t>(i), 5s);
      ASSERT_NE(port, 0) << "round " << round << " agent " << i << ": "
                         << h.agent_status(static_cast<std::size_t>(i)).dump();
    }
  }
}

}  // namespace
}  // namespace zlt::test
