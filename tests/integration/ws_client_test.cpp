// The WebSocket client against independent peers: the Python `websockets` library, a
// hand-written raw server for malformed answers, a Python CONNECT proxy, and (for the
// throughput figure) a minimal blocking C++ peer.
#include "core/transport/ws_client.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/bytes.hpp"
#include "core/runtime/deferred_delete.hpp"
#include "support/fast_ws_peer.hpp"
#include "support/python_peer.hpp"
#include "support/test_certs.hpp"
#include "support/uv_loop_fixture.hpp"

namespace zlt {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Bytes = std::vector<std::uint8_t>;
using test::PythonPeer;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::string text_of(std::span<const std::uint8_t> m) {
  return {reinterpret_cast<const char*>(m.data()), m.size()};
}

ChunkPtr chunk_of(std::string_view s) {
  return chunk_copy({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

// Content that differs per message and per byte, so reordering or corruption shows.
ChunkPtr pattern_chunk(std::size_t index, std::size_t size) {
  ChunkPtr c = acquire_chunk();
  for (std::size_t j = 0; j < size; ++j)
    c->data()[j] = static_cast<std::uint8_t>(index * 31 + j * 7 + (j >> 8));
  c->set_range(c->headroom(), c->headroom() + size);
  return c;
}

bool matches_pattern(std::span<const std::uint8_t> m, std::size_t index, std::size_t size) {
  if (m.size() != size) return false;
  for (std::size_t j = 0; j < size; ++j)
    if (m[j] != static_cast<std::uint8_t>(index * 31 + j * 7 + (j >> 8))) return false;
  return true;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(std::span<const std::uint8_t> data) {
    EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
  }
  std::string hex() {
    unsigned char md[32];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string out;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
      std::snprintf(b, sizeof b, "%02x", md[i]);
      out += b;
    }
    return out;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// Records every event; optional hooks run inside the callbacks.
class Recorder : public WsClientEvents {
 public:
  bool opened = false;
  std::vector<Bytes> messages;
  int drains = 0;
  int closed_count = 0;
  std::optional<Error> closed;
  int depth = 0;
  int max_depth = 0;
  bool keep_messages = true;
  std::size_t message_count = 0;

  std::function<void()> on_open;
  std::function<void(std::span<const std::uint8_t>)> on_message;
  std::function<void()> on_drain;
  std::function<void(const Error&)> on_closed;

  void on_channel_open() override {
    EXPECT_FALSE(opened) << "open twice";
    opened = true;
    if (on_open) on_open();
  }
  void on_channel_message(std::span<const std::uint8_t> m) override {
    ++depth;
    max_depth = std::max(max_depth, depth);
    ++message_count;
    if (keep_messages) messages.emplace_back(m.begin(), m.end());
    if (on_message) on_message(m);
    --depth;
  }
  void on_channel_drain() override {
    ++drains;
    if (on_drain) on_drain();
  }
  void on_channel_closed(const Error& why) override {
    ++closed_count;
    closed = why;
    if (on_closed) on_closed(why);
  }
  bool is_closed() const { return closed_count > 0; }
};

class WsClientTest : public test::UvLoopTest {
 protected:
  void release() override {
    client_.reset();
    released_.reset();
  }

  WsClient& start(WsClientOptions options, Recorder& events) {
    client_ = std::make_unique<WsClient>(&loop_, std::move(options), &events);
    client_->start();
    return *client_;
  }
  static WsClientOptions options(const std::string& url) {
    WsClientOptions o;
    o.url = url;
    o.connect_timeout = 10s;
    return o;
  }
  static std::string ws_url(const PythonPeer& peer, const std::string& path,
                            const std::string& host = "127.0.0.1", const char* scheme = "ws") {
    return std::string(scheme) + "://" + host + ":" + std::to_string(peer.port) + path;
  }
  // Connects and waits for open; fails the test otherwise.
  WsClient& open(WsClientOptions o, Recorder& r) {
    WsClient& c = start(std::move(o), r);
    EXPECT_TRUE(run_until([&] { return r.opened || r.is_closed(); })) << "neither open nor closed";
    EXPECT_TRUE(r.opened) << (r.closed ? r.closed->message : "");
    return c;
  }
  // Connects expecting a failure; returns it.
  Error fail(WsClientOptions o, std::chrono::milliseconds timeout = 15s) {
    Recorder r;
    start(std::move(o), r);
    EXPECT_TRUE(run_until([&] { return r.is_closed(); }, timeout));
    EXPECT_FALSE(r.opened);
    client_.reset();
    return r.closed.value_or(Error{Errc::internal, "no close event"});
  }

  // What an owner done with the client inside one of its callbacks does: no more events, and
  // destruction at the loop's next turn.
  void let_go() {
    if (!released_) released_ = std::make_unique<DeferredDelete>(&loop_);
    client_->set_events(nullptr);
    released_->later(std::move(client_));
  }
  bool released_pending() const { return released_ && released_->pending() > 0; }

  std::unique_ptr<WsClient> client_;
  std::unique_ptr<DeferredDelete> released_;
};

// ---------------------------------------------------------------- data

TEST_F(WsClientTest, EchoesManyMessagesOfAllSizes) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  std::vector<std::size_t> sizes;
  for (std::size_t s = 0; s <= 300; ++s) sizes.push_back(s);
  for (std::size_t s : {1000u, 4095u, 4096u, 4097u, 16383u, 16384u, 32768u, 65534u, 65535u, 65536u})
    sizes.push_back(s);
  for (std::size_t i = 0; i < 100; ++i) sizes.push_back((i * 7919 + 13) % 65537);

  Recorder r;
  r.keep_messages = false;
  std::size_t received = 0;
  std::size_t bad = 0;
  r.on_message = [&](std::span<const std::uint8_t> m) {
    if (received < sizes.size() && !matches_pattern(m, received, sizes[received])) ++bad;
    ++received;
  };
  WsClient& c = open(options(ws_url(peer, "/echo")), r);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    c.send(pattern_chunk(i, sizes[i]));
    total += sizes[i];
  }
  ASSERT_TRUE(run_until([&] { return received >= sizes.size() || r.is_closed(); }, 30s));
  EXPECT_EQ(received, sizes.size());
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(c.stats().messages_out, sizes.size());
  EXPECT_EQ(c.stats().messages_in, sizes.size());
  EXPECT_EQ(c.stats().bytes_out, total);
  EXPECT_EQ(c.stats().bytes_in, total);
  EXPECT_THAT(c.peer_address(), StartsWith("127.0.0.1:"));
  EXPECT_FALSE(r.is_closed());
}

TEST_F(WsClientTest, SendBeforeOpenIsQueuedAndFlushed) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  client_ = std::make_unique<WsClient>(&loop_, options(ws_url(peer, "/echo")), &r);
  client_->send(chunk_of("first"));
  client_->send(chunk_of("second"));
  EXPECT_GT(client_->queued_bytes(), 0u);
  client_->start();
  client_->send(chunk_of("third"));
  r.on_open = [&] { client_->send(chunk_of("from-open")); };
  ASSERT_TRUE(run_until([&] { return r.messages.size() >= 4 || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(text_of(r.messages[0]), "first");
  EXPECT_EQ(text_of(r.messages[1]), "second");
  EXPECT_EQ(text_of(r.messages[2]), "third");
  EXPECT_EQ(text_of(r.messages[3]), "from-open");
  EXPECT_EQ(client_->queued_bytes(), 0u);
}

// 200 MB each way at once, with the client honouring backpressure (congested / drain).
TEST_F(WsClientTest, LargeTransferBothWaysWithHashes) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  const std::uint64_t total = kSanitized ? 50'000'000 : 200'000'000;
  Recorder r;
  r.keep_messages = false;

  Sha256 sent_hash;
  Sha256 recv_hash;
  std::uint64_t sent = 0;
  std::uint64_t got = 0;
  std::string server_sent;
  std::string server_recv;
  std::size_t block_index = 0;
  std::size_t max_queued = 0;
  r.on_message = [&](std::span<const std::uint8_t> m) {
    if (got < total) {
      recv_hash.update(m);
      got += m.size();
      return;
    }
    std::string s = text_of(m);
    if (s.rfind("sent:", 0) == 0) server_sent = s.substr(5);
    if (s.rfind("recv:", 0) == 0) server_recv = s.substr(5);
  };
  std::function<void()> pump = [&] {
    while (sent < total && !client_->congested()) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(65536, total - sent));
      ChunkPtr c = pattern_chunk(block_index++, n);
      sent_hash.update(c->span());
      sent += n;
      client_->send(std::move(c));
      max_queued = std::max(max_queued, client_->queued_bytes());
    }
  };
  r.on_open = pump;
  r.on_drain = pump;
  const auto t0 = std::chrono::steady_clock::now();
  start(options(ws_url(peer, "/bulk?n=" + std::to_string(total))), r);
  ASSERT_TRUE(run_until([&] { return !server_recv.empty() || r.is_closed(); }, 120s))
      << "sent " << sent << ", received " << got;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(sent, total);
  EXPECT_EQ(got, total);
  EXPECT_EQ(server_recv, sent_hash.hex());
  EXPECT_EQ(server_sent, recv_hash.hex());
  // The queue stays near the high-water mark: the producer stops at it, one message over.
  EXPECT_LE(max_queued, Channel::kHighWater + 70000);
  std::printf("[ info ] %.0f MB each way against python websockets in %.2f s (%.0f MB/s total)\n",
              static_cast<double>(total) / 1e6, secs, 2 * static_cast<double>(total) / 1e6 / secs);
}

TEST_F(WsClientTest, ReassemblesFragmentedMessages) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  open(options(ws_url(peer, "/fragmented")), r);
  ASSERT_TRUE(run_until([&] { return r.messages.size() >= 2 || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 2u);
  Bytes expected;
  for (int i = 0; i < 3; ++i) expected.insert(expected.end(), 20000, static_cast<std::uint8_t>(i));
  EXPECT_EQ(r.messages[0], expected);
  EXPECT_EQ(text_of(r.messages[1]), "unfragmented");
}

TEST_F(WsClientTest, IgnoresTextMessages) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  open(options(ws_url(peer, "/text")), r);
  ASSERT_TRUE(run_until([&] { return !r.messages.empty() || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(text_of(r.messages[0]), "after-text");
  EXPECT_FALSE(r.is_closed());
}

TEST_F(WsClientTest, AnswersServerPing) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  open(options(ws_url(peer, "/ping")), r);
  // The server sends this only after its ping's pong arrived.
  ASSERT_TRUE(run_until([&] { return !r.messages.empty() || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(text_of(r.messages[0]), "pong-received");
}

// ---------------------------------------------------------------- close

TEST_F(WsClientTest, ClientInitiatedCloseHandshake) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  WsClient& c = open(options(ws_url(peer, "/echo")), r);
  c.send(chunk_of("last words"));
  c.close(4000, "bye");
  c.send(chunk_of("ignored after close"));
  ASSERT_TRUE(run_until([&] { return r.is_closed(); }, 5s));
  EXPECT_EQ(r.closed->code, Errc::shutdown);
  EXPECT_EQ(r.closed->message, "closed (4000: bye)");  // the reply echoes our reason
  // Delivery stops once we close; the server saw our code and reason.
  auto line = peer.process->wait_for_line("CLOSE /echo", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "CLOSE /echo 4000 bye");
  run_for(50ms);
  EXPECT_EQ(r.closed_count, 1);
}

TEST_F(WsClientTest, ServerInitiatedCloseHandshake) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  WsClient& c = open(options(ws_url(peer, "/close/4001")), r);
  c.send(chunk_of("trigger"));
  ASSERT_TRUE(run_until([&] { return r.is_closed(); }, 5s));
  EXPECT_EQ(r.closed->code, Errc::connection);
  EXPECT_EQ(r.closed->message, "closed by peer (4001: server bye)");
  // We answered with the same code.
  auto line = peer.process->wait_for_line("SERVER-CLOSE-ECHO", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "SERVER-CLOSE-ECHO 4001");
  EXPECT_EQ(r.closed_count, 1);
}

TEST_F(WsClientTest, CloseWithoutReplyTimesOut) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  Recorder r;
  WsClient& c = open(options(ws_url(peer, "/frames/noclose")), r);
  const auto t0 = std::chrono::steady_clock::now();
  c.close(1000, "");
  ASSERT_TRUE(run_until([&] { return r.is_closed(); }, 5s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.closed->message, "closed (1000); no close reply within 2s");
  EXPECT_GE(waited, 1900ms);
  auto line = peer.process->wait_for_line("RAW-CLOSE", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "RAW-CLOSE 1000 ");
}

TEST_F(WsClientTest, CloseBeforeOpenReportsOnce) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  start(options(ws_url(peer, "/echo")), r);
  client_->close(1000, "");
  ASSERT_TRUE(run_until([&] { return r.is_closed(); }));
  EXPECT_FALSE(r.opened);
  EXPECT_EQ(r.closed->code, Errc::shutdown);
  run_for(100ms);
  EXPECT_EQ(r.closed_count, 1);
  EXPECT_FALSE(r.opened);
}

// ---------------------------------------------------------------- handshake failures

TEST_F(WsClientTest, Http404IsAHandshakeError) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Error e = fail(options(ws_url(peer, "/missing")));
  EXPECT_EQ(e.code, Errc::connection);
  EXPECT_THAT(e.message, StartsWith("handshake: HTTP 404 Not Found"));
  EXPECT_THAT(e.message, HasSubstr("/missing"));
}

TEST_F(WsClientTest, BadHandshakeResponsesAreRefused) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  const std::pair<const char*, const char*> cases[] = {
      {"/bad-accept", "handshake: bad Sec-WebSocket-Accept"},
      {"/extension", "handshake: server negotiated an extension"},
      {"/bad-protocol",
       "handshake: server chose subprotocol 'something-else' which was not offered"},
      {"/no-upgrade", "handshake: missing 'Upgrade: websocket'"},
      {"/huge-header", "handshake: response header over 16 KiB"},
  };
  for (const auto& [path, why] : cases) {
    SCOPED_TRACE(path);
    Error e = fail(options(ws_url(peer, path)));
    EXPECT_EQ(e.code, Errc::connection);
    EXPECT_THAT(e.message, StartsWith(why));
  }
}

TEST_F(WsClientTest, SendsUserAgentAndExtraHeaders) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  Recorder r;
  auto o = options(ws_url(peer, "/frames/pipelined"));
  o.headers = {{"X-Test", "hello"}};
  open(std::move(o), r);
  auto line = peer.process->wait_for_line("RAW-REQUEST", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line,
            "RAW-REQUEST /frames/pipelined ua=zlayer-tunnel/" ZLT_VERSION_STRING " x-test=hello");
}

TEST_F(WsClientTest, InvalidOptionsFailAsynchronously) {
  const std::pair<WsClientOptions, const char*> cases[] = {
      {options("http://127.0.0.1:1/"), "expected a ws:// or wss:// URL"},
      {options("ws://bad host/"), "invalid URL"},
      {[] {
         auto o = options("ws://127.0.0.1:1/");
         o.proxy = "socks5://127.0.0.1:1";
         return o;
       }(),
       "invalid URL 'socks5://127.0.0.1:1'"},
      {[] {
         auto o = options("ws://127.0.0.1:1/");
         o.headers = {{"X-Bad", "a\r\nb"}};
         return o;
       }(),
       "invalid value for header 'X-Bad'"},
  };
  for (const auto& [o, why] : cases) {
    SCOPED_TRACE(why);
    Recorder r;
    client_ = std::make_unique<WsClient>(&loop_, o, &r);
    client_->start();
    EXPECT_FALSE(r.is_closed()) << "start() must not call back synchronously";
    ASSERT_TRUE(run_until([&] { return r.is_closed(); }));
    EXPECT_EQ(r.closed->code, Errc::config);
    EXPECT_THAT(r.closed->message, HasSubstr(why));
    client_.reset();
  }
}

// ---------------------------------------------------------------- connect failures

int bound_socket(int family, bool listening) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      (listening && ::listen(fd, 16) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

TEST_F(WsClientTest, ConnectionRefused) {
  // A port that was just free: bound, never listened on.
  int fd = bound_socket(AF_INET, false);
  ASSERT_GE(fd, 0);
  const int port = port_of(fd);
  Error e = fail(options("ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1"));
  ::close(fd);
  EXPECT_EQ(e.code, Errc::connection);
  EXPECT_EQ(e.message,
            "connect 127.0.0.1:" + std::to_string(port) + ": connection refused (ECONNREFUSED)");
}

TEST_F(WsClientTest, ConnectTimeoutWhenTheServerNeverAnswers) {
  // The kernel completes the TCP handshake into the backlog; nobody ever accepts or answers.
  int fd = bound_socket(AF_INET, true);
  ASSERT_GE(fd, 0);
  auto o = options("ws://127.0.0.1:" + std::to_string(port_of(fd)) + "/tunnel/v1");
  o.connect_timeout = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  Error e = fail(std::move(o), 5s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ::close(fd);
  EXPECT_EQ(e.code, Errc::timeout);
  EXPECT_THAT(e.message, StartsWith("connect timeout after 300ms"));
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 3s);
}

TEST_F(WsClientTest, ConnectTimeoutWhenTheUpgradeHangs) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  auto o = options(ws_url(peer, "/hang"));
  o.connect_timeout = 1s;
  Error e = fail(std::move(o), 5s);
  EXPECT_EQ(e.code, Errc::timeout);
  EXPECT_THAT(e.message, StartsWith("connect timeout after 1s"));
}

// ---------------------------------------------------------------- protocol violations

TEST_F(WsClientTest, ProtocolViolationsCloseWith1002) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  struct Case {
    const char* kind;
    Errc code;
    const char* why;
    int close_code;
  } cases[] = {
      {"masked", Errc::protocol, "protocol error: masked server frame", 1002},
      {"rsv", Errc::protocol, "protocol error: reserved bits set without a negotiated extension",
       1002},
      {"opcode", Errc::protocol, "protocol error: unknown opcode", 1002},
      {"bigping", Errc::protocol, "protocol error: control frame payload over 125 bytes", 1002},
      {"fragping", Errc::protocol, "protocol error: fragmented control frame", 1002},
      {"cont", Errc::protocol, "protocol error: continuation frame without a message to continue",
       1002},
      {"badclose", Errc::protocol, "protocol error: invalid close code 1005", 1002},
      {"huge", Errc::protocol, "protocol error: frame length over 2^63", 1002},
      {"nested", Errc::protocol, "protocol error: new message before the previous one was finished",
       1002},
      {"shortclose", Errc::protocol, "protocol error: close frame of 1 byte", 1002},
      {"closeutf8", Errc::protocol, "protocol error: close reason is not UTF-8", 1007},
      {"toobig", Errc::limit, "message of 70000+ bytes exceeds the limit of 65536", 1009},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind);
    Recorder r;
    open(options(ws_url(peer, std::string("/frames/") + c.kind)), r);
    ASSERT_TRUE(run_until([&] { return r.is_closed(); }));
    EXPECT_TRUE(r.messages.empty());
    EXPECT_EQ(r.closed->code, c.code);
    EXPECT_EQ(r.closed->message, c.why);
    auto line = peer.process->wait_for_line("RAW-CLOSE", 5s);
    ASSERT_TRUE(line);
    EXPECT_THAT(*line, StartsWith("RAW-CLOSE " + std::to_string(c.close_code)));
    client_.reset();
  }
}

TEST_F(WsClientTest, FramesInTheSamePacketAsTheUpgradeResponse) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  Recorder r;
  open(options(ws_url(peer, "/frames/pipelined")), r);
  ASSERT_TRUE(run_until([&] { return r.messages.size() >= 3 || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(text_of(r.messages[0]), "one");
  EXPECT_EQ(text_of(r.messages[1]), "two");
  EXPECT_EQ(text_of(r.messages[2]), "three");
}

TEST_F(WsClientTest, PingInsideAFragmentedMessage) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  Recorder r;
  open(options(ws_url(peer, "/frames/interleaved")), r);
  ASSERT_TRUE(run_until([&] { return !r.messages.empty() || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(text_of(r.messages[0]), "frag-a,frag-b,frag-c");
  auto line = peer.process->wait_for_line("RAW-PONG", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "RAW-PONG mid");
}

TEST_F(WsClientTest, SmallerMessageLimit) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  auto o = options(ws_url(peer, "/echo"));
  o.max_message_size = 1000;
  WsClient& c = open(std::move(o), r);
  c.send(pattern_chunk(0, 1000));
  c.send(pattern_chunk(1, 1001));
  ASSERT_TRUE(run_until([&] { return r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.closed->code, Errc::limit);
  EXPECT_EQ(r.closed->message, "message of 1001+ bytes exceeds the limit of 1000");
  auto line = peer.process->wait_for_line("CLOSE /echo", 5s);
  ASSERT_TRUE(line);
  EXPECT_THAT(*line, StartsWith("CLOSE /echo 1009"));
}

// ---------------------------------------------------------------- flow control

TEST_F(WsClientTest, PauseReceiveHoldsMessagesAndResumes) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  constexpr std::size_t kCount = 50;
  Recorder r;
  std::vector<std::uint32_t> order;
  r.on_message = [&](std::span<const std::uint8_t> m) {
    order.push_back(load_be32(m.data()));
    // Pausing inside the callback stops the very next message, though it is already buffered.
    if (order.size() == 1) client_->pause_receive(true);
    if (order.size() == 20) {
      client_->pause_receive(true);
      client_->pause_receive(false);  // resumes later, never from inside this call
    }
  };
  open(options(ws_url(peer, "/burst?n=" + std::to_string(kCount))), r);
  ASSERT_TRUE(run_until([&] { return !order.empty(); }));
  ASSERT_TRUE(peer.process->wait_for_line("BURST-SENT", 5s));
  run_for(200ms);
  EXPECT_EQ(order.size(), 1u);
  client_->pause_receive(false);
  EXPECT_EQ(order.size(), 1u) << "resume must be deferred";
  ASSERT_TRUE(run_until([&] { return order.size() >= kCount || r.is_closed(); }));
  ASSERT_EQ(order.size(), kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(r.max_depth, 1) << "on_channel_message was re-entered";
}

// ---------------------------------------------------------------- letting go inside callbacks

TEST_F(WsClientTest, LetGoInsideOnMessage) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  r.on_message = [&](std::span<const std::uint8_t>) { let_go(); };
  start(options(ws_url(peer, "/burst?n=50")), r);
  ASSERT_TRUE(run_until([&] { return !r.messages.empty(); }));
  EXPECT_EQ(client_, nullptr);
  // Destroyed at the next turn, which drops the connection.
  ASSERT_TRUE(peer.process->wait_for_line("CLOSE /burst", 5s));
  EXPECT_FALSE(released_pending());
  run_for(50ms);
  EXPECT_EQ(r.messages.size(), 1u) << "the 49 buffered messages must not be delivered";
  EXPECT_EQ(r.closed_count, 0);
}

TEST_F(WsClientTest, LetGoInsideOnOpen) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  r.on_open = [&] { let_go(); };
  start(options(ws_url(peer, "/echo")), r);
  ASSERT_TRUE(run_until([&] { return r.opened; }));
  ASSERT_TRUE(run_until([&] { return !released_pending(); }));
  run_for(50ms);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.closed_count, 0);
}

TEST_F(WsClientTest, LetGoInsideOnOpenWithFramesBuffered) {
  auto peer = PythonPeer::start({"--mode", "raw"});
  ASSERT_TRUE(peer);
  Recorder r;
  r.on_open = [&] { let_go(); };
  start(options(ws_url(peer, "/frames/pipelined")), r);
  ASSERT_TRUE(run_until([&] { return r.opened; }));
  ASSERT_TRUE(peer.process->wait_for_line("RAW-EOF", 5s));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.closed_count, 0);
}

TEST_F(WsClientTest, LetGoInsideOnClosed) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  r.on_closed = [&](const Error&) { let_go(); };
  WsClient& c = open(options(ws_url(peer, "/close/1000")), r);
  c.send(chunk_of("trigger"));
  ASSERT_TRUE(run_until([&] { return r.is_closed(); }));
  EXPECT_EQ(client_, nullptr);
  ASSERT_TRUE(run_until([&] { return !released_pending(); }));

  // And when connecting fails.
  Recorder r2;
  r2.on_closed = [&](const Error&) { let_go(); };
  int fd = bound_socket(AF_INET, false);
  start(options("ws://127.0.0.1:" + std::to_string(port_of(fd)) + "/"), r2);
  ASSERT_TRUE(run_until([&] { return r2.is_closed(); }));
  ::close(fd);
  EXPECT_EQ(client_, nullptr);
  ASSERT_TRUE(run_until([&] { return !released_pending(); }));
  EXPECT_EQ(r2.closed_count, 1);
}

TEST_F(WsClientTest, LetGoInsideOnDrain) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Recorder r;
  r.keep_messages = false;
  r.on_drain = [&] { let_go(); };
  WsClient& c = open(options(ws_url(peer, "/echo")), r);
  for (std::size_t i = 0; i < 256; ++i) c.send(pattern_chunk(i, 65536));  // 16 MiB
  EXPECT_TRUE(c.congested());
  ASSERT_TRUE(run_until([&] { return r.drains > 0 || r.is_closed(); }, 30s));
  EXPECT_EQ(client_, nullptr);
  ASSERT_TRUE(run_until([&] { return !released_pending(); }));
  run_for(50ms);
  EXPECT_EQ(r.drains, 1);
  EXPECT_EQ(r.closed_count, 0);
}

// ---------------------------------------------------------------- TLS

class WssTest : public WsClientTest {
 protected:
  const test::TestCerts& certs() { return test::TestCerts::get(); }
  PythonPeer tls_peer(const test::CertFiles& files, const std::string& host = "127.0.0.1") {
    return PythonPeer::start({"--cert", files.cert, "--key", files.key, "--host", host});
  }
  WsClientOptions tls_options(const PythonPeer& peer, const std::string& host,
                              std::optional<std::string> ca) {
    auto o = options(ws_url(peer, "/echo", host, "wss"));
    o.ca_file = std::move(ca);
    return o;
  }
  void expect_echo(WsClientOptions o) {
    Recorder r;
    WsClient& c = open(std::move(o), r);
    c.send(chunk_of("over tls"));
    c.send(pattern_chunk(5, 65536));
    ASSERT_TRUE(run_until([&] { return r.messages.size() >= 2 || r.is_closed(); }));
    ASSERT_EQ(r.messages.size(), 2u);
    EXPECT_EQ(text_of(r.messages[0]), "over tls");
    EXPECT_TRUE(matches_pattern(r.messages[1], 5, 65536));
    c.close(1000, "done");
    ASSERT_TRUE(run_until([&] { return r.is_closed(); }));
    EXPECT_EQ(r.closed->message, "closed (1000: done)");
    client_.reset();
  }
};

TEST_F(WssTest, VerifiedByCaForNameAndIp) {
  auto peer = tls_peer(certs().leaf);
  ASSERT_TRUE(peer);
  expect_echo(tls_options(peer, "localhost", certs().ca.cert));
  expect_echo(tls_options(peer, "127.0.0.1", certs().ca.cert));
}

TEST_F(WssTest, WrongCaIsRejected) {
  auto peer = tls_peer(certs().leaf);
  ASSERT_TRUE(peer);
  Error e = fail(tls_options(peer, "localhost", certs().selfsigned.cert));
  EXPECT_EQ(e.code, Errc::connection);
  EXPECT_THAT(e.message,
              StartsWith("TLS: certificate verify failed: unable to get local issuer certificate"));
  // The system store does not know the test CA either.
  e = fail(tls_options(peer, "localhost", std::nullopt));
  EXPECT_THAT(e.message, StartsWith("TLS: certificate verify failed:"));
}

TEST_F(WssTest, WrongHostnameIsRejected) {
  auto peer = tls_peer(certs().other);
  ASSERT_TRUE(peer);
  Error e = fail(tls_options(peer, "localhost", certs().ca.cert));
  EXPECT_EQ(e.code, Errc::connection);
  EXPECT_THAT(e.message, StartsWith("TLS: certificate verify failed: hostname mismatch"));
  e = fail(tls_options(peer, "127.0.0.1", certs().ca.cert));
  EXPECT_THAT(e.message, StartsWith("TLS: certificate verify failed: IP address mismatch"));
}

TEST_F(WssTest, InsecureAcceptsAnything) {
  auto peer = tls_peer(certs().selfsigned);
  ASSERT_TRUE(peer);
  auto o = tls_options(peer, "127.0.0.1", std::nullopt);
  o.insecure = true;
  expect_echo(o);
  auto other = tls_peer(certs().other);
  ASSERT_TRUE(other);
  o = tls_options(other, "localhost", std::nullopt);
  o.insecure = true;
  expect_echo(o);
}

TEST_F(WssTest, MissingCaFileIsAConfigError) {
  auto peer = tls_peer(certs().leaf);
  ASSERT_TRUE(peer);
  Error e = fail(tls_options(peer, "localhost", certs().dir + "/does-not-exist.pem"));
  EXPECT_EQ(e.code, Errc::config);
  EXPECT_THAT(e.message, StartsWith("TLS: cannot load CA file"));
}

TEST_F(WssTest, PlainServerIsATlsError) {
  auto peer = PythonPeer::start({});
  ASSERT_TRUE(peer);
  Error e = fail(tls_options(peer, "127.0.0.1", certs().ca.cert));
  EXPECT_EQ(e.code, Errc::connection);
  EXPECT_THAT(e.message, StartsWith("TLS: "));
}

TEST_F(WssTest, LargeTransferOverTls) {
  auto peer = tls_peer(certs().leaf);
  ASSERT_TRUE(peer);
  const std::uint64_t total = kSanitized ? 20'000'000 : 50'000'000;
  Recorder r;
  r.keep_messages = false;
  Sha256 sent_hash, recv_hash;
  std::uint64_t sent = 0, got = 0;
  std::string server_sent, server_recv;
  std::size_t index = 0;
  r.on_message = [&](std::span<const std::uint8_t> m) {
    if (got < total) {
      recv_hash.update(m);
      got += m.size();
    } else if (text_of(m).rfind("sent:", 0) == 0) {
      server_sent = text_of(m).substr(5);
    } else if (text_of(m).rfind("recv:", 0) == 0) {
      server_recv = text_of(m).substr(5);
    }
  };
  std::function<void()> pump = [&] {
    while (sent < total && !client_->congested()) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(65536, total - sent));
      ChunkPtr c = pattern_chunk(index++, n);
      sent_hash.update(c->span());
      sent += n;
      client_->send(std::move(c));
    }
  };
  r.on_open = pump;
  r.on_drain = pump;
  auto o = options(ws_url(peer, "/bulk?n=" + std::to_string(total), "localhost", "wss"));
  o.ca_file = certs().ca.cert;
  start(std::move(o), r);
  ASSERT_TRUE(run_until([&] { return !server_recv.empty() || r.is_closed(); }, 120s));
  EXPECT_EQ(server_recv, sent_hash.hex());
  EXPECT_EQ(server_sent, recv_hash.hex());
}

// ---------------------------------------------------------------- IPv6

TEST_F(WsClientTest, Ipv6Literal) {
  int probe = bound_socket(AF_INET6, false);
  if (probe < 0) GTEST_SKIP() << "no IPv6 loopback here";
  ::close(probe);
  auto peer = PythonPeer::start({"--host", "::1"});
  ASSERT_TRUE(peer);
  Recorder r;
  WsClient& c = open(options("ws://[::1]:" + std::to_string(peer.port) + "/echo"), r);
  c.send(chunk_of("v6"));
  ASSERT_TRUE(run_until([&] { return !r.messages.empty() || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(text_of(r.messages[0]), "v6");
  EXPECT_EQ(c.peer_address(), "[::1]:" + std::to_string(peer.port));
}

// ---------------------------------------------------------------- HTTP CONNECT proxy

TEST_F(WsClientTest, ThroughConnectProxy) {
  auto server = PythonPeer::start({});
  auto proxy = PythonPeer::start({"--mode", "proxy"});
  ASSERT_TRUE(server);
  ASSERT_TRUE(proxy);
  Recorder r;
  auto o = options(ws_url(server, "/echo"));
  o.proxy = "http://127.0.0.1:" + std::to_string(proxy.port);
  WsClient& c = open(std::move(o), r);
  c.send(pattern_chunk(1, 30000));
  ASSERT_TRUE(run_until([&] { return !r.messages.empty() || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_TRUE(matches_pattern(r.messages[0], 1, 30000));
  EXPECT_EQ(c.peer_address(), "127.0.0.1:" + std::to_string(proxy.port));
  auto line = proxy.process->wait_for_line("PROXY", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "PROXY CONNECT 127.0.0.1:" + std::to_string(server.port) + " auth=-");
}

TEST_F(WsClientTest, ThroughConnectProxyWithTlsAndCredentials) {
  const auto& certs = test::TestCerts::get();
  auto server = PythonPeer::start({"--cert", certs.leaf.cert, "--key", certs.leaf.key});
  auto proxy = PythonPeer::start({"--mode", "proxy", "--auth", "user:p@ss"});
  ASSERT_TRUE(server);
  ASSERT_TRUE(proxy);
  Recorder r;
  auto o = options(ws_url(server, "/echo", "localhost", "wss"));
  o.ca_file = certs.ca.cert;
  o.proxy = "http://user:p%40ss@127.0.0.1:" + std::to_string(proxy.port);
  WsClient& c = open(std::move(o), r);
  c.send(chunk_of("tunnelled tls"));
  ASSERT_TRUE(run_until([&] { return !r.messages.empty() || r.is_closed(); }));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(text_of(r.messages[0]), "tunnelled tls");
  auto line = proxy.process->wait_for_line("PROXY", 5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "PROXY CONNECT localhost:" + std::to_string(server.port) + " auth=user:p@ss");
}

TEST_F(WsClientTest, ProxyRefusal) {
  auto proxy = PythonPeer::start({"--mode", "proxy", "--refuse"});
  ASSERT_TRUE(proxy);
  auto o = options("ws://127.0.0.1:9/tunnel/v1");
  o.proxy = "http://127.0.0.1:" + std::to_string(proxy.port);
  Error e = fail(std::move(o));
  EXPECT_EQ(e.code, Errc::connection);
  EXPECT_EQ(e.message, "proxy 127.0.0.1:" + std::to_string(proxy.port) +
                           " refused CONNECT 127.0.0.1:9: HTTP 403 Forbidden");

  auto auth_proxy = PythonPeer::start({"--mode", "proxy", "--auth", "a:b"});
  ASSERT_TRUE(auth_proxy);
  o = options("ws://127.0.0.1:9/tunnel/v1");
  o.proxy = "http://a:wrong@127.0.0.1:" + std::to_string(auth_proxy.port);
  e = fail(std::move(o));
  EXPECT_THAT(e.message, HasSubstr("HTTP 407 Proxy Authentication Required"));
}

TEST_F(WsClientTest, ProxyUnreachable) {
  int fd = bound_socket(AF_INET, false);
  ASSERT_GE(fd, 0);
  const int port = port_of(fd);
  auto o = options("ws://example.invalid/tunnel/v1");
  o.proxy = "http://127.0.0.1:" + std::to_string(port);
  Error e = fail(std::move(o));
  ::close(fd);
  EXPECT_EQ(e.message, "connect to proxy 127.0.0.1:" + std::to_string(port) +
                           ": connection refused (ECONNREFUSED)");
}

// ---------------------------------------------------------------- throughput (printed only)

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

class WsClientThroughput : public WsClientTest {
 protected:
  struct Rate {
    double wall;  // MB/s
    double cpu;   // MB per CPU-second of the loop thread (the client's own cost)
  };
  // Moves `messages` 64 KiB messages in one direction.
  Rate measure(test::FastWsPeer::Mode mode, std::uint64_t messages, bool tls) {
    constexpr std::size_t kSize = 65536;
    const auto& certs = test::TestCerts::get();
    test::FastWsPeer peer(mode, messages, kSize, tls ? &certs.leaf : nullptr);
    EXPECT_GT(peer.port(), 0);
    Recorder r;
    r.keep_messages = false;
    std::uint64_t sent = 0;
    std::uint64_t bytes_in = 0;
    bool done = false;
    std::chrono::steady_clock::time_point t0;
    double cpu0 = 0;
    std::function<void()> pump = [&] {
      while (sent < messages && !client_->congested()) {
        ChunkPtr c = acquire_chunk();
        c->set_range(c->headroom(), c->headroom() + kSize);  // contents do not matter here
        client_->send(std::move(c));
        ++sent;
      }
    };
    r.on_open = [&] {
      t0 = std::chrono::steady_clock::now();
      cpu0 = thread_cpu_seconds();
      if (mode == test::FastWsPeer::Mode::sink) pump();
    };
    r.on_drain = pump;
    r.on_message = [&](std::span<const std::uint8_t> m) {
      bytes_in += m.size();
      if (mode == test::FastWsPeer::Mode::sink ? text_of(m) == "done"
                                               : bytes_in >= messages * kSize)
        done = true;
    };
    auto o = options(std::string(tls ? "wss" : "ws") +
                     "://localhost:" + std::to_string(peer.port()) + "/");
    o.ca_file = certs.ca.cert;
    start(std::move(o), r);
    EXPECT_TRUE(run_until([&] { return done || r.is_closed(); }, 120s));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = thread_cpu_seconds() - cpu0;
    client_.reset();
    run_for(10ms);
    EXPECT_EQ(peer.join(), "");
    const double mb = static_cast<double>(messages * kSize) / 1e6;
    return {mb / secs, mb / cpu};
  }
};

TEST_F(WsClientThroughput, LoopbackWith64KiBMessages) {
  const std::uint64_t n = kSanitized ? 2000 : 16000;  // about 1 GB unsanitised
  const std::pair<const char*, Rate> rates[] = {
      {"ws up", measure(test::FastWsPeer::Mode::sink, n, false)},
      {"ws down", measure(test::FastWsPeer::Mode::source, n, false)},
      {"wss up", measure(test::FastWsPeer::Mode::sink, n / 2, true)},
      {"wss down", measure(test::FastWsPeer::Mode::source, n / 2, true)},
  };
  for (const auto& [what, rate] : rates)
    std::printf(
        "[ info ] ws client, 64 KiB messages, loopback, %-8s %5.0f MB/s wall, %5.0f MB per "
        "CPU-second of the client thread%s\n",
        what, rate.wall, rate.cpu, kSanitized ? " (sanitized build)" : "");
}

}  // namespace
}  // namespace zlt
