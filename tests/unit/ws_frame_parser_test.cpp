// The incremental frame parser and the rules over frame sequences, read from either end.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "core/transport/ws_frame.hpp"

namespace zlt::ws {
namespace {

using Bytes = std::vector<std::uint8_t>;

const MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

// One frame as a client (masked) or a server (unmasked) sends it; `raw_opcode` may be anything.
Bytes frame(Sender from, std::uint8_t raw_opcode, const std::string& payload, bool fin = true,
            std::uint8_t rsv = 0) {
  Bytes out(kMaxHeaderSize);
  const bool masked = from == Sender::client;
  out.resize(encode_header(out.data(), fin, static_cast<Opcode>(raw_opcode), payload.size(),
                           masked ? &kKey : nullptr));
  out[0] = static_cast<std::uint8_t>(out[0] | (rsv << 4));
  const std::size_t at = out.size();
  out.insert(out.end(), payload.begin(), payload.end());
  if (masked) apply_mask(out.data() + at, payload.size(), kKey);
  return out;
}

Bytes join(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Sender other(Sender s) { return s == Sender::client ? Sender::server : Sender::client; }

struct Parsed {
  std::size_t accepted = 0;
  std::vector<std::uint8_t> opcodes;
  std::vector<std::string> control_payloads;
  std::optional<Violation> violation;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once); `accepted` counts the bytes the
// parser let through over all pieces.
Parsed parse(Sender from, const Bytes& bytes, std::size_t piece = 0,
             std::uint64_t max_message = 65536) {
  FrameParser parser(from, max_message);
  Parsed out;
  auto on_frame = [&](const FrameParser::Frame& f) {
    out.opcodes.push_back(f.header.opcode);
    if (is_control(f.header.opcode))
      out.control_payloads.emplace_back(f.control_payload.begin(), f.control_payload.end());
  };
  const std::size_t step = piece == 0 ? bytes.size() : piece;
  for (std::size_t at = 0; at < bytes.size(); at += step) {
    const std::size_t n = std::min(step, bytes.size() - at);
    const std::size_t ok = parser.feed({bytes.data() + at, n}, on_frame);
    out.accepted += ok;
    if (ok < n) break;
  }
  out.violation = parser.violation();
  return out;
}

class FrameParserBothWays : public ::testing::TestWithParam<Sender> {};

TEST_P(FrameParserBothWays, ParsesAConversationInAnyPieces) {
  const Sender from = GetParam();
  const Bytes bytes = join({
      frame(from, 0x2, std::string(300, 'a')),
      frame(from, 0x1, "hel", false),
      frame(from, 0x9, "ping in between"),
      frame(from, 0x0, "lo", false),
      frame(from, 0x0, "!"),
      frame(from, 0x2, std::string(70000 - 65536, 'b')),
      frame(from, 0xA, ""),
      frame(from, 0x8, "\x03\xe8" "bye"),
  });
  for (std::size_t piece : {0u, 1u, 2u, 3u, 7u, 13u, 100u}) {
    Parsed p = parse(from, bytes, piece);
    EXPECT_FALSE(p.violation) << piece << ": " << p.violation->reason;
    EXPECT_EQ(p.accepted, bytes.size()) << piece;
    EXPECT_EQ(p.opcodes, (std::vector<std::uint8_t>{2, 1, 9, 0, 0, 2, 0xA, 8})) << piece;
    EXPECT_EQ(p.control_payloads,
              (std::vector<std::string>{"ping in between", "", std::string("\x03\xe8" "bye")}))
        << piece;
  }
}

TEST_P(FrameParserBothWays, MaskingRuleDependsOnTheSender) {
  const Sender from = GetParam();
  const Bytes wrong = frame(other(from), 0x2, "payload");
  Parsed p = parse(from, wrong);
  ASSERT_TRUE(p.violation);
  EXPECT_EQ(p.violation->close_code, 1002);
  EXPECT_EQ(p.violation->reason,
            from == Sender::client ? "unmasked client frame" : "masked server frame");
  EXPECT_EQ(p.accepted, 0u);
}

struct Case {
  const char* name;
  std::uint16_t code;
  std::string reason;
  Bytes bad;
  Bytes lead = {};  // good frames the bad one needs in front of it
};

// Every violation, after a good frame: the good frames' bytes pass, nothing of the bad one's
// last byte ever does (and with the whole input in one piece, nothing of the bad frame).
TEST_P(FrameParserBothWays, EveryViolationStopsAtTheFirstByteOfTheBadFrame) {
  const Sender from = GetParam();
  const std::string too_big_control(126, 'x');
  Bytes huge_length = frame(from, 0x2, "");
  // 127 + 8-byte length with the top bit set (the mask key follows for a client).
  huge_length.resize(2);
  huge_length[1] = static_cast<std::uint8_t>((huge_length[1] & 0x80) | 127);
  for (std::uint8_t b : {0x80, 0, 0, 0, 0, 0, 0, 0}) huge_length.push_back(b);
  if (from == Sender::client) huge_length.insert(huge_length.end(), kKey.begin(), kKey.end());
  Bytes big_length = huge_length;
  big_length[2] = 0x40;  // 2^62: a legal length, but over any message limit

  const std::vector<Case> cases = {
      {"2^63 length", 1002, "frame length over 2^63", huge_length},
      {"2^62 length", 1009, "message of 4611686018427387904+ bytes exceeds the limit of 65536",
       big_length},
      {"rsv1", 1002, "reserved bits set without a negotiated extension",
       frame(from, 0x2, "x", true, 4)},
      {"rsv3", 1002, "reserved bits set without a negotiated extension",
       frame(from, 0x2, "x", true, 1)},
      {"opcode 3", 1002, "unknown opcode", frame(from, 0x3, "x")},
      {"opcode 0xB", 1002, "unknown opcode", frame(from, 0xB, "")},
      {"fragmented ping", 1002, "fragmented control frame", frame(from, 0x9, "x", false)},
      {"ping over 125", 1002, "control frame payload over 125 bytes",
       frame(from, 0x9, too_big_control)},
      {"close over 125", 1002, "control frame payload over 125 bytes",
       frame(from, 0x8, too_big_control)},
      {"continuation first", 1002, "continuation frame without a message to continue",
       frame(from, 0x0, "x")},
      {"new message inside one", 1002, "new message before the previous one was finished",
       frame(from, 0x2, "y"), frame(from, 0x2, "x", false)},
      {"message over the limit", 1009, "message of 65537+ bytes exceeds the limit of 65536",
       frame(from, 0x2, std::string(65537, 'z'))},
      {"fragments over the limit", 1009, "message of 65537+ bytes exceeds the limit of 65536",
       frame(from, 0x0, std::string(537, 'z')), frame(from, 0x2, std::string(65000, 'z'), false)},
      {"close of 1 byte", 1002, "close frame of 1 byte", frame(from, 0x8, "\x03")},
      {"close code 1005", 1002, "invalid close code 1005", frame(from, 0x8, "\x03\xed")},
      {"close code 999", 1002, "invalid close code 999", frame(from, 0x8, "\x03\xe7")},
      {"close reason not UTF-8", 1007, "close reason is not UTF-8",
       frame(from, 0x8, "\x03\xe8\xc3\x28")},
  };
  const Bytes good = frame(from, 0x2, "fine");
  for (const auto& c : cases) {
    const Bytes input = join({good, c.lead, c.bad});
    for (std::size_t piece : {0u, 1u, 5u}) {
      Parsed p = parse(from, input, piece);
      ASSERT_TRUE(p.violation) << c.name << " piece " << piece;
      EXPECT_EQ(p.violation->close_code, c.code) << c.name;
      EXPECT_EQ(p.violation->reason, c.reason) << c.name;
      EXPECT_LT(p.accepted, input.size()) << c.name << " piece " << piece;
      EXPECT_GE(p.accepted, good.size() + c.lead.size()) << c.name << " piece " << piece;
      if (piece == 0) {
        EXPECT_EQ(p.accepted, good.size() + c.lead.size()) << c.name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Senders, FrameParserBothWays,
                         ::testing::Values(Sender::client, Sender::server),
                         [](const auto& info) {
                           return info.param == Sender::client ? "FromClient" : "FromServer";
                         });

TEST(FrameParserTest, NothingIsParsedAfterAViolation) {
  FrameParser parser(Sender::client, 65536);
  const Bytes bad = frame(Sender::server, 0x2, "x");
  EXPECT_EQ(parser.feed(bad), 0u);
  ASSERT_TRUE(parser.violation());
  const Bytes good = frame(Sender::client, 0x2, "x");
  EXPECT_EQ(parser.feed(good), 0u);
  EXPECT_EQ(parser.violation()->reason, "unmasked client frame");
}

TEST(FrameParserTest, ControlFramesMayInterleaveFragments) {
  const Bytes bytes = join({frame(Sender::client, 0x2, "a", false),
                            frame(Sender::client, 0x9, ""), frame(Sender::client, 0x0, "b")});
  FrameParser parser(Sender::client, 2);  // the two fragments fill the limit exactly
  EXPECT_EQ(parser.feed(bytes), bytes.size());
  EXPECT_FALSE(parser.violation());
  EXPECT_FALSE(parser.in_message());
}

TEST(FrameCheckerTest, CheckDoesNotAdvance) {
  FrameChecker checker(Sender::server, 10);
  FrameHeader first;
  const Bytes b = frame(Sender::server, 0x2, "12345", false);
  ASSERT_EQ(parse_header(b, first), ParseStatus::ok);
  EXPECT_FALSE(checker.check(first));
  EXPECT_FALSE(checker.check(first));  // asked twice: the same answer
  checker.advance(first);
  EXPECT_TRUE(checker.in_message());
  FrameHeader rest;
  const Bytes c = frame(Sender::server, 0x0, "123456");
  ASSERT_EQ(parse_header(c, rest), ParseStatus::ok);
  auto v = checker.check(rest);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->close_code, 1009);
  EXPECT_EQ(v->reason, "message of 11+ bytes exceeds the limit of 10");
}

TEST(FrameCheckerTest, ClosePayloads) {
  auto check = [](const std::string& s) {
    auto v = check_close_payload({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    return v ? std::to_string(v->close_code) + " " + v->reason : std::string("ok");
  };
  EXPECT_EQ(check(""), "ok");
  EXPECT_EQ(check("\x03\xe8"), "ok");
  EXPECT_EQ(check("\x0f\xa0" "caf\xc3\xa9"), "ok");  // 4000, "café"
  EXPECT_EQ(check("\x03"), "1002 close frame of 1 byte");
  EXPECT_EQ(check("\x03\xee"), "1002 invalid close code 1006");
  EXPECT_EQ(check("\x13\x88"), "1002 invalid close code 5000");
  EXPECT_EQ(check("\x03\xe8\xff"), "1007 close reason is not UTF-8");
  EXPECT_EQ(check("\x03\xe8\xed\xa0\x80"), "1007 close reason is not UTF-8");  // a surrogate
}

}  // namespace
}  // namespace zlt::ws
