// Encoder refusals (never truncate, never append a partial frame), boundary round trips, and the
// small helpers of message.hpp.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "core/protocol/codec.hpp"
#include "tests/unit/protocol_test_helpers.hpp"

namespace zlt::proto {
namespace {

using test::to_hex;
using test::u1;
using test::u2;

// The error text, or "OK"; also checks that a refused message appends nothing.
std::string encode_error(const Message& m) {
  std::vector<std::uint8_t> out = {0x01, 0x02, 0x03};
  auto status = encode_to(m, out);
  EXPECT_EQ(to_hex(out), "01 02 03") << "a refused message must leave the buffer untouched";
  if (status.ok()) return "OK";
  EXPECT_EQ(status.error().code, Errc::protocol);
  auto direct = encode(m);
  EXPECT_FALSE(direct.ok());
  return status.error().message;
}

void expect_round_trip(const Message& m, std::size_t expected_size) {
  auto bytes = encode(m);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(bytes->size(), expected_size);
  auto decoded = decode(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->consumed, bytes->size());
  EXPECT_TRUE(decoded->message == m) << msg_type_name(type_of(m));
}

// ---- refusals ----

TEST(ProtocolEncodeRefusal, U8NameTooLong) {
  Register r{std::string(256, 'a'), ServiceProtocol::tcp, 22, 0, std::nullopt};
  EXPECT_EQ(encode_error(r), "Register: name too long: 256 bytes, max 255");
}

TEST(ProtocolEncodeRefusal, U16StringsTooLong) {
  const std::string big(65536, 'r');
  EXPECT_EQ(encode_error(Auth{big, u1(), std::nullopt}),
            "Auth: token too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(AuthFail{big}), "AuthFail: reason too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(RegisterFail{big}),
            "RegisterFail: reason too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(Disconnect{big}), "Disconnect: reason too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(Connect{u1(), u2(), big}),
            "Connect: client_addr too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(ConnectFail{u1(), big}),
            "ConnectFail: reason too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(Open{u1(), ServiceProtocol::tcp, big}),
            "Open: target too long: 65536 bytes, max 65535");
  EXPECT_EQ(encode_error(Close{u1(), big}), "Close: reason too long: 65536 bytes, max 65535");
}

TEST(ProtocolEncodeRefusal, MessageTooLarge) {
  // A string that fits its prefix can still overflow the frame.
  EXPECT_EQ(encode_error(Auth{std::string(65535, 't'), u1(), std::nullopt}),
            "message too large: 65558 bytes, max 65536");
  EXPECT_EQ(encode_error(Disconnect{std::string(65530, 'd')}),
            "message too large: 65537 bytes, max 65536");
  EXPECT_EQ(encode_error(Close{u1(), std::string(65514, 'c')}),
            "message too large: 65537 bytes, max 65536");
}

TEST(ProtocolEncodeRefusal, LargestStringsThatFit) {
  expect_round_trip(Disconnect{std::string(65529, 'd')}, kMaxMessageSize);
  expect_round_trip(Close{u1(), std::string(65513, 'c')}, kMaxMessageSize);
  expect_round_trip(Connect{u1(), u2(), std::string(65497, 'a')}, kMaxMessageSize);
  expect_round_trip(Auth{std::string(65508, 't'), u1(), V2Trailer{2, 1}}, kMaxMessageSize);
}

TEST(ProtocolEncodeRefusal, DataLength) {
  std::vector<std::uint8_t> big(kMaxDataChunk + 1, 0x11);
  EXPECT_EQ(encode_error(Data{u1(), {}}), "Data: bytes empty, need at least 1");
  EXPECT_EQ(encode_error(Data{u1(), big}), "Data: bytes too long: 65516 bytes, max 65515");
  EXPECT_EQ(encode_error(Datagram{u1(), big}), "Datagram: bytes too long: 65516 bytes, max 65515");
}

TEST(ProtocolEncodeRefusal, ZeroWindowIncrement) {
  EXPECT_EQ(encode_error(WindowUpdate{u1(), 0}), "WindowUpdate: increment must be > 0");
}

// ---- round trips at the boundaries ----

TEST(ProtocolEncodeRoundTrip, EmptyStrings) {
  expect_round_trip(Auth{"", Uuid{}, std::nullopt}, 23);
  expect_round_trip(AuthFail{""}, 7);
  expect_round_trip(Register{"", ServiceProtocol::udp, 0, 0, std::nullopt}, 11);
  expect_round_trip(RegisterFail{""}, 7);
  expect_round_trip(Connect{Uuid{}, Uuid{}, ""}, 39);
  expect_round_trip(ConnectFail{Uuid{}, ""}, 23);
  expect_round_trip(Open{Uuid{}, ServiceProtocol::tcp, ""}, 24);
  expect_round_trip(Disconnect{""}, 7);
  expect_round_trip(Close{Uuid{}, ""}, 23);
}

TEST(ProtocolEncodeRoundTrip, LongestNames) {
  expect_round_trip(Register{std::string(255, 'n'), ServiceProtocol::tcp, 65535, 65535, 0xff},
                    5 + 1 + 255 + 5 + 1);
  // 127 two-byte characters and one ASCII byte: 255 bytes, counted in bytes, not characters.
  std::string accented;
  for (int i = 0; i < 127; ++i) accented += "\xc3\xa9";
  accented += "a";
  expect_round_trip(Register{accented, ServiceProtocol::udp, 1, 2, std::nullopt}, 266);
}

TEST(ProtocolEncodeRoundTrip, MultiByteUtf8) {
  const std::string text = "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xee\x80\x80";
  expect_round_trip(Auth{text, u1(), std::nullopt}, 5 + 2 + text.size() + 16);
  expect_round_trip(Connect{u1(), u2(), "[::1]:8080"}, 5 + 34 + 10);
  expect_round_trip(Close{u2(), text}, 5 + 18 + text.size());
}

TEST(ProtocolEncodeRoundTrip, ExtremeIntegers) {
  constexpr auto kMax64 = std::numeric_limits<std::uint64_t>::max();
  expect_round_trip(Heartbeat{kMax64}, 13);
  expect_round_trip(HeartbeatAck{kMax64}, 13);
  expect_round_trip(Heartbeat{0}, 13);
  expect_round_trip(WindowUpdate{u1(), 0xffffffff}, 25);
  expect_round_trip(WindowUpdate{u1(), 1}, 25);
  expect_round_trip(RegisterOk{u2(), std::uint16_t{65535}}, 23);
  expect_round_trip(AuthOk{u1(), V2Trailer{0xff, 0xffffffff}}, 26);
}

TEST(ProtocolEncodeRoundTrip, NilUuids) {
  expect_round_trip(AuthOk{Uuid{}, std::nullopt}, 21);
  expect_round_trip(RegisterOk{Uuid{}, std::nullopt}, 21);
  expect_round_trip(ConnectAck{Uuid{}}, 21);
  expect_round_trip(Unregister{Uuid{}}, 21);
  expect_round_trip(Eof{Uuid{}}, 21);
}

TEST(ProtocolEncodeRoundTrip, LargestDataAndDatagram) {
  std::vector<std::uint8_t> chunk(kMaxDataChunk);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<std::uint8_t>(i * 7);
  expect_round_trip(Data{u1(), chunk}, kMaxMessageSize);
  expect_round_trip(Datagram{u2(), chunk}, kMaxMessageSize);
  const std::uint8_t one[] = {0};
  expect_round_trip(Data{u1(), one}, 22);
  expect_round_trip(Datagram{u1(), {}}, 21);
}

// ---- helpers of message.hpp ----

TEST(ProtocolMessage, TypeCodes) {
  int known = 0;
  for (int b = 0; b < 256; ++b) {
    auto t = msg_type_from_byte(static_cast<std::uint8_t>(b));
    if (!t) continue;
    ++known;
    EXPECT_EQ(static_cast<int>(*t), b);
    EXPECT_NE(msg_type_name(*t), "Unknown");
  }
  EXPECT_EQ(known, 19);
  EXPECT_FALSE(msg_type_from_byte(0x60));
  EXPECT_EQ(msg_type_name(MsgType::WindowUpdate), "WindowUpdate");
  EXPECT_EQ(msg_type_name(MsgType::HeartbeatAck), "HeartbeatAck");
}

TEST(ProtocolMessage, V2OnlyTypes) {
  for (auto t : {MsgType::Open, MsgType::Data, MsgType::Eof, MsgType::Close, MsgType::WindowUpdate,
                 MsgType::Datagram}) {
    EXPECT_TRUE(is_v2_only(t)) << msg_type_name(t);
  }
  for (auto t :
       {MsgType::Auth, MsgType::AuthOk, MsgType::AuthFail, MsgType::Register, MsgType::RegisterOk,
        MsgType::RegisterFail, MsgType::Connect, MsgType::ConnectAck, MsgType::ConnectFail,
        MsgType::Heartbeat, MsgType::HeartbeatAck, MsgType::Unregister, MsgType::Disconnect}) {
    EXPECT_FALSE(is_v2_only(t)) << msg_type_name(t);
  }
}

TEST(ProtocolMessage, ServiceProtocols) {
  EXPECT_EQ(service_protocol_from_byte(0), ServiceProtocol::tcp);
  EXPECT_EQ(service_protocol_from_byte(1), ServiceProtocol::udp);
  EXPECT_FALSE(service_protocol_from_byte(2));
  EXPECT_FALSE(service_protocol_from_byte(0xff));
  EXPECT_EQ(service_protocol_name(ServiceProtocol::tcp), "tcp");
  EXPECT_EQ(service_protocol_name(ServiceProtocol::udp), "udp");
}

TEST(ProtocolMessage, TypeOfEveryAlternative) {
  EXPECT_EQ(type_of(Auth{}), MsgType::Auth);
  EXPECT_EQ(type_of(RegisterFail{}), MsgType::RegisterFail);
  EXPECT_EQ(type_of(Open{}), MsgType::Open);
  EXPECT_EQ(type_of(Data{}), MsgType::Data);
  EXPECT_EQ(type_of(Datagram{}), MsgType::Datagram);
  EXPECT_EQ(type_of(Disconnect{}), MsgType::Disconnect);
  EXPECT_EQ(type_of(WindowUpdate{}), MsgType::WindowUpdate);
}

TEST(ProtocolMessage, DataEqualityComparesContents) {
  const std::vector<std::uint8_t> a = {1, 2, 3};
  const std::vector<std::uint8_t> b = {1, 2, 3};
  const std::vector<std::uint8_t> c = {1, 2, 4};
  EXPECT_EQ((Data{u1(), a}), (Data{u1(), b}));
  EXPECT_FALSE((Data{u1(), a}) == (Data{u1(), c}));
  EXPECT_FALSE((Data{u1(), a}) == (Data{u2(), a}));
  EXPECT_FALSE((Data{u1(), a}) == (Data{u1(), std::span(a).first(2)}));
  EXPECT_EQ((Datagram{u1(), {}}), (Datagram{u1(), {}}));
  EXPECT_FALSE((Datagram{u1(), a}) == (Datagram{u1(), c}));
}

}  // namespace
}  // namespace zlt::proto
