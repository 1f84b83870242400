// The golden vectors of docs/PROTOCOL.md §3 and §4.7 (the v1 ones were produced by the original
// encoder): encoding must produce exactly these bytes, and decoding them must give the value back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/protocol/codec.hpp"
#include "tests/unit/protocol_test_helpers.hpp"

namespace zlt::proto {
namespace {

using test::from_hex;
using test::kU1Hex;
using test::kU2Hex;
using test::to_hex;
using test::u1;
using test::u2;

struct GoldenCase {
  std::string name;
  Message message;
  std::string hex;
};

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto p : parts) s.append(p).push_back(' ');
  return s;
}

constexpr std::uint8_t kHi[] = {'h', 'i'};

std::vector<GoldenCase> v1_cases() {
  return {
      {"Auth", Auth{"tok", u1(), std::nullopt}, cat({"01 00 00 00 15 00 03 74 6f 6b", kU1Hex})},
      {"AuthOk", AuthOk{u1(), std::nullopt}, cat({"02 00 00 00 10", kU1Hex})},
      {"AuthFail", AuthFail{"bad"}, "03 00 00 00 05 00 03 62 61 64"},
      {"RegisterSsh", Register{"ssh", ServiceProtocol::tcp, 22, 2222, std::nullopt},
       "10 00 00 00 09 03 73 73 68 00 00 16 08 ae"},
      {"RegisterGame", Register{"game", ServiceProtocol::udp, 27015, 0, std::nullopt},
       "10 00 00 00 0a 04 67 61 6d 65 01 69 87 00 00"},
      {"RegisterOk", RegisterOk{u2(), std::nullopt}, cat({"11 00 00 00 10", kU2Hex})},
      {"RegisterFail", RegisterFail{"port 2222 is not available"},
       "12 00 00 00 1c 00 1a 70 6f 72 74 20 32 32 32 32 20 69 73 20 6e 6f 74 20 61 76 61 69 6c "
       "61 62 6c 65"},
      {"Connect", Connect{u1(), u2(), "1.2.3.4:5"},
       cat({"20 00 00 00 2b", kU1Hex, kU2Hex, "00 09 31 2e 32 2e 33 2e 34 3a 35"})},
      {"ConnectAck", ConnectAck{u2()}, cat({"21 00 00 00 10", kU2Hex})},
      {"ConnectFail", ConnectFail{u2(), "no"}, cat({"22 00 00 00 14", kU2Hex, "00 02 6e 6f"})},
      {"Heartbeat", Heartbeat{1700000000000}, "30 00 00 00 08 00 00 01 8b cf e5 68 00"},
      {"HeartbeatAck", HeartbeatAck{1700000000000}, "31 00 00 00 08 00 00 01 8b cf e5 68 00"},
      {"Unregister", Unregister{u2()}, cat({"40 00 00 00 10", kU2Hex})},
      {"DisconnectIdle", Disconnect{"idle timeout"},
       "41 00 00 00 0e 00 0c 69 64 6c 65 20 74 69 6d 65 6f 75 74"},
      {"DisconnectEmpty", Disconnect{""}, "41 00 00 00 02 00 00"},
  };
}

std::vector<GoldenCase> v2_cases() {
  return {
      {"AuthV2", Auth{"tok", u1(), V2Trailer{2, 0x1f}},
       cat({"01 00 00 00 1a 00 03 74 6f 6b", kU1Hex, "02 00 00 00 1f"})},
      {"AuthOkV2", AuthOk{u1(), V2Trailer{2, 0x0f}},
       cat({"02 00 00 00 15", kU1Hex, "02 00 00 00 0f"})},
      {"RegisterInternal", Register{"api", ServiceProtocol::tcp, 8080, 0, kRegisterInternal},
       "10 00 00 00 0a 03 61 70 69 00 1f 90 00 00 01"},
      {"RegisterOkV2", RegisterOk{u2(), std::uint16_t{30000}},
       cat({"11 00 00 00 12", kU2Hex, "75 30"})},
      {"Open", Open{u1(), ServiceProtocol::tcp, "service:api"},
       cat({"23 00 00 00 1e", kU1Hex, "00 00 0b 73 65 72 76 69 63 65 3a 61 70 69"})},
      {"Data", Data{u1(), kHi}, cat({"50 00 00 00 12", kU1Hex, "68 69"})},
      {"Eof", Eof{u1()}, cat({"51 00 00 00 10", kU1Hex})},
      {"Close", Close{u1(), "idle"}, cat({"52 00 00 00 16", kU1Hex, "00 04 69 64 6c 65"})},
      {"WindowUpdate", WindowUpdate{u1(), 65536}, cat({"53 00 00 00 14", kU1Hex, "00 01 00 00"})},
      {"DatagramEmpty", Datagram{u1(), {}}, cat({"54 00 00 00 10", kU1Hex})},
  };
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(GoldenTest, EncodesToExactBytes) {
  const auto& c = GetParam();
  const auto expected = from_hex(c.hex);
  ASSERT_FALSE(expected.empty());
  auto encoded = encode(c.message);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message;
  EXPECT_EQ(to_hex(*encoded), to_hex(expected));
}

TEST_P(GoldenTest, DecodesToValue) {
  const auto& c = GetParam();
  const auto bytes = from_hex(c.hex);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->consumed, bytes.size());
  EXPECT_EQ(type_of(decoded->message), type_of(c.message));
  auto reencoded = encode(decoded->message);
  ASSERT_TRUE(reencoded.ok());
  EXPECT_TRUE(decoded->message == c.message) << "decoded as " << to_hex(*reencoded);
}

TEST_P(GoldenTest, EncodeToAppendsAfterExistingBytes) {
  const auto& c = GetParam();
  std::vector<std::uint8_t> out = {0xaa, 0xbb};
  ASSERT_TRUE(encode_to(c.message, out).ok());
  EXPECT_EQ(to_hex(out), "aa bb " + to_hex(from_hex(c.hex)));
}

std::string case_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(ProtocolV1, GoldenTest, ::testing::ValuesIn(v1_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(ProtocolV2, GoldenTest, ::testing::ValuesIn(v2_cases()), case_name);

TEST(ProtocolGolden, DataBorrowsFromTheDecodedBuffer) {
  const auto bytes = from_hex(cat({"50 00 00 00 12", kU1Hex, "68 69"}));
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok());
  const auto& data = std::get<Data>(decoded->message);
  EXPECT_EQ(data.bytes.data(), bytes.data() + kStreamHeaderSize);
  EXPECT_EQ(data.bytes.size(), 2u);
}

TEST(ProtocolGolden, StreamHeaderMatchesEncoder) {
  const std::string body = "hello";
  std::vector<std::uint8_t> frame(kStreamHeaderSize + body.size());
  write_stream_header(frame.data(), MsgType::Data, u1(), body.size());
  std::copy(body.begin(), body.end(), frame.begin() + kStreamHeaderSize);

  auto encoded = encode(Data{u1(), test::as_bytes(body)});
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(to_hex(frame), to_hex(*encoded));
  EXPECT_EQ(to_hex(std::span(frame).first(kStreamHeaderSize)),
            to_hex(from_hex(cat({"50 00 00 00 15", kU1Hex}))));
}

TEST(ProtocolGolden, StreamHeaderOfEofAndWindowUpdate) {
  std::vector<std::uint8_t> frame(kStreamHeaderSize);
  write_stream_header(frame.data(), MsgType::Eof, u2(), 0);
  EXPECT_EQ(to_hex(frame), to_hex(from_hex(cat({"51 00 00 00 10", kU2Hex}))));

  frame.assign(kStreamHeaderSize + 4, 0);
  write_stream_header(frame.data(), MsgType::WindowUpdate, u1(), 4);
  frame[kStreamHeaderSize + 1] = 0x01;  // increment 65536
  EXPECT_EQ(to_hex(frame), to_hex(from_hex(cat({"53 00 00 00 14", kU1Hex, "00 01 00 00"}))));
}

}  // namespace
}  // namespace zlt::proto
