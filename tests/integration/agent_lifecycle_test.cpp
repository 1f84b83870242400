// A host that stops or restarts a TunnelAgent from inside the agent's own events: the agent
// lets go of its WebSocket client there (the client may be on the call stack) and does what
// the host asked, not what it was about to do.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "support/harness.hpp"
#include "support/net.hpp"

namespace zlt::test {
namespace {

using namespace std::chrono_literals;

struct RestartOnDisconnect final : TunnelAgentObserver {
  TunnelAgent* agent = nullptr;
  bool restart = true;
  std::atomic<int> disconnects{0};
  std::atomic<int> authentications{0};
  std::atomic<bool> disconnected_state{false};

  void on_authenticated(const AgentAuthenticated&) override { ++authentications; }
  void on_disconnected(const AgentDisconnected&) override {
    ++disconnects;
    agent->stop();
    if (restart) agent->start();
  }
  void on_state(const AgentStateChanged& s) override {
    disconnected_state = s.state == AgentState::disconnected;
  }
};

TEST(AgentLifecycle, RestartedInsideItsDisconnectEventReconnectsAtOnce) {
  RestartOnDisconnect host;  // outlives the agent it observes
  Harness h;
  h.start_server();
  auto c = h.client_config();
  // Only the host's own restart can bring it back within the test's wait.
  c.reconnect_interval = 60s;
  c.max_reconnect_interval = 60s;
  TunnelAgent& agent = h.start_agent(c);
  ASSERT_TRUE(h.agent_events().wait_event("authenticated", 10s));
  std::string first;
  h.on_loop([&] {
    host.agent = &agent;
    agent.set_observer(&host);
    first = agent.status()["tunnel_id"].get<std::string>();
  });

  // The Disconnect reaches the agent inside its WebSocket client's message callback.
  h.on_loop([&] { h.server().end_tunnel(Uuid::parse(first).value(), "go away"); });
  ASSERT_TRUE(eventually([&] { return host.authentications.load() == 1; }, 10s))
      << "the restart from inside the event was undone";
  EXPECT_EQ(host.disconnects.load(), 1);
  std::string second;
  h.on_loop([&] { second = agent.status()["tunnel_id"].get<std::string>(); });
  EXPECT_NE(second, first);
}

TEST(AgentLifecycle, StoppedInsideAFailedConnectStaysStopped) {
  RestartOnDisconnect host;
  host.restart = false;
  Harness h;
  // A port nothing accepts on: the connect fails inside the client's own callbacks.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  config::TunnelClientConfig c("ws://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/tunnel/v1",
                               Harness::kToken);
  c.reconnect_interval = 50ms;
  c.max_reconnect_interval = 50ms;
  TunnelAgent& agent = h.start_agent(c);
  // The first attempts may fail before the host observes; the next one is seen.
  h.on_loop([&] {
    host.agent = &agent;
    agent.set_observer(&host);
  });
  ASSERT_TRUE(eventually([&] { return host.disconnects.load() == 1; }, 10s));
  ASSERT_TRUE(eventually([&] { return host.disconnected_state.load(); }, 5s));
  std::string state;
  h.on_loop([&] { state = host.agent->status()["state"].get<std::string>(); });
  EXPECT_EQ(state, "disconnected");
  ::close(fd);
}

}  // namespace
}  // namespace zlt::test
