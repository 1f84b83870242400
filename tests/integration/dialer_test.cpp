// The one resolve-then-connect: real sockets on loopback, kernel-chosen ports.
#include "core/transport/dialer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <optional>

#include "support/net.hpp"
#include "support/uv_loop_fixture.hpp"

namespace zlt {
namespace {

using ::testing::HasSubstr;

class DialerTest : public test::UvLoopTest {
 protected:
  void release() override {
    dialer_.reset();
    socket_.reset();
  }
  void connect(const std::string& host, std::uint16_t port, AddressCheck check = {}) {
    dialer_->connect(
        host, port, std::move(check),
        [this](UvHandle<uv_tcp_t> s, const SockAddr& peer) {
          socket_ = std::move(s);
          peer_ = peer;
        },
        [this](const DialFailure& f) { failure_ = f; });
  }
  bool done() const { return static_cast<bool>(socket_) || failure_.has_value(); }

  std::unique_ptr<Dialer> dialer_ = std::make_unique<Dialer>(&loop_);
  UvHandle<uv_tcp_t> socket_;
  std::optional<SockAddr> peer_;
  std::optional<DialFailure> failure_;
};

TEST_F(DialerTest, ConnectsToAListeningLiteral) {
  std::uint16_t port = 0;
  test::Fd listener = test::tcp_listen(&port);
  connect("127.0.0.1", port);
  ASSERT_TRUE(run_until([&] { return done(); }));
  ASSERT_TRUE(socket_) << failure_->attempts_text();
  EXPECT_EQ(peer_->to_string(), "127.0.0.1:" + std::to_string(port));
  EXPECT_FALSE(dialer_->busy());
}

TEST_F(DialerTest, LocalhostNeedsNoLookup) {
  std::uint16_t port = 0;
  test::Fd listener = test::tcp_listen(&port);
  connect("localhost", port);
  // No lookup: the connect is under way before connect() returns.
  EXPECT_TRUE(dialer_->busy());
  ASSERT_TRUE(run_until([&] { return done(); }));
  ASSERT_TRUE(socket_);
  EXPECT_EQ(peer_->ip(), "127.0.0.1");
}

TEST_F(DialerTest, RefusedConnectListsTheAddressAndItsError) {
  const std::uint16_t port = test::unused_tcp_port();
  connect("127.0.0.1", port);
  ASSERT_TRUE(run_until([&] { return done(); }));
  ASSERT_TRUE(failure_);
  EXPECT_EQ(failure_->stage, DialFailure::Stage::connect);
  EXPECT_EQ(failure_->uv_code, UV_ECONNREFUSED);
  ASSERT_EQ(failure_->attempts.size(), 1u);
  EXPECT_EQ(failure_->attempts_text(),
            "127.0.0.1:" + std::to_string(port) + ": " + uv_error_text(UV_ECONNREFUSED));
}

TEST_F(DialerTest, CheckRefusesBeforeAnyConnect) {
  std::uint16_t port = 0;
  test::Fd listener = test::tcp_listen(&port);
  int asked = 0;
  connect("127.0.0.1", port, [&](const SockAddr& a) -> std::optional<std::string> {
    ++asked;
    EXPECT_EQ(a.port(), port);
    return "loopback targets are not allowed";
  });
  // A literal is checked at once: the refusal comes from inside connect().
  ASSERT_TRUE(failure_);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(failure_->stage, DialFailure::Stage::check);
  EXPECT_EQ(failure_->refusal, "loopback targets are not allowed");
  EXPECT_TRUE(failure_->attempts.empty());
  EXPECT_FALSE(dialer_->busy());
}

TEST_F(DialerTest, ResolveOnlyGivesTheAddressWithItsPort) {
  std::optional<std::vector<SockAddr>> got;
  dialer_->resolve(
      "[::1]", 5353, {}, [&](std::vector<SockAddr> a) { got = std::move(a); },
      [&](const DialFailure& f) { failure_ = f; });
  ASSERT_TRUE(run_until([&] { return got.has_value() || failure_.has_value(); }));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().to_string(), "[::1]:5353");
}

TEST_F(DialerTest, DestroyedMidConnectCallsNobody) {
  std::uint16_t port = 0;
  test::Fd listener = test::tcp_listen(&port);
  connect("127.0.0.1", port);
  ASSERT_TRUE(dialer_->busy());
  dialer_.reset();
  ASSERT_TRUE(run_to_completion());
  EXPECT_FALSE(done());
}

TEST_F(DialerTest, AbandonedThenReusedReportsOnlyTheSecondDial) {
  const std::uint16_t closed_port = test::unused_tcp_port();
  std::uint16_t port = 0;
  test::Fd listener = test::tcp_listen(&port);
  connect("127.0.0.1", closed_port);
  connect("127.0.0.1", port);  // abandons the first
  ASSERT_TRUE(run_until([&] { return done(); }));
  EXPECT_TRUE(socket_);
  EXPECT_FALSE(failure_);
}

}  // namespace
}  // namespace zlt
