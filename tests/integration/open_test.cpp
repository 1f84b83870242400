// Client-opened streams (Open): a local listener on the agent's side reaches a target on the
// server's side, only when the token's allow list permits it.
#include <gtest/gtest.h>

#include "core/access/local_forwarder.hpp"
#include "core/agent/agent_session.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"

namespace zlt::test {
namespace {

class OpenTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> allow) {
    auto cfg = Harness::server_config();
    cfg.tokens[0].allow = std::move(allow);
    h_.start_server(cfg);
    h_.start_agent(std::vector<config::ServiceConfig>{});
    ASSERT_TRUE(h_.agent_events().wait_for([](const nlohmann::json& e) {
      return e.value("event", "") == "state" && e.value("state", "") == "connected";
    }));
  }
  // A local forwarder on the agent's loop toward `target`; returns its port.
  std::uint16_t forward(const std::string& target,
                        proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp) {
    std::uint16_t port = 0;
    h_.on_loop([&] {
      auto addr = resolve_listen_address("127.0.0.1", 0);
      TunnelAgent* agent = &h_.agent();
      auto f = LocalForwarder::bind(
          h_.runtime().loop(), protocol, *addr, target, [agent] { return agent->session(); },
          nullptr);
      ASSERT_TRUE(f) << f.error().message;
      port = (*f)->address().port();
      forwarders_.push_back(std::move(*f));
    });
    return port;
  }
  void TearDown() override {
    h_.on_loop([&] { forwarders_.clear(); });
  }

  EchoServer echo_;
  Harness h_;
  std::vector<std::unique_ptr<LocalForwarder>> forwarders_;
};

TEST_F(OpenTest, AllowedTargetIsReached) {
  start({"127.0.0.1:" + std::to_string(echo_.port())});
  std::uint16_t port = forward("127.0.0.1:" + std::to_string(echo_.port()));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  const std::string payload = pattern_bytes(1 << 20, 3);
  ASSERT_TRUE(send_all(c.get(), payload));
  auto reply = recv_exact(c.get(), payload.size());
  ASSERT_TRUE(reply);
  EXPECT_TRUE(*reply == payload);
  EXPECT_EQ(echo_.accepted(), 1);
}

TEST_F(OpenTest, WildcardPortAllowsAnyPortOfTheHost) {
  start({"127.0.0.1:*"});
  std::uint16_t port = forward("127.0.0.1:" + std::to_string(echo_.port()));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(send_all(c.get(), "abc"));
  auto reply = recv_exact(c.get(), 3);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "abc");
}

TEST_F(OpenTest, TargetOutsideTheAllowListIsRefused) {
  start({"127.0.0.1:1"});  // something else entirely
  std::uint16_t port = forward("127.0.0.1:" + std::to_string(echo_.port()));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  EXPECT_TRUE(wait_closed(c.get(), 2s));
  EXPECT_EQ(echo_.accepted(), 0);
  EXPECT_EQ(h_.agent_status()["streams"].get<int>(), 0);
}

TEST_F(OpenTest, EmptyAllowListRefusesEverything) {
  start({});
  std::uint16_t port = forward("127.0.0.1:" + std::to_string(echo_.port()));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  EXPECT_TRUE(wait_closed(c.get(), 2s));
  EXPECT_EQ(echo_.accepted(), 0);
}

TEST_F(OpenTest, UnreachableTargetClosesTheLocalConnection) {
  std::uint16_t dead = unused_tcp_port();
  start({"127.0.0.1:*"});
  std::uint16_t port = forward("127.0.0.1:" + std::to_string(dead));
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  EXPECT_TRUE(wait_closed(c.get(), 2s));
}

TEST_F(OpenTest, UdpTargetThroughOpen) {
  UdpEchoServer uecho;
  start({"127.0.0.1:*"});
  std::uint16_t port = forward("127.0.0.1:" + std::to_string(uecho.port()),
                               proto::ServiceProtocol::udp);
  Fd s = udp_connect(port);
  ASSERT_TRUE(s);
  const std::string d = pattern_bytes(1400, 5);
  ASSERT_EQ(::send(s.get(), d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
  std::string buf(2000, '\0');
  ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
  ASSERT_EQ(n, static_cast<ssize_t>(d.size()));
  buf.resize(static_cast<std::size_t>(n));
  EXPECT_TRUE(buf == d);
}

}  // namespace
}  // namespace zlt::test
