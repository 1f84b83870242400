// A hand-written, blocking WebSocket peer for control-plane tests. It sends exactly the bytes a
// test asks for (well-formed or not) and reports exactly what arrives, without going through
// the transport code under test. It plays either end: a client that upgrades to a server, or a
// server that accepts one agent on a listening socket — the test thread drives it while the
// code under test runs on its runtime thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/common/uuid.hpp"
#include "core/protocol/message.hpp"
#include "support/net.hpp"

namespace zlt::test {

using namespace std::chrono_literals;

// Bytes from hex text; blanks are ignored ("01 00 00 00 15" -> 5 bytes).
std::string from_hex(std::string_view hex);
std::string to_hex(std::string_view bytes);
std::string bytes_of(const proto::Message& m);  // the codec's encoding of m

// 00112233-4455-6677-8899-aabbccddeeff and ffeeddcc-bbaa-9988-7766-554433221100 (docs/PROTOCOL.md).
Uuid test_u1();
Uuid test_u2();

class RawWs {
 public:
  enum class Role { client, server };
  struct Frame {
    std::uint8_t opcode = 0;
    bool fin = true;
    std::string payload;
  };
  struct CloseFrame {
    std::uint16_t code = 0;  // 1005 when the frame carried no code
    std::string reason;
  };

  // TCP connect to 127.0.0.1:port and an upgrade request for `path`. http_status() is 101 when
  // the WebSocket is open; anything else leaves the HTTP response in http_response().
  // receive_buffer: as for tcp_connect.
  static std::unique_ptr<RawWs> connect(std::uint16_t port, const std::string& path = "/tunnel/v1",
                                        int receive_buffer = 0);
  // The same from another loopback address (127.0.0.x). Null if the TCP connect fails.
  static std::unique_ptr<RawWs> connect_from(const std::string& source, std::uint16_t port,
                                             const std::string& path = "/tunnel/v1");
  // Accepts one connection on `listener` and answers its upgrade with 101 (null on timeout).
  static std::unique_ptr<RawWs> accept(int listener, std::chrono::milliseconds timeout = 10s);

  ~RawWs();
  RawWs(const RawWs&) = delete;
  RawWs& operator=(const RawWs&) = delete;

  int fd() const { return fd_.get(); }
  int http_status() const { return status_; }
  const std::string& http_response() const { return response_; }
  const std::string& request_head() const { return request_; }  // server role
  bool is_open() const { return status_ == 101; }

  // ---- sending (false when the socket is gone) ----
  bool send_frame(std::uint8_t opcode, std::string_view payload, bool fin = true);
  bool send_binary(std::string_view bytes) { return send_frame(0x2, bytes); }
  bool send_text(std::string_view text) { return send_frame(0x1, text); }
  bool send(const proto::Message& m) { return send_binary(bytes_of(m)); }
  bool send_close(std::uint16_t code, std::string_view reason = {});
  // Raw bytes on the socket, no framing.
  bool send_raw(std::string_view bytes);

  // ---- receiving ----
  // The next frame of any kind; pings are answered with a pong and not returned. nullopt on
  // timeout, EOF or a malformed frame (see eof()).
  std::optional<Frame> next_frame(std::chrono::milliseconds timeout = 5s);
  // The next binary message (raw bytes). Heartbeats (0x30) are skipped, and answered with a
  // HeartbeatAck when ack_heartbeats is set. A close frame ends the wait (nullopt; see close()).
  std::optional<std::string> next_message(std::chrono::milliseconds timeout = 5s);
  // The next binary message decoded as T; fails the test (nullopt) if it is something else.
  template <class T>
  std::optional<T> expect(std::chrono::milliseconds timeout = 5s);
  // Reads until the peer's close frame (binary messages on the way are kept in `skipped`).
  std::optional<CloseFrame> wait_close(std::chrono::milliseconds timeout = 5s);
  // Reads until the TCP connection ends (EOF or reset).
  bool wait_eof(std::chrono::milliseconds timeout = 5s);
  const std::optional<CloseFrame>& close_frame() const { return close_; }
  bool eof() const { return eof_; }

  // ---- the protocol's opening ----
  // Sends Auth (v2 trailer with `features` unless v1) and returns the answer's raw bytes.
  std::optional<std::string> authenticate(const std::string& token, const Uuid& client_id,
                                          bool v2 = true,
                                          std::uint32_t features = proto::feature::kAll);

  bool skip_heartbeats = true;
  bool ack_heartbeats = false;
  std::vector<std::string> skipped;       // messages passed over by wait_close
  std::vector<std::uint64_t> heartbeats;  // timestamps of the Heartbeats skipped so far

 private:
  RawWs(Fd fd, Role role) : fd_(std::move(fd)), role_(role) {}
  static std::unique_ptr<RawWs> upgrade(Fd fd, std::uint16_t port, const std::string& path);
  bool fill(std::chrono::steady_clock::time_point deadline);
  std::optional<std::string> read_head(std::chrono::steady_clock::time_point deadline);

  Fd fd_;
  Role role_;
  int status_ = 0;
  std::string response_;
  std::string request_;
  std::string in_;
  bool eof_ = false;
  std::optional<CloseFrame> close_;
};

// Decodes `bytes` as one message of type T (nullopt, with a test failure, otherwise). T must
// not borrow (not Data or Datagram).
std::optional<proto::Message> decode_message(const std::string& bytes);
template <class T>
std::optional<T> decode_as(const std::string& bytes) {
  auto m = decode_message(bytes);
  if (!m) return std::nullopt;
  if (auto* t = std::get_if<T>(&*m)) return *t;
  ADD_FAILURE() << "unexpected " << proto::msg_type_name(proto::type_of(*m)) << ": "
                << to_hex(bytes);
  return std::nullopt;
}

// Connects to 127.0.0.1:port and authenticates (v2 unless `v2` is false) with `client_id` (a
// fresh one if null). Null, with a test failure, unless the answer is AuthOk; `ok` receives it.
// The session acknowledges the server's heartbeats while it reads.
std::unique_ptr<RawWs> open_session(std::uint16_t port, const std::string& token, bool v2 = true,
                                    proto::AuthOk* ok = nullptr, const Uuid* client_id = nullptr);

template <class T>
std::optional<T> RawWs::expect(std::chrono::milliseconds timeout) {
  auto m = next_message(timeout);
  if (!m) {
    std::string why = close_ ? "close " + std::to_string(close_->code) + " " + close_->reason
                             : (eof_ ? "EOF" : "timeout");
    ADD_FAILURE() << "expected a message, got " << why;
    return std::nullopt;
  }
  return decode_as<T>(*m);
}

}  // namespace zlt::test
