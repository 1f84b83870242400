#include "support/raw_ws.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/common/ascii.hpp"
#include "core/crypto/crypto.hpp"
#include "core/protocol/codec.hpp"

namespace zlt::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kClientKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3
constexpr const char* kClientAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// The value of header `name` in an HTTP head (case-insensitive name), empty if absent.
std::string header_value(const std::string& head, const std::string& name) {
  const std::string want = to_ascii_lower(name) + ":";
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    std::size_t end = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, end == std::string::npos ? end : end - pos - 2);
    if (to_ascii_lower(line.substr(0, want.size())) == want) {
      std::string v = line.substr(want.size());
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
      return v;
    }
    pos = end;
  }
  return {};
}

std::string accept_for(const std::string& key) {
  std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[64];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

int millis_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

std::string from_hex(std::string_view hex) {
  std::string out;
  int nibble = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<char>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out.push_back(' ');
    auto b = static_cast<unsigned char>(bytes[i]);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string bytes_of(const proto::Message& m) {
  auto encoded = proto::encode(m);
  if (!encoded) {
    ADD_FAILURE() << "cannot encode: " << encoded.error().message;
    return {};
  }
  return std::string(encoded->begin(), encoded->end());
}

std::optional<proto::Message> decode_message(const std::string& bytes) {
  auto d = proto::decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  if (!d) {
    ADD_FAILURE() << "undecodable message (" << d.error().message << "): " << to_hex(bytes);
    return std::nullopt;
  }
  return d->message;
}

Uuid test_u1() {
  return *Uuid::parse("00112233-4455-6677-8899-aabbccddeeff");
}
Uuid test_u2() {
  return *Uuid::parse("ffeeddcc-bbaa-9988-7766-554433221100");
}

// ---- RawWs ----

RawWs::~RawWs() = default;

std::unique_ptr<RawWs> RawWs::connect(std::uint16_t port, const std::string& path,
                                      int receive_buffer) {
  return upgrade(tcp_connect(port, false, receive_buffer), port, path);
}

std::unique_ptr<RawWs> RawWs::connect_from(const std::string& source, std::uint16_t port,
                                           const std::string& path) {
  return upgrade(tcp_connect_from(source, port), port, path);
}

std::unique_ptr<RawWs> RawWs::upgrade(Fd fd, std::uint16_t port, const std::string& path) {
  if (!fd) return nullptr;
  std::unique_ptr<RawWs> ws(new RawWs(std::move(fd), Role::client));
  std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + kClientKey +
      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (!ws->send_raw(req)) return ws;
  auto head = ws->read_head(Clock::now() + 5s);
  if (!head) return ws;
  ws->response_ = *head;
  if (head->size() >= 12 && head->starts_with("HTTP/1."))
    ws->status_ = std::stoi(head->substr(9, 3));
  if (ws->status_ == 101) {
    if (header_value(*head, "Sec-WebSocket-Accept") != kClientAccept) {
      ADD_FAILURE() << "bad Sec-WebSocket-Accept in:\n" << *head;
      ws->status_ = -1;
    }
    return ws;
  }
  // Any body the error response announces.
  std::string length = header_value(*head, "Content-Length");
  std::size_t want = length.empty() ? 0 : std::stoul(length);
  auto deadline = Clock::now() + 5s;
  while (ws->in_.size() < want && ws->fill(deadline)) {
  }
  ws->response_ += ws->in_.substr(0, want);
  ws->in_.erase(0, std::min(want, ws->in_.size()));
  return ws;
}

std::unique_ptr<RawWs> RawWs::accept(int listener, std::chrono::milliseconds timeout) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return nullptr;
  Fd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return nullptr;
  std::unique_ptr<RawWs> ws(new RawWs(std::move(fd), Role::server));
  auto head = ws->read_head(Clock::now() + timeout);
  if (!head) return nullptr;
  ws->request_ = *head;
  std::string key = header_value(*head, "Sec-WebSocket-Key");
  std::string resp =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
      accept_for(key) + "\r\n\r\n";
  if (!ws->send_raw(resp)) return nullptr;
  ws->status_ = 101;
  return ws;
}

bool RawWs::send_raw(std::string_view bytes) {
  return send_all(fd_.get(), bytes.data(), bytes.size());
}

bool RawWs::send_frame(std::uint8_t opcode, std::string_view payload, bool fin) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const std::uint8_t mask_bit = role_ == Role::client ? 0x80 : 0;
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  std::string body(payload);
  if (role_ == Role::client) {
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (std::size_t i = 0; i < body.size(); ++i)
      body[i] = static_cast<char>(body[i] ^ mask[i % 4]);
  }
  f += body;
  return send_raw(f);
}

bool RawWs::send_close(std::uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return send_frame(0x8, p);
}

bool RawWs::fill(Clock::time_point deadline) {
  if (eof_) return false;
  for (;;) {
    pollfd p{fd_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, millis_left(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;  // timeout
    char buf[65536];
    ssize_t r = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r <= 0) {
      eof_ = true;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(r));
    return true;
  }
}

std::optional<std::string> RawWs::read_head(Clock::time_point deadline) {
  for (;;) {
    auto end = in_.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = in_.substr(0, end + 4);
      in_.erase(0, end + 4);
      return head;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<RawWs::Frame> RawWs::next_frame(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // Parse one frame from what is buffered.
    if (in_.size() >= 2) {
      auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(in_[i]); };
      const bool masked = (b(1) & 0x80) != 0;
      std::uint64_t len = b(1) & 0x7f;
      std::size_t pos = 2;
      bool complete = true;
      if (len == 126) {
        complete = in_.size() >= 4;
        if (complete) len = std::uint64_t{b(2)} << 8 | b(3);
        pos = 4;
      } else if (len == 127) {
        complete = in_.size() >= 10;
        if (complete) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = len << 8 | b(2 + static_cast<std::size_t>(i));
        }
        pos = 10;
      }
      const std::size_t mask_pos = pos;
      if (masked) pos += 4;
      if (complete && in_.size() >= pos + len) {
        Frame f;
        f.fin = (b(0) & 0x80) != 0;
        f.opcode = b(0) & 0x0f;
        f.payload = in_.substr(pos, static_cast<std::size_t>(len));
        if (masked)
          for (std::size_t i = 0; i < f.payload.size(); ++i)
            f.payload[i] = static_cast<char>(f.payload[i] ^ in_[mask_pos + i % 4]);
        in_.erase(0, pos + static_cast<std::size_t>(len));
        if (f.opcode == 0x9) {
          send_frame(0xA, f.payload);
          continue;
        }
        return f;
      }
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> RawWs::next_message(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = 0ms;
    auto f = next_frame(left);
    if (!f) return std::nullopt;
    if (f->opcode == 0x8) {
      CloseFrame c;
      if (f->payload.size() >= 2) {
        c.code = static_cast<std::uint16_t>(static_cast<std::uint8_t>(f->payload[0]) << 8 |
                                            static_cast<std::uint8_t>(f->payload[1]));
        c.reason = f->payload.substr(2);
      } else {
        c.code = 1005;
      }
      close_ = c;
      // Answer as a well-behaved peer does (RFC 6455 §5.5.1), with the same code.
      if (c.code == 1005) {
        send_frame(0x8, {});
      } else {
        send_close(c.code);
      }
      return std::nullopt;
    }
    if (f->opcode != 0x2) continue;  // text and pongs are not protocol messages
    if (skip_heartbeats && f->payload.size() == 13 && f->payload[0] == 0x30) {
      std::uint64_t ts = 0;
      for (int i = 0; i < 8; ++i)
        ts = ts << 8 | static_cast<std::uint8_t>(f->payload[5 + static_cast<std::size_t>(i)]);
      heartbeats.push_back(ts);
      if (ack_heartbeats) send(proto::HeartbeatAck{ts});
      continue;
    }
    return f->payload;
  }
}

std::optional<RawWs::CloseFrame> RawWs::wait_close(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!close_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto m = next_message(left);
    if (m) {
      skipped.push_back(*m);
    } else if (!close_) {
      break;
    }
  }
  return close_;
}

bool RawWs::wait_eof(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!eof_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    auto f = next_frame(left);
    if (!f) {
      if (!eof_) return false;
      break;
    }
    if (f->opcode == 0x8 && !close_) {
      // Answer the close, or the peer waits for it before hanging up.
      close_ = CloseFrame{
          f->payload.size() >= 2
              ? static_cast<std::uint16_t>(static_cast<std::uint8_t>(f->payload[0]) << 8 |
                                           static_cast<std::uint8_t>(f->payload[1]))
              : std::uint16_t{1005},
          f->payload.size() >= 2 ? f->payload.substr(2) : std::string()};
      send_frame(0x8, f->payload.substr(0, std::min<std::size_t>(2, f->payload.size())));
    }
  }
  return true;
}

std::optional<std::string> RawWs::authenticate(const std::string& token, const Uuid& client_id,
                                               bool v2, std::uint32_t features) {
  proto::Auth auth{token, client_id, std::nullopt};
  if (v2) auth.v2 = proto::V2Trailer{proto::kProtoVersion2, features};
  if (!send(auth)) return std::nullopt;
  return next_message();
}

std::unique_ptr<RawWs> open_session(std::uint16_t port, const std::string& token, bool v2,
                                    proto::AuthOk* ok, const Uuid* client_id) {
  auto ws = RawWs::connect(port);
  if (!ws || !ws->is_open()) {
    ADD_FAILURE() << "no WebSocket to port " << port
                  << (ws ? ": " + ws->http_response() : std::string());
    return nullptr;
  }
  const Uuid id = client_id != nullptr ? *client_id : crypto::uuid_v4();
  auto answer = ws->authenticate(token, id, v2);
  if (!answer) {
    ADD_FAILURE() << "no answer to Auth";
    return nullptr;
  }
  auto auth_ok = decode_as<proto::AuthOk>(*answer);
  if (!auth_ok) return nullptr;
  ws->ack_heartbeats = true;
  if (ok != nullptr) *ok = *auth_ok;
  return ws;
}

}  // namespace zlt::test
