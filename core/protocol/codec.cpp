#include "core/protocol/codec.hpp"

#include <cassert>
#include <cstring>
#include <string>
#include <string_view>

#include "core/common/bytes.hpp"
#include "core/protocol/utf8.hpp"

namespace zlt::proto {
namespace {

constexpr std::size_t kUuidSize = 16;
constexpr std::size_t kMaxU8String = 0xff;
constexpr std::size_t kMaxU16String = 0xffff;

Error protocol_error(std::string text) {
  return make_error(Errc::protocol, std::move(text));
}

std::string join(std::string_view a, std::string_view b, std::string_view c = {},
                 std::string_view d = {}) {
  std::string s;
  s.reserve(a.size() + b.size() + c.size() + d.size());
  s.append(a).append(b).append(c).append(d);
  return s;
}

std::string hex_byte(std::uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[b >> 4], kHex[b & 0xf]};
}

// ---------------------------------------------------------------------------------------------
// Decoding

// Sequential reads over one payload. Every read is preceded by an explicit length check in the
// per-type decoder, because each check has its own error text in the original.
class PayloadReader {
 public:
  explicit PayloadReader(std::span<const std::uint8_t> payload) : payload_(payload) {}

  std::size_t remaining() const { return payload_.size() - pos_; }

  std::uint8_t u8() { return take(1)[0]; }
  std::uint16_t u16() { return load_be16(take(2).data()); }
  std::uint32_t u32() { return load_be32(take(4).data()); }
  std::uint64_t u64() { return load_be64(take(8).data()); }
  Uuid uuid() { return Uuid::from_bytes(take(kUuidSize).data()); }
  std::span<const std::uint8_t> take(std::size_t n) {
    assert(n <= remaining());
    auto out = payload_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::span<const std::uint8_t> rest() { return take(remaining()); }

 private:
  std::span<const std::uint8_t> payload_;
  std::size_t pos_ = 0;
};

Error too_short(std::string_view type, std::string_view what = {}) {
  return protocol_error(join(type, ": payload too short", what.empty() ? "" : " for ", what));
}

Result<std::string> utf8_field(std::span<const std::uint8_t> raw, std::string_view type,
                               std::string_view field) {
  if (auto bad = validate_utf8(raw)) {
    return protocol_error(join(type, ": invalid ", field, " UTF-8: ") + bad->describe());
  }
  return std::string(reinterpret_cast<const char*>(raw.data()), raw.size());
}

Result<ServiceProtocol> protocol_field(std::uint8_t b) {
  if (auto p = service_protocol_from_byte(b)) return *p;
  return protocol_error("unknown protocol type: " + std::to_string(b));
}

// The layout shared by AuthFail, RegisterFail and Disconnect: reason_len:u16, reason.
Result<std::string> decode_reason_payload(PayloadReader& r, std::string_view type) {
  if (r.remaining() < 2) return too_short(type, "reason length");
  const std::size_t len = r.u16();
  if (r.remaining() < len) return too_short(type, "reason");
  return utf8_field(r.take(len), type, "reason");
}

// v2 trailers are optional: a shorter remainder means a v1 peer, not an error.
std::optional<V2Trailer> decode_v2_trailer(PayloadReader& r) {
  if (r.remaining() < 5) return std::nullopt;
  V2Trailer t;
  t.proto_version = r.u8();
  t.features = r.u32();
  return t;
}

Result<Message> decode_auth(PayloadReader r) {
  if (r.remaining() < 2) return too_short("Auth", "token length");
  const std::size_t token_len = r.u16();
  if (r.remaining() < token_len + kUuidSize) return too_short("Auth");
  auto token = utf8_field(r.take(token_len), "Auth", "token");
  if (!token) return token.take_error();
  Auth m{std::move(*token), r.uuid(), std::nullopt};
  m.v2 = decode_v2_trailer(r);
  return Message{std::move(m)};
}

Result<Message> decode_auth_ok(PayloadReader r) {
  if (r.remaining() < kUuidSize) return too_short("AuthOk");
  AuthOk m{r.uuid(), std::nullopt};
  m.v2 = decode_v2_trailer(r);
  return Message{m};
}

Result<Message> decode_register(PayloadReader r) {
  if (r.remaining() < 1) return too_short("Register", "name length");
  const std::size_t name_len = r.u8();
  if (r.remaining() < name_len + 5) return too_short("Register");
  auto name = utf8_field(r.take(name_len), "Register", "name");
  if (!name) return name.take_error();
  auto protocol = protocol_field(r.u8());
  if (!protocol) return protocol.take_error();
  Register m;
  m.name = std::move(*name);
  m.protocol = *protocol;
  m.local_port = r.u16();
  m.remote_port = r.u16();
  if (r.remaining() >= 1) m.flags = r.u8();
  return Message{std::move(m)};
}

Result<Message> decode_register_ok(PayloadReader r) {
  if (r.remaining() < kUuidSize) return too_short("RegisterOk");
  RegisterOk m{r.uuid(), std::nullopt};
  if (r.remaining() >= 2) m.assigned_port = r.u16();
  return Message{m};
}

Result<Message> decode_connect(PayloadReader r) {
  if (r.remaining() < 2 * kUuidSize + 2) return too_short("Connect");
  Connect m;
  m.service_id = r.uuid();
  m.connection_id = r.uuid();
  const std::size_t addr_len = r.u16();
  if (r.remaining() < addr_len) return too_short("Connect", "client_addr");
  auto addr = utf8_field(r.take(addr_len), "Connect", "client_addr");
  if (!addr) return addr.take_error();
  m.client_addr = std::move(*addr);
  return Message{std::move(m)};
}

// ConnectFail and Close: connection_id:uuid, reason_len:u16, reason.
template <class M>
Result<Message> decode_id_and_reason(PayloadReader r, std::string_view type) {
  if (r.remaining() < kUuidSize + 2) return too_short(type);
  M m;
  m.connection_id = r.uuid();
  const std::size_t len = r.u16();
  if (r.remaining() < len) return too_short(type, "reason");
  auto reason = utf8_field(r.take(len), type, "reason");
  if (!reason) return reason.take_error();
  m.reason = std::move(*reason);
  return Message{std::move(m)};
}

Result<Message> decode_open(PayloadReader r) {
  if (r.remaining() < kUuidSize + 3) return too_short("Open");
  Open m;
  m.connection_id = r.uuid();
  const std::uint8_t protocol_byte = r.u8();
  const std::size_t target_len = r.u16();
  if (r.remaining() < target_len) return too_short("Open", "target");
  auto protocol = protocol_field(protocol_byte);
  if (!protocol) return protocol.take_error();
  m.protocol = *protocol;
  auto target = utf8_field(r.take(target_len), "Open", "target");
  if (!target) return target.take_error();
  m.target = std::move(*target);
  return Message{std::move(m)};
}

template <class M>
Result<Message> decode_timestamp(PayloadReader r, std::string_view type) {
  if (r.remaining() < 8) return too_short(type);
  return Message{M{r.u64()}};
}

// ConnectAck, Unregister and Eof: a single uuid.
template <class M>
Result<Message> decode_id_only(PayloadReader r, std::string_view type) {
  if (r.remaining() < kUuidSize) return too_short(type);
  return Message{M{r.uuid()}};
}

Result<Message> decode_data(PayloadReader r) {
  if (r.remaining() < kUuidSize + 1) return too_short("Data");
  Data m;
  m.connection_id = r.uuid();
  m.bytes = r.rest();
  return Message{m};
}

Result<Message> decode_datagram(PayloadReader r) {
  if (r.remaining() < kUuidSize) return too_short("Datagram");
  Datagram m;
  m.connection_id = r.uuid();
  m.bytes = r.rest();
  return Message{m};
}

Result<Message> decode_window_update(PayloadReader r) {
  if (r.remaining() < kUuidSize + 4) return too_short("WindowUpdate");
  WindowUpdate m;
  m.connection_id = r.uuid();
  m.increment = r.u32();
  if (m.increment == 0) return protocol_error("WindowUpdate: increment must be > 0");
  return Message{m};
}

Result<Message> decode_payload(MsgType type, std::span<const std::uint8_t> payload) {
  PayloadReader r(payload);
  switch (type) {
    case MsgType::Auth:
      return decode_auth(r);
    case MsgType::AuthOk:
      return decode_auth_ok(r);
    case MsgType::Register:
      return decode_register(r);
    case MsgType::RegisterOk:
      return decode_register_ok(r);
    case MsgType::Connect:
      return decode_connect(r);
    case MsgType::ConnectAck:
      return decode_id_only<ConnectAck>(r, "ConnectAck");
    case MsgType::ConnectFail:
      return decode_id_and_reason<ConnectFail>(r, "ConnectFail");
    case MsgType::Open:
      return decode_open(r);
    case MsgType::Heartbeat:
      return decode_timestamp<Heartbeat>(r, "Heartbeat");
    case MsgType::HeartbeatAck:
      return decode_timestamp<HeartbeatAck>(r, "HeartbeatAck");
    case MsgType::Unregister:
      return decode_id_only<Unregister>(r, "Unregister");
    case MsgType::Data:
      return decode_data(r);
    case MsgType::Eof:
      return decode_id_only<Eof>(r, "Eof");
    case MsgType::Close:
      return decode_id_and_reason<Close>(r, "Close");
    case MsgType::WindowUpdate:
      return decode_window_update(r);
    case MsgType::Datagram:
      return decode_datagram(r);
    case MsgType::AuthFail:
    case MsgType::RegisterFail:
    case MsgType::Disconnect: {
      auto reason = decode_reason_payload(r, msg_type_name(type));
      if (!reason) return reason.take_error();
      if (type == MsgType::AuthFail) return Message{AuthFail{std::move(*reason)}};
      if (type == MsgType::RegisterFail) return Message{RegisterFail{std::move(*reason)}};
      return Message{Disconnect{std::move(*reason)}};
    }
  }
  return protocol_error("unknown message type: 0x" + hex_byte(static_cast<std::uint8_t>(type)));
}

// ---------------------------------------------------------------------------------------------
// Encoding: every message is sized and checked first, then written in place, so a refused
// message leaves `out` untouched.

class Writer {
 public:
  explicit Writer(std::uint8_t* dst) : p_(dst) {}

  void u8(std::uint8_t v) { *p_++ = v; }
  void u16(std::uint16_t v) {
    store_be16(p_, v);
    p_ += 2;
  }
  void u32(std::uint32_t v) {
    store_be32(p_, v);
    p_ += 4;
  }
  void u64(std::uint64_t v) {
    store_be64(p_, v);
    p_ += 8;
  }
  void uuid(const Uuid& u) { raw(u.bytes); }
  void raw(std::span<const std::uint8_t> bytes) {
    if (!bytes.empty()) std::memcpy(p_, bytes.data(), bytes.size());
    p_ += bytes.size();
  }
  // Callers have checked the length against the prefix width.
  void u8_string(std::string_view s) {
    u8(static_cast<std::uint8_t>(s.size()));
    text(s);
  }
  void u16_string(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    text(s);
  }
  void trailer(const std::optional<V2Trailer>& t) {
    if (!t) return;
    u8(t->proto_version);
    u32(t->features);
  }

  const std::uint8_t* position() const { return p_; }

 private:
  void text(std::string_view s) {
    raw({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  }
  std::uint8_t* p_;
};

Error too_long(std::string_view type, std::string_view field, std::size_t n, std::size_t max) {
  return protocol_error(join(type, ": ", field, " too long: ") + std::to_string(n) +
                        " bytes, max " + std::to_string(max));
}

Status check_length(std::size_t n, std::size_t max, std::string_view type, std::string_view field) {
  if (n > max) return too_long(type, field, n, max);
  return {};
}

constexpr std::size_t trailer_size(const std::optional<V2Trailer>& t) {
  return t ? 5 : 0;
}

// payload_size(m) validates m and returns its payload length; write_payload(m, w) writes it.

Result<std::size_t> payload_size(const Auth& m) {
  ZLT_TRY(check_length(m.token.size(), kMaxU16String, "Auth", "token"));
  return 2 + m.token.size() + kUuidSize + trailer_size(m.v2);
}
void write_payload(const Auth& m, Writer& w) {
  w.u16_string(m.token);
  w.uuid(m.client_id);
  w.trailer(m.v2);
}

Result<std::size_t> payload_size(const AuthOk& m) {
  return kUuidSize + trailer_size(m.v2);
}
void write_payload(const AuthOk& m, Writer& w) {
  w.uuid(m.tunnel_id);
  w.trailer(m.v2);
}

Result<std::size_t> payload_size(const Register& m) {
  ZLT_TRY(check_length(m.name.size(), kMaxU8String, "Register", "name"));
  return 1 + m.name.size() + 5 + (m.flags ? 1 : 0);
}
void write_payload(const Register& m, Writer& w) {
  w.u8_string(m.name);
  w.u8(static_cast<std::uint8_t>(m.protocol));
  w.u16(m.local_port);
  w.u16(m.remote_port);
  if (m.flags) w.u8(*m.flags);
}

Result<std::size_t> payload_size(const RegisterOk& m) {
  return kUuidSize + (m.assigned_port ? 2 : 0);
}
void write_payload(const RegisterOk& m, Writer& w) {
  w.uuid(m.service_id);
  if (m.assigned_port) w.u16(*m.assigned_port);
}

Result<std::size_t> payload_size(const Connect& m) {
  ZLT_TRY(check_length(m.client_addr.size(), kMaxU16String, "Connect", "client_addr"));
  return 2 * kUuidSize + 2 + m.client_addr.size();
}
void write_payload(const Connect& m, Writer& w) {
  w.uuid(m.service_id);
  w.uuid(m.connection_id);
  w.u16_string(m.client_addr);
}

Result<std::size_t> payload_size(const Open& m) {
  ZLT_TRY(check_length(m.target.size(), kMaxU16String, "Open", "target"));
  return kUuidSize + 1 + 2 + m.target.size();
}
void write_payload(const Open& m, Writer& w) {
  w.uuid(m.connection_id);
  w.u8(static_cast<std::uint8_t>(m.protocol));
  w.u16_string(m.target);
}

// AuthFail, RegisterFail, Disconnect.
template <class M>
Result<std::size_t> reason_only_size(const M& m, std::string_view type) {
  ZLT_TRY(check_length(m.reason.size(), kMaxU16String, type, "reason"));
  return 2 + m.reason.size();
}
Result<std::size_t> payload_size(const AuthFail& m) {
  return reason_only_size(m, "AuthFail");
}
Result<std::size_t> payload_size(const RegisterFail& m) {
  return reason_only_size(m, "RegisterFail");
}
Result<std::size_t> payload_size(const Disconnect& m) {
  return reason_only_size(m, "Disconnect");
}
void write_payload(const AuthFail& m, Writer& w) {
  w.u16_string(m.reason);
}
void write_payload(const RegisterFail& m, Writer& w) {
  w.u16_string(m.reason);
}
void write_payload(const Disconnect& m, Writer& w) {
  w.u16_string(m.reason);
}

// ConnectFail, Close.
template <class M>
Result<std::size_t> id_and_reason_size(const M& m, std::string_view type) {
  ZLT_TRY(check_length(m.reason.size(), kMaxU16String, type, "reason"));
  return kUuidSize + 2 + m.reason.size();
}
Result<std::size_t> payload_size(const ConnectFail& m) {
  return id_and_reason_size(m, "ConnectFail");
}
Result<std::size_t> payload_size(const Close& m) {
  return id_and_reason_size(m, "Close");
}
void write_payload(const ConnectFail& m, Writer& w) {
  w.uuid(m.connection_id);
  w.u16_string(m.reason);
}
void write_payload(const Close& m, Writer& w) {
  w.uuid(m.connection_id);
  w.u16_string(m.reason);
}

Result<std::size_t> payload_size(const Heartbeat&) {
  return 8;
}
Result<std::size_t> payload_size(const HeartbeatAck&) {
  return 8;
}
void write_payload(const Heartbeat& m, Writer& w) {
  w.u64(m.timestamp);
}
void write_payload(const HeartbeatAck& m, Writer& w) {
  w.u64(m.timestamp);
}

Result<std::size_t> payload_size(const ConnectAck&) {
  return kUuidSize;
}
Result<std::size_t> payload_size(const Unregister&) {
  return kUuidSize;
}
Result<std::size_t> payload_size(const Eof&) {
  return kUuidSize;
}
void write_payload(const ConnectAck& m, Writer& w) {
  w.uuid(m.connection_id);
}
void write_payload(const Unregister& m, Writer& w) {
  w.uuid(m.service_id);
}
void write_payload(const Eof& m, Writer& w) {
  w.uuid(m.connection_id);
}

Result<std::size_t> payload_size(const Data& m) {
  if (m.bytes.empty()) return protocol_error("Data: bytes empty, need at least 1");
  ZLT_TRY(check_length(m.bytes.size(), kMaxDataChunk, "Data", "bytes"));
  return kUuidSize + m.bytes.size();
}
Result<std::size_t> payload_size(const Datagram& m) {
  ZLT_TRY(check_length(m.bytes.size(), kMaxDataChunk, "Datagram", "bytes"));
  return kUuidSize + m.bytes.size();
}
void write_payload(const Data& m, Writer& w) {
  w.uuid(m.connection_id);
  w.raw(m.bytes);
}
void write_payload(const Datagram& m, Writer& w) {
  w.uuid(m.connection_id);
  w.raw(m.bytes);
}

Result<std::size_t> payload_size(const WindowUpdate& m) {
  if (m.increment == 0) return protocol_error("WindowUpdate: increment must be > 0");
  return kUuidSize + 4;
}
void write_payload(const WindowUpdate& m, Writer& w) {
  w.uuid(m.connection_id);
  w.u32(m.increment);
}

template <class M>
Status encode_message(MsgType type, const M& m, std::vector<std::uint8_t>& out) {
  auto payload_len = payload_size(m);
  if (!payload_len) return payload_len.take_error();
  const std::size_t total = kHeaderSize + *payload_len;
  if (total > kMaxMessageSize) {
    return protocol_error("message too large: " + std::to_string(total) + " bytes, max " +
                          std::to_string(kMaxMessageSize));
  }
  const std::size_t start = out.size();
  out.resize(start + total);
  Writer w(out.data() + start);
  w.u8(static_cast<std::uint8_t>(type));
  w.u32(static_cast<std::uint32_t>(*payload_len));
  write_payload(m, w);
  assert(w.position() == out.data() + out.size());
  return {};
}

}  // namespace

Result<Decoded> decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) {
    return protocol_error("message too short: " + std::to_string(bytes.size()) +
                          " bytes, need at least " + std::to_string(kHeaderSize));
  }
  const auto type = msg_type_from_byte(bytes[0]);
  if (!type) return protocol_error("unknown message type: 0x" + hex_byte(bytes[0]));
  const std::size_t payload_len = load_be32(bytes.data() + 1);
  if (payload_len > kMaxPayload) {
    return protocol_error("payload too large: " + std::to_string(payload_len) + " bytes, max " +
                          std::to_string(kMaxPayload));
  }
  const std::size_t total = kHeaderSize + payload_len;
  if (bytes.size() < total) {
    return protocol_error("incomplete message: have " + std::to_string(bytes.size()) +
                          " bytes, need " + std::to_string(total));
  }
  auto message = decode_payload(*type, bytes.subspan(kHeaderSize, payload_len));
  if (!message) return message.take_error();
  return Decoded{std::move(*message), total};
}

Status encode_to(const Message& m, std::vector<std::uint8_t>& out) {
  const MsgType type = type_of(m);
  return std::visit([&](const auto& alt) { return encode_message(type, alt, out); }, m);
}

Result<std::vector<std::uint8_t>> encode(const Message& m) {
  std::vector<std::uint8_t> out;
  ZLT_TRY(encode_to(m, out));
  return out;
}

void write_stream_header(std::uint8_t* dst, MsgType type, const Uuid& connection_id,
                         std::size_t body_len) {
  assert(type == MsgType::Data || type == MsgType::Eof || type == MsgType::Close ||
         type == MsgType::WindowUpdate || type == MsgType::Datagram ||
         type == MsgType::ConnectAck || type == MsgType::ConnectFail || type == MsgType::Open);
  assert(body_len <= kMaxDataChunk);
  assert(type != MsgType::Data || body_len >= 1);
  dst[0] = static_cast<std::uint8_t>(type);
  store_be32(dst + 1, static_cast<std::uint32_t>(kUuidSize + body_len));
  std::memcpy(dst + kHeaderSize, connection_id.bytes.data(), kUuidSize);
}

}  // namespace zlt::proto
