// UDP through the tunnel: datagrams pass whole in both directions, one stream per peer,
// idle streams expire.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "support/harness.hpp"
#include "support/net.hpp"

namespace zlt::test {
namespace {

std::optional<std::string> udp_roundtrip(int fd, const std::string& datagram) {
  if (::send(fd, datagram.data(), datagram.size(), 0) != static_cast<ssize_t>(datagram.size()))
    return std::nullopt;
  std::string buf(70000, '\0');
  ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

class TunnelUdp : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds idle = std::chrono::seconds(60)) {
    auto cfg = Harness::server_config();
    cfg.udp_idle_timeout = idle;
    h_.start_server(cfg);
    h_.start_agent({config::ServiceConfig::udp("uecho", echo_.port())});
    port_ = h_.public_port("uecho");
    ASSERT_NE(port_, 0);
  }
  UdpEchoServer echo_;
  Harness h_;
  std::uint16_t port_ = 0;
};

TEST_F(TunnelUdp, DatagramsOfEverySizePassWhole) {
  start();
  Fd s = udp_connect(port_);
  ASSERT_TRUE(s);
  for (std::size_t size : {std::size_t{1}, std::size_t{1400}, std::size_t{65000}, std::size_t{0}}) {
    std::string d = pattern_bytes(size, size);
    auto reply = udp_roundtrip(s.get(), d);
    ASSERT_TRUE(reply) << "size " << size;
    EXPECT_EQ(reply->size(), size);
    EXPECT_TRUE(*reply == d) << "size " << size;
  }
  auto st = h_.server_status();
  EXPECT_EQ(st["traffic"]["streams_total"].get<int>(), 1);  // one peer, one stream
  EXPECT_EQ(st["traffic"]["datagrams_out"].get<int>(), 4);
  EXPECT_EQ(st["traffic"]["datagrams_in"].get<int>(), 4);
}

TEST_F(TunnelUdp, FiftyPeersEachGetTheirOwnReplies) {
  start();
  constexpr int kPeers = 50;
  std::vector<std::thread> peers;
  std::atomic<int> good{0};
  for (int i = 0; i < kPeers; ++i) {
    peers.emplace_back([&, i] {
      Fd s = udp_connect(port_);
      if (!s) return;
      for (int round = 0; round < 5; ++round) {
        std::string d = "peer " + std::to_string(i) + " round " + std::to_string(round);
        auto reply = udp_roundtrip(s.get(), d);
        if (!reply || *reply != d) return;
      }
      ++good;
    });
  }
  for (auto& t : peers) t.join();
  EXPECT_EQ(good.load(), kPeers);
  EXPECT_EQ(h_.server_status()["traffic"]["streams_total"].get<int>(), kPeers);
}

TEST_F(TunnelUdp, IdleStreamsExpire) {
  start(std::chrono::milliseconds(300));
  Fd s = udp_connect(port_);
  ASSERT_TRUE(udp_roundtrip(s.get(), "hello"));
  EXPECT_EQ(h_.server_status()["traffic"]["streams_active"].get<int>(), 1);
  EXPECT_TRUE(eventually([&] { return h_.server_status()["traffic"]["streams_active"] == 0; },
                         3s));
  EXPECT_TRUE(eventually([&] { return h_.agent_status()["streams"] == 0; }, 3s));
  // A new datagram from the same peer opens a fresh stream.
  auto reply = udp_roundtrip(s.get(), "again");
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "again");
  EXPECT_EQ(h_.server_status()["traffic"]["streams_total"].get<int>(), 2);
}

}  // namespace
}  // namespace zlt::test
