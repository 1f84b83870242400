// WebSocket protocol enforcement on the server (RFC 6455 §5): a peer that breaks the framing
// rules — an unmasked frame first of all, which libwebsockets 4.1.6 would accept — gets a
// close frame with 1002 (1009 for a message over the limit, 1007 for a close reason that is
// not UTF-8), the server logs "protocol error: ..." naming the peer, and a legitimate tunnel
// next to it is not disturbed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/sockaddr.hpp"
#include "core/transport/ws_codec.hpp"
#include "support/bystander.hpp"
#include "support/harness.hpp"
#include "support/log_capture.hpp"
#include "support/raw_ws.hpp"
#include "support/test_certs.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;

// A frame as it goes on the wire: `mask` null = unmasked; rsv ORed into the first byte.
std::string wire_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                       bool masked = true, std::uint8_t rsv = 0) {
  const ws::MaskKey key{0xa1, 0xb2, 0xc3, 0xd4};
  std::uint8_t head[ws::kMaxHeaderSize];
  const std::size_t n = ws::encode_header(head, fin, static_cast<ws::Opcode>(opcode),
                                          payload.size(), masked ? &key : nullptr);
  head[0] = static_cast<std::uint8_t>(head[0] | (rsv << 4));
  std::string body(payload);
  if (masked) ws::apply_mask(reinterpret_cast<std::uint8_t*>(body.data()), body.size(), key);
  return std::string(reinterpret_cast<const char*>(head), n) + body;
}

// Only the header of a masked frame announcing `length` bytes (nothing of the payload).
std::string announced_length(std::uint64_t length) {
  std::string h = from_hex("82 ff");
  for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return h + from_hex("a1 b2 c3 d4");
}

struct Violation {
  const char* name;
  std::string bytes;
  std::uint16_t code;
  std::string log;  // after "protocol error: "
};

std::vector<Violation> violations() {
  return {
      {"unmasked binary frame", wire_frame(0x2, bytes_of(proto::Heartbeat{1}), true, false), 1002,
       "unmasked client frame"},
      {"unmasked empty ping", wire_frame(0x9, "", true, false), 1002, "unmasked client frame"},
      {"2^63 length", announced_length(1ull << 63), 1002, "frame length over 2^63"},
      {"2^64-1 length", announced_length(~0ull), 1002, "frame length over 2^63"},
      {"reserved bit 1", wire_frame(0x2, "x", true, true, 4), 1002,
       "reserved bits set without a negotiated extension"},
      {"reserved bit 3", wire_frame(0x2, "x", true, true, 1), 1002,
       "reserved bits set without a negotiated extension"},
      {"opcode 3", wire_frame(0x3, "x"), 1002, "unknown opcode"},
      {"opcode 0xF", wire_frame(0xF, ""), 1002, "unknown opcode"},
      {"fragmented ping", wire_frame(0x9, "x", false), 1002, "fragmented control frame"},
      {"ping of 126 bytes", wire_frame(0x9, std::string(126, 'p')), 1002,
       "control frame payload over 125 bytes"},
      {"continuation without a start", wire_frame(0x0, "x"), 1002,
       "continuation frame without a message to continue"},
      {"message inside a message", wire_frame(0x2, "a", false) + wire_frame(0x2, "b"), 1002,
       "new message before the previous one was finished"},
      {"close of 1 byte", wire_frame(0x8, "\x03"), 1002, "close frame of 1 byte"},
      {"close code 1005", wire_frame(0x8, "\x03\xed"), 1002, "invalid close code 1005"},
      {"close reason not UTF-8", wire_frame(0x8, "\x03\xe8\xc3\x28"), 1007,
       "close reason is not UTF-8"},
      {"message of 65537 bytes announced", announced_length(65537), 1009,
       "message of 65537+ bytes exceeds the limit of 65536"},
      {"fragments over 64 KiB", wire_frame(0x2, std::string(60000, 'a'), false) +
                                    wire_frame(0x0, std::string(5537, 'b')),
       1009, "message of 65537+ bytes exceeds the limit of 65536"},
  };
}

class HostileWsProto : public ::testing::Test {
 protected:
  // The attacker's own token: the bystander's agent holds the harness token.
  static constexpr const char* kAttackerToken = "attacker-token";

  void SetUp() override {
    auto c = Harness::server_config();
    config::TokenEntry t;
    t.name = "attacker";
    t.sha256 = crypto::hash_token(kAttackerToken);
    c.tokens.push_back(t);
    h_.start_server(c);
  }
  // The bystander is moving bytes before the attack starts.
  static void wait_running(Bystander& b) {
    ASSERT_TRUE(eventually([&] { return b.rounds() >= 3; }, 20s)) << "bystander never ran";
  }

  // Sends `v.bytes` on `ws` and expects the close code, the log line naming this peer, the
  // end of the connection, and (when authenticated) the session's end for the same reason.
  void expect_failed(RawWs& ws, const Violation& v, bool authenticated) {
    SCOPED_TRACE(v.name);
    const std::string peer = local_of(ws.fd()).to_string();
    ASSERT_TRUE(ws.send_raw(v.bytes));
    auto close = ws.wait_close();
    ASSERT_TRUE(close) << "no close frame";
    EXPECT_EQ(close->code, v.code);
    EXPECT_EQ(close->reason, v.log);
    auto line = log_.wait_for("protocol error: " + v.log, peer);
    EXPECT_TRUE(line) << "no log line 'protocol error: " << v.log << "' for " << peer;
    EXPECT_TRUE(ws.wait_eof());
    if (authenticated) {
      auto gone = h_.server_events().wait_for([&](const nlohmann::json& e) {
        return e["event"] == "tunnel_disconnected" &&
               e["reason"].get<std::string>() == "protocol error: " + v.log;
      });
      EXPECT_TRUE(gone) << "the session did not end with 'protocol error: " << v.log << "'";
      h_.server_events().clear();
    }
  }

  LogCapture log_{LogLevel::warn};
  Harness h_;
};

TEST_F(HostileWsProto, UnmaskedFrameAfterHandshakeIsClosedWith1002) {
  Bystander bystander(h_);
  wait_running(bystander);
  auto ws = RawWs::connect(h_.control_port());
  ASSERT_TRUE(ws && ws->is_open());
  expect_failed(*ws, violations()[0], false);
  // Nothing of the frame was answered: the server never saw a Heartbeat.
  for (const auto& m : ws->skipped) EXPECT_NE(static_cast<std::uint8_t>(m[0]), 0x31) << to_hex(m);
  EXPECT_TRUE(bystander.finish());
}

TEST_F(HostileWsProto, UnmaskedFrameAfterAuthIsClosedWith1002) {
  Bystander bystander(h_);
  wait_running(bystander);
  auto ws = open_session(h_.control_port(), kAttackerToken);
  ASSERT_TRUE(ws);
  expect_failed(*ws, violations()[0], true);
  EXPECT_TRUE(bystander.finish());
}

TEST_F(HostileWsProto, EveryViolationIsAProtocolErrorWithACloseFrame) {
  Bystander bystander(h_);
  wait_running(bystander);
  for (const auto& v : violations()) {
    for (bool authenticated : {false, true}) {
      auto ws = authenticated ? open_session(h_.control_port(), kAttackerToken)
                              : RawWs::connect(h_.control_port());
      ASSERT_TRUE(ws && ws->is_open()) << v.name;
      expect_failed(*ws, v, authenticated);
    }
  }
  EXPECT_FALSE(log_.any("connection lost")) << "a violation was logged as a lost connection";
  EXPECT_TRUE(bystander.finish());
}

// The bad frame may arrive one byte at a time: the verdict is the same. (A close reason is only
// known to be bad with its last byte, so every byte before it goes through.)
TEST_F(HostileWsProto, ViolationSplitIntoSingleBytes) {
  auto ws = open_session(h_.control_port(), kAttackerToken);
  ASSERT_TRUE(ws);
  Violation v{};
  for (const auto& candidate : violations())
    if (candidate.log == "close reason is not UTF-8") v = candidate;
  ASSERT_FALSE(v.bytes.empty());
  for (std::size_t i = 0; i + 1 < v.bytes.size(); ++i)
    ASSERT_TRUE(ws->send_raw(v.bytes.substr(i, 1)));
  expect_failed(*ws, Violation{v.name, v.bytes.substr(v.bytes.size() - 1), v.code, v.log}, true);
}

// Masked frames, fragments and pings in between pass the server's checks as before.
TEST_F(HostileWsProto, WellFormedFramesStillWork) {
  auto ws = open_session(h_.control_port(), kAttackerToken);
  ASSERT_TRUE(ws);
  const std::string hb = bytes_of(proto::Heartbeat{7});
  ASSERT_TRUE(ws->send_raw(wire_frame(0x2, hb.substr(0, 3), false) + wire_frame(0x9, "hi") +
                           wire_frame(0x0, hb.substr(3))));
  auto ack = ws->expect<proto::HeartbeatAck>();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->timestamp, 7u);
  ASSERT_TRUE(ws->send_close(1000, "done"));
  auto close = ws->wait_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->code, 1000);
}

// The same rule on a wss listener, where the server does TLS itself in front of libwebsockets.
TEST(HostileWsProtoTls, UnmaskedFrameOverTlsIsClosedWith1002) {
  LogCapture log{LogLevel::warn};
  Harness h;
  auto c = Harness::server_config();
  c.tls_cert = TestCerts::get().leaf.cert;
  c.tls_key = TestCerts::get().leaf.key;
  h.start_server(c);
  Fd fd = tcp_connect(h.control_port());
  ASSERT_TRUE(fd);
  const std::string peer = local_of(fd.get()).to_string();
  timeval tv{5, 0};  // a blocking client with a bound on every read
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                         SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd.get());
  ASSERT_EQ(SSL_connect(ssl.get()), 1);
  const std::string request =
      "GET /tunnel/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: zlayer-tunnel.v1\r\n\r\n";
  ASSERT_EQ(SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  std::string in;
  auto read_more = [&] {
    char buf[4096];
    const int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n <= 0) return false;
    in.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  while (in.find("\r\n\r\n") == std::string::npos) ASSERT_TRUE(read_more()) << in;
  ASSERT_THAT(in, ::testing::StartsWith("HTTP/1.1 101"));
  in.erase(0, in.find("\r\n\r\n") + 4);
  const std::string frame = wire_frame(0x2, bytes_of(proto::Heartbeat{1}), true, false);
  ASSERT_EQ(SSL_write(ssl.get(), frame.data(), static_cast<int>(frame.size())),
            static_cast<int>(frame.size()));
  // Frames until the close frame (0x88, length, code).
  for (;;) {
    while (in.size() < 2 || in.size() < 2 + static_cast<std::size_t>(in[1] & 0x7f))
      ASSERT_TRUE(read_more()) << "no close frame; got " << to_hex(in);
    const std::size_t len = static_cast<std::size_t>(in[1] & 0x7f);
    if (static_cast<std::uint8_t>(in[0]) == 0x88) {
      ASSERT_GE(len, 2u);
      EXPECT_EQ(static_cast<std::uint8_t>(in[2]) << 8 | static_cast<std::uint8_t>(in[3]), 1002);
      EXPECT_EQ(in.substr(4, len - 2), "unmasked client frame");
      break;
    }
    EXPECT_NE(static_cast<std::uint8_t>(in[2]), 0x31) << "the unmasked Heartbeat was answered";
    in.erase(0, 2 + len);
  }
  EXPECT_TRUE(log.wait_for("protocol error: unmasked client frame", peer));
}

}  // namespace
}  // namespace zlt::test
