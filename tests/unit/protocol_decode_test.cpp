// Decoder behaviour at the edges: the check order and error texts of the original decoder
// (docs/PROTOCOL.md §2 and §3), its decoder edge cases, v2 trailers and v2 messages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/protocol/codec.hpp"
#include "tests/unit/protocol_test_helpers.hpp"

namespace zlt::proto {
namespace {

using test::FrameBuilder;
using test::from_hex;
using test::u1;
using test::u2;

// The error text, or "OK" so an unexpected success shows up in the failure message.
std::string decode_error(std::span<const std::uint8_t> bytes) {
  auto r = decode(bytes);
  if (r.ok()) return "OK";
  EXPECT_EQ(r.error().code, Errc::protocol);
  return r.error().message;
}
std::string decode_error(std::string_view hex) {
  return decode_error(from_hex(hex));
}

template <class M>
M decode_as(std::span<const std::uint8_t> bytes, std::size_t expected_consumed) {
  auto r = decode(bytes);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return M{};
  EXPECT_EQ(r->consumed, expected_consumed);
  EXPECT_TRUE(std::holds_alternative<M>(r->message))
      << "decoded as " << msg_type_name(type_of(r->message));
  if (!std::holds_alternative<M>(r->message)) return M{};
  return std::get<M>(r->message);
}

// ---- framing: check order and texts of docs/PROTOCOL.md §2 ----

TEST(ProtocolDecodeFraming, TooShort) {
  EXPECT_EQ(decode_error(""), "message too short: 0 bytes, need at least 5");
  EXPECT_EQ(decode_error("30 00 00 00"), "message too short: 4 bytes, need at least 5");
  // Shortness is checked before the type byte.
  EXPECT_EQ(decode_error("00 00"), "message too short: 2 bytes, need at least 5");
}

TEST(ProtocolDecodeFraming, UnknownType) {
  EXPECT_EQ(decode_error("00 00 00 00 00"), "unknown message type: 0x00");
  EXPECT_EQ(decode_error("ff 00 00 00 00"), "unknown message type: 0xff");
  EXPECT_EQ(decode_error("04 00 00 00 00"), "unknown message type: 0x04");
  EXPECT_EQ(decode_error("6a 00 00 00 00"), "unknown message type: 0x6a");  // reserved: lanes
  // The type is checked before the length fields.
  EXPECT_EQ(decode_error("00 ff ff ff ff"), "unknown message type: 0x00");
}

TEST(ProtocolDecodeFraming, PayloadTooLarge) {
  EXPECT_EQ(decode_error("01 ff ff ff ff"), "payload too large: 4294967295 bytes, max 65531");
  // Checked before completeness: five bytes suffice to get this error.
  EXPECT_EQ(decode_error("41 00 01 00 00"), "payload too large: 65536 bytes, max 65531");
  std::vector<std::uint8_t> too_big = from_hex("41 00 00 ff fc");
  too_big.resize(5 + 65532);
  EXPECT_EQ(decode_error(too_big), "payload too large: 65532 bytes, max 65531");
}

TEST(ProtocolDecodeFraming, Incomplete) {
  EXPECT_EQ(decode_error("01 00 00 00 20 00"), "incomplete message: have 6 bytes, need 37");
  EXPECT_EQ(decode_error("30 00 00 00 08 00 00 00"), "incomplete message: have 8 bytes, need 13");
}

TEST(ProtocolDecodeFraming, LargestLegalMessage) {
  std::vector<std::uint8_t> bytes = from_hex("41 00 00 ff fb");
  bytes.resize(5 + 65531);
  EXPECT_EQ(decode_as<Disconnect>(bytes, 65536), Disconnect{""});
}

TEST(ProtocolDecodeFraming, TrailingPayloadBytesAreIgnored) {
  auto hb = from_hex("30 00 00 00 09 00 00 00 00 00 00 00 01 aa");
  EXPECT_EQ(decode_as<Heartbeat>(hb, 14), Heartbeat{1});
}

TEST(ProtocolDecodeFraming, BytesAfterTheFrameAreNotConsumed) {
  auto hb = from_hex("30 00 00 00 08 00 00 00 00 00 00 00 01 aa bb");
  EXPECT_EQ(decode_as<Heartbeat>(hb, 13), Heartbeat{1});
}

TEST(ProtocolDecodeFraming, ConcatenatedMessagesDecodeInTurn) {
  auto bytes = from_hex("41 00 00 00 02 00 00 30 00 00 00 08 00 00 00 00 00 00 00 07");
  auto first = decode(bytes);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->consumed, 7u);
  auto second = decode(std::span(bytes).subspan(first->consumed));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->message == Message{Heartbeat{7}});
  EXPECT_EQ(first->consumed + second->consumed, bytes.size());
}

TEST(ProtocolDecodeFraming, ErrorsDisplayWithTheOriginalPrefix) {
  auto r = decode(from_hex("00 00 00 00 00"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().display(), "Protocol error: unknown message type: 0x00");
}

// ---- docs/PROTOCOL.md §3 edge vectors not covered above ----

TEST(ProtocolDecodeEdge, RegisterUnknownProtocol) {
  EXPECT_EQ(decode_error("10 00 00 00 07 01 61 02 00 16 00 00"), "unknown protocol type: 2");
}

TEST(ProtocolDecodeEdge, RegisterEmptyName) {
  auto bytes = from_hex("10 00 00 00 06 00 00 00 16 00 00");
  EXPECT_EQ(decode_as<Register>(bytes, 11),
            (Register{"", ServiceProtocol::tcp, 22, 0, std::nullopt}));
}

TEST(ProtocolDecodeEdge, DisconnectInvalidUtf8) {
  EXPECT_EQ(decode_error("41 00 00 00 03 00 01 ff"),
            "Disconnect: invalid reason UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolDecodeEdge, HeartbeatTooShort) {
  EXPECT_EQ(decode_error("30 00 00 00 07 00 00 00 00 00 00 00"), "Heartbeat: payload too short");
}

TEST(ProtocolDecodeEdge, AuthTokenLongerThanPayload) {
  auto bytes = FrameBuilder(0x01).hex("00 05 74 6f 6b").fill(16).bytes();
  EXPECT_EQ(decode_error(bytes), "Auth: payload too short");
}

TEST(ProtocolDecodeEdge, OriginalEncodingOf256ByteName) {
  // The original encoder wrapped the u8 length to 0 and wrote all 256 bytes; a decoder then
  // reads the first name byte ('a' = 97) as the protocol.
  auto bytes = FrameBuilder(0x10).u8(0).text(std::string(256, 'a')).hex("00 00 16 00 00").bytes();
  EXPECT_EQ(decode_error(bytes), "unknown protocol type: 97");
}

// ---- every per-type error, v1 types ----

TEST(ProtocolDecodeErrors, Auth) {
  EXPECT_EQ(decode_error("01 00 00 00 00"), "Auth: payload too short for token length");
  EXPECT_EQ(decode_error("01 00 00 00 01 00"), "Auth: payload too short for token length");
  EXPECT_EQ(decode_error(FrameBuilder(0x01).u16(0).fill(15).bytes()), "Auth: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x01).u16(2).hex("61 e2").fill(16).bytes()),
            "Auth: invalid token UTF-8: incomplete utf-8 byte sequence from index 1");
  EXPECT_EQ(decode_error(FrameBuilder(0x01).u16(1).u8(0xff).fill(16).bytes()),
            "Auth: invalid token UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolDecodeErrors, AuthOk) {
  EXPECT_EQ(decode_error(FrameBuilder(0x02).fill(15).bytes()), "AuthOk: payload too short");
  EXPECT_EQ(decode_error("02 00 00 00 00"), "AuthOk: payload too short");
}

// AuthFail, RegisterFail and Disconnect share one layout and differ only in the prefix.
void expect_reason_only_errors(std::uint8_t type, const std::string& name) {
  SCOPED_TRACE(name);
  EXPECT_EQ(decode_error(FrameBuilder(type).bytes()),
            name + ": payload too short for reason length");
  EXPECT_EQ(decode_error(FrameBuilder(type).u8(0).bytes()),
            name + ": payload too short for reason length");
  EXPECT_EQ(decode_error(FrameBuilder(type).u16(2).text("a").bytes()),
            name + ": payload too short for reason");
  EXPECT_EQ(decode_error(FrameBuilder(type).u16(2).hex("c3 28").bytes()),
            name + ": invalid reason UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolDecodeErrors, AuthFail) {
  expect_reason_only_errors(0x03, "AuthFail");
}
TEST(ProtocolDecodeErrors, RegisterFail) {
  expect_reason_only_errors(0x12, "RegisterFail");
}
TEST(ProtocolDecodeErrors, Disconnect) {
  expect_reason_only_errors(0x41, "Disconnect");
}

TEST(ProtocolDecodeErrors, Register) {
  EXPECT_EQ(decode_error("10 00 00 00 00"), "Register: payload too short for name length");
  EXPECT_EQ(decode_error("10 00 00 00 06 01 61 00 00 16 00"), "Register: payload too short");
  EXPECT_EQ(decode_error("10 00 00 00 05 00 00 00 16 00"), "Register: payload too short");
  // The name is checked before the protocol byte.
  EXPECT_EQ(decode_error("10 00 00 00 07 01 ff 05 00 16 00 00"),
            "Register: invalid name UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(decode_error("10 00 00 00 06 00 ff 00 16 00 00"), "unknown protocol type: 255");
}

TEST(ProtocolDecodeErrors, RegisterOk) {
  EXPECT_EQ(decode_error(FrameBuilder(0x11).fill(15).bytes()), "RegisterOk: payload too short");
}

TEST(ProtocolDecodeErrors, Connect) {
  EXPECT_EQ(decode_error(FrameBuilder(0x20).fill(33).bytes()), "Connect: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x20).id(u1()).id(u2()).u16(1).bytes()),
            "Connect: payload too short for client_addr");
  EXPECT_EQ(decode_error(FrameBuilder(0x20).id(u1()).id(u2()).u16(4).hex("31 2e e2 82").bytes()),
            "Connect: invalid client_addr UTF-8: incomplete utf-8 byte sequence from index 2");
}

TEST(ProtocolDecodeErrors, ConnectAck) {
  EXPECT_EQ(decode_error(FrameBuilder(0x21).fill(15).bytes()), "ConnectAck: payload too short");
}

TEST(ProtocolDecodeErrors, ConnectFail) {
  EXPECT_EQ(decode_error(FrameBuilder(0x22).fill(17).bytes()), "ConnectFail: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x22).id(u2()).u16(2).text("n").bytes()),
            "ConnectFail: payload too short for reason");
  EXPECT_EQ(decode_error(FrameBuilder(0x22).id(u2()).u16(3).hex("ed a0 80").bytes()),
            "ConnectFail: invalid reason UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolDecodeErrors, HeartbeatAck) {
  EXPECT_EQ(decode_error(FrameBuilder(0x31).fill(7).bytes()), "HeartbeatAck: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x30).bytes()), "Heartbeat: payload too short");
}

TEST(ProtocolDecodeErrors, Unregister) {
  EXPECT_EQ(decode_error(FrameBuilder(0x40).fill(15).bytes()), "Unregister: payload too short");
}

// ---- every per-type error, v2 types ----

TEST(ProtocolDecodeErrors, Open) {
  EXPECT_EQ(decode_error(FrameBuilder(0x23).fill(18).bytes()), "Open: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x23).id(u1()).u8(0).u16(3).text("ab").bytes()),
            "Open: payload too short for target");
  EXPECT_EQ(decode_error(FrameBuilder(0x23).id(u1()).u8(2).u16(1).text("a").bytes()),
            "unknown protocol type: 2");
  // Fields are checked in wire order once every length is known: protocol, then target.
  EXPECT_EQ(decode_error(FrameBuilder(0x23).id(u1()).u8(9).u16(1).u8(0xff).bytes()),
            "unknown protocol type: 9");
  EXPECT_EQ(decode_error(FrameBuilder(0x23).id(u1()).u8(1).u16(2).hex("c0 80").bytes()),
            "Open: invalid target UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolDecodeErrors, Data) {
  EXPECT_EQ(decode_error(FrameBuilder(0x50).id(u1()).bytes()), "Data: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x50).fill(3).bytes()), "Data: payload too short");
}

TEST(ProtocolDecodeErrors, Eof) {
  EXPECT_EQ(decode_error(FrameBuilder(0x51).fill(15).bytes()), "Eof: payload too short");
}

TEST(ProtocolDecodeErrors, Close) {
  EXPECT_EQ(decode_error(FrameBuilder(0x52).fill(17).bytes()), "Close: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x52).id(u1()).u16(5).text("idle").bytes()),
            "Close: payload too short for reason");
  EXPECT_EQ(decode_error(FrameBuilder(0x52).id(u1()).u16(4).hex("f4 90 80 80").bytes()),
            "Close: invalid reason UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolDecodeErrors, WindowUpdate) {
  EXPECT_EQ(decode_error(FrameBuilder(0x53).id(u1()).fill(3).bytes()),
            "WindowUpdate: payload too short");
  EXPECT_EQ(decode_error(FrameBuilder(0x53).id(u1()).u32(0).bytes()),
            "WindowUpdate: increment must be > 0");
}

TEST(ProtocolDecodeErrors, Datagram) {
  EXPECT_EQ(decode_error(FrameBuilder(0x54).fill(15).bytes()), "Datagram: payload too short");
}

// ---- v2 trailers: optional, so a v1-length message decodes with "no trailer" ----

TEST(ProtocolDecodeTrailer, AuthWithoutTrailerIsV1) {
  auto bytes = FrameBuilder(0x01).u16(3).text("tok").id(u1()).bytes();
  EXPECT_EQ(decode_as<Auth>(bytes, bytes.size()), (Auth{"tok", u1(), std::nullopt}));
}

TEST(ProtocolDecodeTrailer, AuthWithPartialTrailerIsV1) {
  for (std::size_t extra = 1; extra < 5; ++extra) {
    auto bytes = FrameBuilder(0x01).u16(0).id(u1()).fill(extra, 0x02).bytes();
    EXPECT_EQ(decode_as<Auth>(bytes, bytes.size()), (Auth{"", u1(), std::nullopt})) << extra;
  }
}

TEST(ProtocolDecodeTrailer, AuthTrailerIsReadAsIs) {
  auto bytes = FrameBuilder(0x01).u16(0).id(u1()).u8(7).u32(0xdeadbeef).u8(0x99).bytes();
  EXPECT_EQ(decode_as<Auth>(bytes, bytes.size()), (Auth{"", u1(), V2Trailer{7, 0xdeadbeef}}));
}

TEST(ProtocolDecodeTrailer, AuthOk) {
  auto v1 = FrameBuilder(0x02).id(u1()).fill(4).bytes();
  EXPECT_EQ(decode_as<AuthOk>(v1, 25), (AuthOk{u1(), std::nullopt}));
  auto v2 = FrameBuilder(0x02).id(u1()).u8(2).u32(feature::kAll).bytes();
  EXPECT_EQ(decode_as<AuthOk>(v2, 26), (AuthOk{u1(), V2Trailer{2, feature::kAll}}));
}

TEST(ProtocolDecodeTrailer, RegisterOk) {
  auto v1 = FrameBuilder(0x11).id(u2()).u8(0x75).bytes();
  EXPECT_EQ(decode_as<RegisterOk>(v1, 22), (RegisterOk{u2(), std::nullopt}));
  auto v2 = FrameBuilder(0x11).id(u2()).u16(0).u8(0xee).bytes();
  EXPECT_EQ(decode_as<RegisterOk>(v2, 24), (RegisterOk{u2(), std::uint16_t{0}}));
}

TEST(ProtocolDecodeTrailer, RegisterFlags) {
  auto v1 = from_hex("10 00 00 00 0a 04 67 61 6d 65 01 69 87 00 00");
  EXPECT_FALSE(decode_as<Register>(v1, v1.size()).flags.has_value());
  // Reserved bits are policy, not framing: the decoder passes them through.
  auto flagged = FrameBuilder(0x10).u8(1).text("x").u8(1).u16(80).u16(0).u8(0x81).u8(0).bytes();
  EXPECT_EQ(decode_as<Register>(flagged, flagged.size()),
            (Register{"x", ServiceProtocol::udp, 80, 0, std::uint8_t{0x81}}));
}

// ---- v2 messages: borrowed bytes and ignored trailing bytes ----

TEST(ProtocolDecodeV2, DataTakesTheWholeRestOfThePayload) {
  auto bytes = FrameBuilder(0x50).id(u1()).fill(kMaxDataChunk, 0x5a).bytes();
  bytes.push_back(0x01);  // next frame's first byte: not part of this Data
  auto data = decode_as<Data>(bytes, kMaxMessageSize);
  EXPECT_EQ(data.connection_id, u1());
  ASSERT_EQ(data.bytes.size(), kMaxDataChunk);
  EXPECT_EQ(data.bytes.data(), bytes.data() + kStreamHeaderSize);
  EXPECT_EQ(data.bytes.back(), 0x5a);
}

TEST(ProtocolDecodeV2, EmptyDatagram) {
  auto bytes = FrameBuilder(0x54).id(u2()).bytes();
  auto dgram = decode_as<Datagram>(bytes, 21);
  EXPECT_EQ(dgram.connection_id, u2());
  EXPECT_TRUE(dgram.bytes.empty());
}

TEST(ProtocolDecodeV2, TrailingBytesIgnored) {
  auto eof = FrameBuilder(0x51).id(u1()).fill(3).bytes();
  EXPECT_EQ(decode_as<Eof>(eof, eof.size()), Eof{u1()});
  auto close = FrameBuilder(0x52).id(u1()).u16(1).text("xyz").bytes();
  EXPECT_EQ(decode_as<Close>(close, close.size()), (Close{u1(), "x"}));
  auto wu = FrameBuilder(0x53).id(u1()).u32(1).u8(0).bytes();
  EXPECT_EQ(decode_as<WindowUpdate>(wu, wu.size()), (WindowUpdate{u1(), 1}));
  auto open = FrameBuilder(0x23).id(u1()).u8(1).u16(2).text("h:1").bytes();
  EXPECT_EQ(decode_as<Open>(open, open.size()), (Open{u1(), ServiceProtocol::udp, "h:"}));
}

TEST(ProtocolDecodeV2, MaxWindowIncrement) {
  auto wu = FrameBuilder(0x53).id(u1()).u32(0xffffffff).bytes();
  EXPECT_EQ(decode_as<WindowUpdate>(wu, wu.size()), (WindowUpdate{u1(), 0xffffffff}));
}

}  // namespace
}  // namespace zlt::proto
