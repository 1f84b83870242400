// ByteStream: both ends on one loop over real loopback sockets, plain and TLS.
#include "core/transport/byte_stream.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/transport/dialer.hpp"
#include "support/net.hpp"
#include "support/test_certs.hpp"
#include "support/uv_loop_fixture.hpp"

namespace zlt {
namespace {

// One end: keeps what arrives, counts what happens. `on_data` may end the test's use of it.
struct End : ByteStreamEvents {
  std::unique_ptr<ByteStream> stream;
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(64 * 1024);
  std::string received;
  bool secure = false;
  int written = 0;
  int read_error = 0;
  std::optional<Error> error;
  std::function<bool()> on_data;  // after bytes arrive; false: the end finished

  std::span<std::uint8_t> read_space() override { return buffer; }
  bool on_stream_data(std::size_t n) override {
    received.append(reinterpret_cast<const char*>(buffer.data()), n);
    return on_data ? on_data() : true;
  }
  bool on_stream_secure() override {
    secure = true;
    return true;
  }
  bool on_stream_written(int status) override {
    if (status != 0) read_error = status;
    ++written;
    return true;
  }
  bool on_stream_read_error(int code) override {
    read_error = code;
    stream->set_reading(false);
    return true;
  }
  bool on_stream_error(Error why) override {
    error = std::move(why);
    return true;
  }
};

class ByteStreamTest : public test::UvLoopTest {
 protected:
  void release() override {
    client_.stream.reset();
    server_.stream.reset();
    listener_.reset();
    dialer_.reset();
  }

  // A connected pair: client_ dialed, server_ accepted.
  void connect_pair() {
    ASSERT_EQ(listener_.init(uv_tcp_init, &loop_), 0);
    SockAddr any = *resolve_listen_address("127.0.0.1", 0);
    ASSERT_EQ(uv_tcp_bind(listener_.get(), any.get(), 0), 0);
    listener_.set_data(this);
    ASSERT_EQ(uv_listen(listener_.stream(), 8,
                        [](uv_stream_t* s, int status) {
                          auto* self = static_cast<ByteStreamTest*>(s->data);
                          if (status != 0 || self == nullptr) return;
                          UvHandle<uv_tcp_t> c;
                          c.init(uv_tcp_init, s->loop);
                          if (uv_accept(s, c.stream()) == 0)
                            self->server_.stream =
                                std::make_unique<ByteStream>(std::move(c), &self->server_);
                        }),
              0);
    SockAddr bound;
    int len = sizeof bound.storage;
    uv_tcp_getsockname(listener_.get(), bound.get(), &len);
    dialer_ = std::make_unique<Dialer>(&loop_);
    dialer_->connect(
        "127.0.0.1", bound.port(), {},
        [this](UvHandle<uv_tcp_t> s, const SockAddr&) {
          client_.stream = std::make_unique<ByteStream>(std::move(s), &client_);
        },
        [](const DialFailure& f) { ADD_FAILURE() << f.attempts_text(); });
    ASSERT_TRUE(run_until([&] { return client_.stream && server_.stream; }));
    client_.stream->set_reading(true);
    server_.stream->set_reading(true);
  }

  void start_tls() {
    const auto& certs = test::TestCerts::get();
    auto ctx = TlsClient::server_context(certs.leaf.cert, certs.leaf.key);
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ctx_ = std::move(*ctx);
    auto server_tls = TlsClient::accept(server_ctx_.get());
    ASSERT_TRUE(server_tls);
    TlsClientOptions o;
    o.ca_file = certs.ca.cert;
    o.host = "127.0.0.1";
    o.host_is_ip = true;
    auto client_tls = TlsClient::create(o);
    ASSERT_TRUE(client_tls) << client_tls.error().message;
    ASSERT_TRUE(server_.stream->start_tls(std::move(*server_tls), {}));
    ASSERT_TRUE(client_.stream->start_tls(std::move(*client_tls), {}));
    ASSERT_TRUE(run_until([&] { return client_.secure && server_.secure; }))
        << (client_.error ? client_.error->message : "") << " / "
        << (server_.error ? server_.error->message : "");
  }

  void exchange() {
    ASSERT_TRUE(client_.stream->write(std::string_view("hello, server")));
    ASSERT_TRUE(server_.stream->write(std::string_view("hello, client")));
    ASSERT_TRUE(run_until([&] {
      return client_.received == "hello, client" && server_.received == "hello, server";
    })) << client_.received
        << " / " << server_.received;
  }

  UvHandle<uv_tcp_t> listener_;
  std::unique_ptr<Dialer> dialer_;
  SslCtxPtr server_ctx_;
  End client_;
  End server_;
};

TEST_F(ByteStreamTest, PlainBothWays) {
  connect_pair();
  exchange();
  EXPECT_FALSE(client_.stream->secure());
}

TEST_F(ByteStreamTest, TlsBothWays) {
  connect_pair();
  start_tls();
  exchange();
  EXPECT_TRUE(client_.stream->secure());
  EXPECT_NE(client_.stream->tls()->describe().find("TLS"), std::string::npos);
}

TEST_F(ByteStreamTest, PlainThenTls) {
  connect_pair();
  exchange();
  client_.received.clear();
  server_.received.clear();
  start_tls();
  exchange();
}

TEST_F(ByteStreamTest, LargeWriteIsQueuedThenDrained) {
  connect_pair();
  const std::string data = test::pattern_bytes(8 << 20, 7);
  server_.stream->set_reading(false);  // the kernel's buffers fill up
  ASSERT_TRUE(client_.stream->write(data));
  EXPECT_GT(client_.stream->queued_bytes(), 0u);
  EXPECT_FALSE(client_.stream->idle());
  server_.stream->set_reading(true);
  ASSERT_TRUE(
      run_until([&] { return server_.received.size() == data.size(); }, std::chrono::seconds(30)));
  EXPECT_EQ(test::fnv1a(server_.received.data(), server_.received.size()),
            test::fnv1a(data.data(), data.size()));
  ASSERT_TRUE(run_until([&] { return client_.stream->idle(); }));
  EXPECT_EQ(client_.stream->queued_bytes(), 0u);
  EXPECT_GT(client_.written, 0);
  EXPECT_EQ(client_.read_error, 0);
}

TEST_F(ByteStreamTest, LargeTlsWriteArrivesWhole) {
  connect_pair();
  start_tls();
  const std::string data = test::pattern_bytes(4 << 20, 9);
  ASSERT_TRUE(client_.stream->write(data));
  ASSERT_TRUE(
      run_until([&] { return server_.received.size() == data.size(); }, std::chrono::seconds(30)));
  EXPECT_EQ(server_.received, data);
}

TEST_F(ByteStreamTest, PausedReadingHoldsBytesBack) {
  connect_pair();
  server_.stream->set_reading(false);
  ASSERT_TRUE(client_.stream->write(std::string_view("held")));
  ASSERT_TRUE(run_until([&] { return client_.stream->idle(); }));
  run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(server_.received, "");
  server_.stream->set_reading(true);
  ASSERT_TRUE(run_until([&] { return server_.received == "held"; }));
}

TEST_F(ByteStreamTest, PeerEndIsAReadError) {
  connect_pair();
  server_.stream.reset();
  ASSERT_TRUE(run_until([&] { return client_.read_error != 0; }));
  EXPECT_EQ(client_.read_error, UV_EOF);
}

TEST_F(ByteStreamTest, DestroyedFromInsideItsOwnDataEvent) {
  connect_pair();
  start_tls();
  server_.on_data = [&] {
    server_.stream.reset();
    return false;
  };
  ASSERT_TRUE(client_.stream->write(std::string_view("goodbye")));
  ASSERT_TRUE(run_until([&] { return !server_.stream; }));
  EXPECT_EQ(server_.received, "goodbye");
  ASSERT_TRUE(run_until([&] { return client_.read_error != 0; }));
}

TEST_F(ByteStreamTest, TlsHandshakeFailureIsReported) {
  connect_pair();
  const auto& certs = test::TestCerts::get();
  auto ctx = TlsClient::server_context(certs.other.cert, certs.other.key);
  ASSERT_TRUE(ctx);
  server_ctx_ = std::move(*ctx);
  auto server_tls = TlsClient::accept(server_ctx_.get());
  TlsClientOptions o;
  o.ca_file = certs.ca.cert;
  o.host = "127.0.0.1";
  o.host_is_ip = true;
  auto client_tls = TlsClient::create(o);
  ASSERT_TRUE(server_tls && client_tls);
  ASSERT_TRUE(server_.stream->start_tls(std::move(*server_tls), {}));
  ASSERT_TRUE(client_.stream->start_tls(std::move(*client_tls), {}));
  ASSERT_TRUE(run_until([&] { return client_.error.has_value(); }));
  EXPECT_EQ(client_.error->message.rfind("TLS: ", 0), 0u) << client_.error->message;
  EXPECT_FALSE(client_.secure);
}

}  // namespace
}  // namespace zlt
