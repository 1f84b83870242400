#include "core/protocol/message.hpp"

#include <algorithm>

#include "core/common/chunk.hpp"

namespace zlt::proto {

// The data path reads whole messages into chunks, and common cannot see these constants.
static_assert(Chunk::kMaxContent == kMaxMessageSize);
static_assert(Chunk::kStreamHeaderSize == kStreamHeaderSize);

std::optional<MsgType> msg_type_from_byte(std::uint8_t b) {
  switch (static_cast<MsgType>(b)) {
    case MsgType::Auth:
    case MsgType::AuthOk:
    case MsgType::AuthFail:
    case MsgType::Register:
    case MsgType::RegisterOk:
    case MsgType::RegisterFail:
    case MsgType::Connect:
    case MsgType::ConnectAck:
    case MsgType::ConnectFail:
    case MsgType::Open:
    case MsgType::Heartbeat:
    case MsgType::HeartbeatAck:
    case MsgType::Unregister:
    case MsgType::Disconnect:
    case MsgType::Data:
    case MsgType::Eof:
    case MsgType::Close:
    case MsgType::WindowUpdate:
    case MsgType::Datagram:
      return static_cast<MsgType>(b);
  }
  return std::nullopt;
}

std::string_view msg_type_name(MsgType t) {
  switch (t) {
    case MsgType::Auth:
      return "Auth";
    case MsgType::AuthOk:
      return "AuthOk";
    case MsgType::AuthFail:
      return "AuthFail";
    case MsgType::Register:
      return "Register";
    case MsgType::RegisterOk:
      return "RegisterOk";
    case MsgType::RegisterFail:
      return "RegisterFail";
    case MsgType::Connect:
      return "Connect";
    case MsgType::ConnectAck:
      return "ConnectAck";
    case MsgType::ConnectFail:
      return "ConnectFail";
    case MsgType::Open:
      return "Open";
    case MsgType::Heartbeat:
      return "Heartbeat";
    case MsgType::HeartbeatAck:
      return "HeartbeatAck";
    case MsgType::Unregister:
      return "Unregister";
    case MsgType::Disconnect:
      return "Disconnect";
    case MsgType::Data:
      return "Data";
    case MsgType::Eof:
      return "Eof";
    case MsgType::Close:
      return "Close";
    case MsgType::WindowUpdate:
      return "WindowUpdate";
    case MsgType::Datagram:
      return "Datagram";
  }
  return "Unknown";
}

bool is_v2_only(MsgType t) {
  switch (t) {
    case MsgType::Open:
    case MsgType::Data:
    case MsgType::Eof:
    case MsgType::Close:
    case MsgType::WindowUpdate:
    case MsgType::Datagram:
      return true;
    default:
      return false;
  }
}

std::optional<ServiceProtocol> service_protocol_from_byte(std::uint8_t b) {
  switch (b) {
    case 0:
      return ServiceProtocol::tcp;
    case 1:
      return ServiceProtocol::udp;
    default:
      return std::nullopt;
  }
}

std::string_view service_protocol_name(ServiceProtocol p) {
  return p == ServiceProtocol::udp ? "udp" : "tcp";
}

bool operator==(const Data& a, const Data& b) {
  return a.connection_id == b.connection_id && std::ranges::equal(a.bytes, b.bytes);
}

bool operator==(const Datagram& a, const Datagram& b) {
  return a.connection_id == b.connection_id && std::ranges::equal(a.bytes, b.bytes);
}

namespace {

// One overload per alternative, so adding a message without a type code fails to compile.
constexpr MsgType type_code(const Auth&) {
  return MsgType::Auth;
}
constexpr MsgType type_code(const AuthOk&) {
  return MsgType::AuthOk;
}
constexpr MsgType type_code(const AuthFail&) {
  return MsgType::AuthFail;
}
constexpr MsgType type_code(const Register&) {
  return MsgType::Register;
}
constexpr MsgType type_code(const RegisterOk&) {
  return MsgType::RegisterOk;
}
constexpr MsgType type_code(const RegisterFail&) {
  return MsgType::RegisterFail;
}
constexpr MsgType type_code(const Connect&) {
  return MsgType::Connect;
}
constexpr MsgType type_code(const ConnectAck&) {
  return MsgType::ConnectAck;
}
constexpr MsgType type_code(const ConnectFail&) {
  return MsgType::ConnectFail;
}
constexpr MsgType type_code(const Open&) {
  return MsgType::Open;
}
constexpr MsgType type_code(const Heartbeat&) {
  return MsgType::Heartbeat;
}
constexpr MsgType type_code(const HeartbeatAck&) {
  return MsgType::HeartbeatAck;
}
constexpr MsgType type_code(const Unregister&) {
  return MsgType::Unregister;
}
constexpr MsgType type_code(const Disconnect&) {
  return MsgType::Disconnect;
}
constexpr MsgType type_code(const Data&) {
  return MsgType::Data;
}
constexpr MsgType type_code(const Eof&) {
  return MsgType::Eof;
}
constexpr MsgType type_code(const Close&) {
  return MsgType::Close;
}
constexpr MsgType type_code(const WindowUpdate&) {
  return MsgType::WindowUpdate;
}
constexpr MsgType type_code(const Datagram&) {
  return MsgType::Datagram;
}

}  // namespace

MsgType type_of(const Message& m) {
  return std::visit([](const auto& alt) { return type_code(alt); }, m);
}

}  // namespace zlt::proto
