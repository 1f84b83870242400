// The messages of the wire protocol (docs/PROTOCOL.md), as typed values. No I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "core/common/uuid.hpp"

namespace zlt::proto {

inline constexpr std::size_t kHeaderSize = 5;
inline constexpr std::size_t kMaxMessageSize = 65536;
inline constexpr std::size_t kMaxPayload = kMaxMessageSize - kHeaderSize;  // 65531
inline constexpr std::size_t kMaxDataChunk = kMaxPayload - 16;             // 65515
// type + length + connection_id: the fixed prefix of Data, Datagram, Eof, ...
inline constexpr std::size_t kStreamHeaderSize = kHeaderSize + 16;         // 21
inline constexpr std::uint32_t kInitialWindow = 262144;
// The version of the framing. Never sent (see kProtoVersion2 for negotiation).
inline constexpr std::uint8_t kProtocolVersion = 1;
// The proto_version carried in v2 trailers.
inline constexpr std::uint8_t kProtoVersion2 = 2;

enum class MsgType : std::uint8_t {
  Auth = 0x01,
  AuthOk = 0x02,
  AuthFail = 0x03,
  Register = 0x10,
  RegisterOk = 0x11,
  RegisterFail = 0x12,
  Connect = 0x20,
  ConnectAck = 0x21,
  ConnectFail = 0x22,
  Open = 0x23,
  Heartbeat = 0x30,
  HeartbeatAck = 0x31,
  Unregister = 0x40,
  Disconnect = 0x41,
  Data = 0x50,
  Eof = 0x51,
  Close = 0x52,
  WindowUpdate = 0x53,
  Datagram = 0x54,
};

// The MsgType for a type byte, or nullopt for an unknown code.
std::optional<MsgType> msg_type_from_byte(std::uint8_t b);
// "Auth", "AuthOk", ... (the names used in docs/PROTOCOL.md and in log lines).
std::string_view msg_type_name(MsgType t);
// True for the types that only exist in version 2 (Open, Data, Eof, Close, WindowUpdate, Datagram).
bool is_v2_only(MsgType t);

enum class ServiceProtocol : std::uint8_t { tcp = 0, udp = 1 };
std::optional<ServiceProtocol> service_protocol_from_byte(std::uint8_t b);
std::string_view service_protocol_name(ServiceProtocol p);  // "tcp" / "udp"

// Feature bits of the v2 Auth/AuthOk trailer (docs/PROTOCOL.md §4.1).
namespace feature {
inline constexpr std::uint32_t kStreams = 0x0001;
inline constexpr std::uint32_t kDatagrams = 0x0002;
inline constexpr std::uint32_t kOpen = 0x0004;
inline constexpr std::uint32_t kClientHeartbeat = 0x0008;
inline constexpr std::uint32_t kServiceRouting = 0x0010;
inline constexpr std::uint32_t kAll = 0x001f;
}  // namespace feature

// Register flags (docs/PROTOCOL.md §4.6), carried only in SERVICE_ROUTING sessions.
inline constexpr std::uint8_t kRegisterInternal = 0x01;

struct V2Trailer {
  std::uint8_t proto_version = kProtoVersion2;
  std::uint32_t features = 0;
  friend bool operator==(const V2Trailer&, const V2Trailer&) = default;
};

struct Auth {
  std::string token;
  Uuid client_id;
  std::optional<V2Trailer> v2;  // nullopt: a v1 peer ("no trailer")
  friend bool operator==(const Auth&, const Auth&) = default;
};
struct AuthOk {
  Uuid tunnel_id;
  std::optional<V2Trailer> v2;
  friend bool operator==(const AuthOk&, const AuthOk&) = default;
};
struct AuthFail {
  std::string reason;
  friend bool operator==(const AuthFail&, const AuthFail&) = default;
};
struct Register {
  std::string name;
  ServiceProtocol protocol = ServiceProtocol::tcp;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;  // 0 = any
  std::optional<std::uint8_t> flags;  // the SERVICE_ROUTING trailer
  friend bool operator==(const Register&, const Register&) = default;
};
struct RegisterOk {
  Uuid service_id;
  std::optional<std::uint16_t> assigned_port;  // the v2 trailer
  friend bool operator==(const RegisterOk&, const RegisterOk&) = default;
};
struct RegisterFail {
  std::string reason;
  friend bool operator==(const RegisterFail&, const RegisterFail&) = default;
};
struct Connect {
  Uuid service_id;
  Uuid connection_id;
  std::string client_addr;
  friend bool operator==(const Connect&, const Connect&) = default;
};
struct ConnectAck {
  Uuid connection_id;
  friend bool operator==(const ConnectAck&, const ConnectAck&) = default;
};
struct ConnectFail {
  Uuid connection_id;
  std::string reason;
  friend bool operator==(const ConnectFail&, const ConnectFail&) = default;
};
struct Open {
  Uuid connection_id;
  ServiceProtocol protocol = ServiceProtocol::tcp;
  std::string target;
  friend bool operator==(const Open&, const Open&) = default;
};
struct Heartbeat {
  std::uint64_t timestamp = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};
struct HeartbeatAck {
  std::uint64_t timestamp = 0;
  friend bool operator==(const HeartbeatAck&, const HeartbeatAck&) = default;
};
struct Unregister {
  Uuid service_id;
  friend bool operator==(const Unregister&, const Unregister&) = default;
};
struct Disconnect {
  std::string reason;
  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

// Data and Datagram borrow their bytes: after decode() they point into the decoded buffer,
// which must outlive them. This keeps the hot path free of copies.
struct Data {
  Uuid connection_id;
  std::span<const std::uint8_t> bytes;  // 1..kMaxDataChunk
};
struct Eof {
  Uuid connection_id;
  friend bool operator==(const Eof&, const Eof&) = default;
};
struct Close {
  Uuid connection_id;
  std::string reason;
  friend bool operator==(const Close&, const Close&) = default;
};
struct WindowUpdate {
  Uuid connection_id;
  std::uint32_t increment = 0;  // > 0
  friend bool operator==(const WindowUpdate&, const WindowUpdate&) = default;
};
struct Datagram {
  Uuid connection_id;
  std::span<const std::uint8_t> bytes;  // 0..kMaxDataChunk
};

bool operator==(const Data& a, const Data& b);
bool operator==(const Datagram& a, const Datagram& b);

using Message = std::variant<Auth, AuthOk, AuthFail, Register, RegisterOk, RegisterFail, Connect,
                             ConnectAck, ConnectFail, Open, Heartbeat, HeartbeatAck, Unregister,
                             Disconnect, Data, Eof, Close, WindowUpdate, Datagram>;

MsgType type_of(const Message& m);

}  // namespace zlt::proto
