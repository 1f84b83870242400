// TCP through the tunnel, end to end on loopback: public client -> server -> WebSocket ->
// agent -> local service, and back.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "support/harness.hpp"
#include "support/net.hpp"

namespace zlt::test {
namespace {

// Sends `total` pattern bytes through `fd` while reading the echo back; returns the echoed
// bytes' hash (or 0 on failure) and checks it against the sent bytes' hash.
struct EchoResult {
  bool ok = false;
  std::uint64_t sent_hash = 0;
  std::uint64_t received_hash = 0;
  std::size_t received = 0;
};

EchoResult echo_transfer(int fd, std::size_t total, std::uint64_t seed,
                         std::size_t chunk = 256 * 1024) {
  EchoResult r;
  std::atomic<bool> write_ok{true};
  std::uint64_t sent_hash = 0xcbf29ce484222325ULL;
  std::thread writer([&] {
    std::size_t left = total;
    std::uint64_t round = 0;
    while (left > 0) {
      std::string block = pattern_bytes(std::min(chunk, left), seed + round++);
      sent_hash = fnv1a(block.data(), block.size(), sent_hash);
      if (!send_all(fd, block)) {
        write_ok = false;
        return;
      }
      left -= block.size();
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    h = fnv1a(buf.data(), static_cast<std::size_t>(n), h);
    r.received += static_cast<std::size_t>(n);
  }
  writer.join();
  r.sent_hash = sent_hash;
  r.received_hash = h;
  r.ok = write_ok && r.received == total && h == sent_hash;
  return r;
}

class TunnelTcp : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = Harness::server_config();
    // Answers to Connect queue behind bulk data on the same WebSocket; under a sanitizer's
    // slowdown 200 busy streams can hold one back for seconds. These tests are about the bytes,
    // not about connect timing (v1_compat_test covers that).
    cfg.connect_timeout = std::chrono::seconds(30);
    h_.start_server(cfg);
    h_.start_agent({config::ServiceConfig::tcp("echo", echo_.port())});
    port_ = h_.public_port("echo");
    ASSERT_NE(port_, 0);
  }
  EchoServer echo_;
  Harness h_;
  std::uint16_t port_ = 0;
};

TEST_F(TunnelTcp, EchoSmallMessage) {
  Fd c = tcp_connect(port_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(send_all(c.get(), "hello tunnel"));
  auto reply = recv_exact(c.get(), 12);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "hello tunnel");
}

TEST_F(TunnelTcp, HalfCloseDeliversWholeReply) {
  const std::string payload = pattern_bytes(3 << 20, 7);
  Fd c = tcp_connect(port_);
  ASSERT_TRUE(c);
  std::thread writer([&] {
    send_all(c.get(), payload);
    ::shutdown(c.get(), SHUT_WR);  // the reply must still arrive in full
  });
  auto all = recv_until_eof(c.get());
  writer.join();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), payload.size());
  EXPECT_TRUE(*all == payload);
}

TEST_F(TunnelTcp, OneGibibyteSingleStreamHashChecked) {
  Fd c = tcp_connect(port_);
  ASSERT_TRUE(c);
  set_timeouts(c.get(), 60s);
  const std::size_t total = std::size_t{1} << 30;
  EchoResult r = echo_transfer(c.get(), total, 42, 1 << 20);
  EXPECT_EQ(r.received, total);
  EXPECT_EQ(r.received_hash, r.sent_hash);
  EXPECT_TRUE(r.ok);
  auto status = h_.server_status();
  EXPECT_GE(status["traffic"]["bytes_out"].get<std::uint64_t>(), total);
  EXPECT_GE(status["traffic"]["bytes_in"].get<std::uint64_t>(), total);
}

TEST_F(TunnelTcp, TwoHundredConcurrentStreamsOfMixedSizes) {
  constexpr int kStreams = 200;
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      Fd c = tcp_connect(port_);
      if (!c) return;
      // 0 bytes to ~2 MiB, a spread of sizes that crosses chunk and window boundaries.
      std::size_t size = (i % 7 == 0) ? 0 : static_cast<std::size_t>(i) * 9973 % (2 << 20);
      EchoResult r = echo_transfer(c.get(), size, 1000 + static_cast<std::uint64_t>(i), 64 * 1024);
      if (r.ok) ++good;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kStreams);
  EXPECT_TRUE(eventually([&] { return h_.server_status()["traffic"]["streams_active"] == 0; }));
  EXPECT_EQ(h_.server_status()["traffic"]["streams_total"].get<int>(), kStreams);
  // The service-level counters agree with the tunnel's, on both ends.
  auto svc = h_.server_status()["tunnels"][0]["services"][0];
  EXPECT_EQ(svc["connections"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(svc["traffic"]["streams_total"].get<std::uint64_t>(), std::uint64_t{kStreams});
  auto agent_svc = h_.agent_status()["services"][0];
  EXPECT_EQ(agent_svc["traffic"]["streams_active"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(agent_svc["traffic"]["streams_total"].get<std::uint64_t>(), std::uint64_t{kStreams});
}

TEST_F(TunnelTcp, StalledReaderDoesNotSlowAnotherStream) {
  auto timed_transfer = [&](std::size_t bytes, std::uint64_t seed) {
    Fd c = tcp_connect(port_);
    auto start = std::chrono::steady_clock::now();
    EchoResult r = echo_transfer(c.get(), bytes, seed, 1 << 20);
    EXPECT_TRUE(r.ok);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // The same transfer alone first: the yardstick on this machine, at this moment.
  const double alone = timed_transfer(200u << 20, 8);

  // The stalled client sends a lot and never reads the echo: its stream's window fills and
  // stays full, while a second stream moves 200 MB.
  Fd stalled = tcp_connect(port_);
  ASSERT_TRUE(stalled);
  std::atomic<bool> stop{false};
  std::thread stuffer([&] {
    std::string block(64 * 1024, 'x');
    set_timeouts(stalled.get(), 200ms);
    while (!stop.load()) ::send(stalled.get(), block.data(), block.size(), MSG_NOSIGNAL);
  });
  // Let the stalled stream fill everything it can before the measured transfer starts.
  EXPECT_TRUE(eventually([&] {
    return h_.server_status()["traffic"]["bytes_out"].get<std::uint64_t>() > (2u << 20);
  }));
  const double beside_stalled = timed_transfer(200u << 20, 9);
  stop = true;
  stuffer.join();
  // A stream queued behind the stalled one would not finish at all; a shared bottleneck would
  // make it several times slower. Allow for noise, not for either of those.
  EXPECT_LT(beside_stalled, 3 * alone + 2.0) << "alone " << alone << " s";
  // The stalled stream holds at most its window in the agent, not the whole stuffing.
  auto agent = h_.agent_status();
  EXPECT_EQ(agent["streams"].get<int>(), 1);
}

TEST_F(TunnelTcp, LocalServiceDownClosesPromptlyWithReason) {
  // A second service whose local port has nothing behind it.
  Harness h;
  h.start_server();
  h.start_agent({config::ServiceConfig::tcp("dead", unused_tcp_port())});
  std::uint16_t port = h.public_port("dead");
  ASSERT_NE(port, 0);
  Fd c = tcp_connect(port);
  ASSERT_TRUE(c);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_closed(c.get(), 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  auto st = h.server_status();
  EXPECT_EQ(st["traffic"]["streams_active"].get<int>(), 0);
}

TEST_F(TunnelTcp, SessionKilledMidTransferClosesEverySocket) {
  Fd c1 = tcp_connect(port_);
  Fd c2 = tcp_connect(port_);
  ASSERT_TRUE(c1 && c2);
  ASSERT_TRUE(send_all(c1.get(), "ping"));
  ASSERT_TRUE(recv_exact(c1.get(), 4));
  ASSERT_TRUE(send_all(c2.get(), "ping"));
  ASSERT_TRUE(recv_exact(c2.get(), 4));
  EXPECT_EQ(echo_.accepted(), 2);
  // Kill the agent: its WebSocket dies with it.
  h_.on_loop([&] { h_.agent().shutdown(); });
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_closed(c1.get(), 1s));
  EXPECT_TRUE(wait_closed(c2.get(), 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_TRUE(eventually([&] { return h_.server_status()["tunnel_count"] == 0; }, 2s));
}

TEST_F(TunnelTcp, NewStreamsWorkAfterAgentReconnect) {
  Fd c = tcp_connect(port_);
  ASSERT_TRUE(send_all(c.get(), "one"));
  ASSERT_TRUE(recv_exact(c.get(), 3));
  // Restart the server: the agent reconnects, registers again, gets a new public port.
  h_.agent_events().clear();
  h_.stop_server();
  EXPECT_TRUE(wait_closed(c.get(), 2s));
  h_.start_server();
  std::uint16_t port = h_.public_port("echo", 0, 10s);
  ASSERT_NE(port, 0);
  Fd d = tcp_connect(port);
  ASSERT_TRUE(d);
  ASSERT_TRUE(send_all(d.get(), "two"));
  auto reply = recv_exact(d.get(), 3);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "two");
}

}  // namespace
}  // namespace zlt::test
