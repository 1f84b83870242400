// The codec read from either end: feed() in any pieces, next() whole frames in place, and the
// rules over frame sequences.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "core/protocol/utf8.hpp"
#include "core/transport/ws_codec.hpp"

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

Sender other(Sender s) {
  return s == Sender::client ? Sender::server : Sender::client;
}

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
  Codec parser(from, max_message);
  Parsed out;
  auto on_frame = [&](const Codec::Frame& f) {
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

class CodecBothWays : public ::testing::TestWithParam<Sender> {};

TEST_P(CodecBothWays, ParsesAConversationInAnyPieces) {
  const Sender from = GetParam();
  const Bytes bytes = join({
      frame(from, 0x2, std::string(300, 'a')),
      frame(from, 0x1, "hel", false),
      frame(from, 0x9, "ping in between"),
      frame(from, 0x0, "lo", false),
      frame(from, 0x0, "!"),
      frame(from, 0x2, std::string(70000 - 65536, 'b')),
      frame(from, 0xA, ""),
      frame(from, 0x8,
            "\x03\xe8"
            "bye"),
  });
  for (std::size_t piece : {0u, 1u, 2u, 3u, 7u, 13u, 100u}) {
    Parsed p = parse(from, bytes, piece);
    EXPECT_FALSE(p.violation) << piece << ": " << p.violation->reason;
    EXPECT_EQ(p.accepted, bytes.size()) << piece;
    EXPECT_EQ(p.opcodes, (std::vector<std::uint8_t>{2, 1, 9, 0, 0, 2, 0xA, 8})) << piece;
    EXPECT_EQ(p.control_payloads, (std::vector<std::string>{"ping in between", "",
                                                            std::string("\x03\xe8"
                                                                        "bye")}))
        << piece;
  }
}

TEST_P(CodecBothWays, MaskingRuleDependsOnTheSender) {
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
TEST_P(CodecBothWays, EveryViolationStopsAtTheFirstByteOfTheBadFrame) {
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

INSTANTIATE_TEST_SUITE_P(Senders, CodecBothWays, ::testing::Values(Sender::client, Sender::server),
                         [](const auto& info) {
                           return info.param == Sender::client ? "FromClient" : "FromServer";
                         });

TEST(CodecFeedTest, NothingIsParsedAfterAViolation) {
  Codec parser(Sender::client, 65536);
  const Bytes bad = frame(Sender::server, 0x2, "x");
  EXPECT_EQ(parser.feed(bad), 0u);
  ASSERT_TRUE(parser.violation());
  const Bytes good = frame(Sender::client, 0x2, "x");
  EXPECT_EQ(parser.feed(good), 0u);
  EXPECT_EQ(parser.violation()->reason, "unmasked client frame");
}

TEST(CodecFeedTest, ControlFramesMayInterleaveFragments) {
  const Bytes bytes = join({frame(Sender::client, 0x2, "a", false), frame(Sender::client, 0x9, ""),
                            frame(Sender::client, 0x0, "b")});
  Codec parser(Sender::client, 2);  // the two fragments fill the limit exactly
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
  EXPECT_EQ(check("\x0f\xa0"
                  "caf\xc3\xa9"),
            "ok");  // 4000, "café"
  EXPECT_EQ(check("\x03"), "1002 close frame of 1 byte");
  EXPECT_EQ(check("\x03\xee"), "1002 invalid close code 1006");
  EXPECT_EQ(check("\x13\x88"), "1002 invalid close code 5000");
  EXPECT_EQ(check("\x03\xe8\xff"), "1007 close reason is not UTF-8");
  EXPECT_EQ(check("\x03\xe8\xed\xa0\x80"), "1007 close reason is not UTF-8");  // a surrogate
}

// next(): the same frames, whole and in place. Returns what feed()'s Parsed would.
Parsed parse_whole(Sender from, Bytes bytes, std::uint64_t max_message = 65536) {
  Codec codec(from, max_message);
  Parsed out;
  std::span<std::uint8_t> rest(bytes);
  while (!rest.empty()) {
    Codec::Next f = codec.next(rest);
    if (f.status != Codec::Next::frame) break;
    out.opcodes.push_back(f.header.opcode);
    if (is_control(f.header.opcode))
      out.control_payloads.emplace_back(f.payload.begin(), f.payload.end());
    out.accepted += f.consumed;
    rest = rest.subspan(f.consumed);
  }
  out.violation = codec.violation();
  return out;
}

std::string text(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

TEST_P(CodecBothWays, TextMustBeUtf8InEveryPieceAndFragment) {
  const Sender from = GetParam();
  const std::string euro = text({0xe2, 0x82, 0xac});
  // A character split across fragments, with a ping in between, is fine.
  const Bytes good = join({frame(from, 0x1, "a" + euro.substr(0, 1), false), frame(from, 0x9, ""),
                           frame(from, 0x0, euro.substr(1) + "b")});
  for (std::size_t piece : {0u, 1u, 3u}) {
    Parsed p = parse(from, good, piece);
    EXPECT_FALSE(p.violation) << piece << ": " << p.violation->reason;
    EXPECT_EQ(p.accepted, good.size());
  }
  EXPECT_FALSE(parse_whole(from, good).violation);

  const struct {
    const char* name;
    std::string reason;
    Bytes bad;
    Bytes lead = {};
  } cases[] = {
      {"invalid byte", "text message is not UTF-8", frame(from, 0x1, "ok" + text({0xff}))},
      {"surrogate", "text message is not UTF-8", frame(from, 0x1, text({0xed, 0xa0, 0x80}))},
      {"overlong", "text message is not UTF-8", frame(from, 0x1, text({0xc0, 0xaf}))},
      {"bad continuation", "text message is not UTF-8", frame(from, 0x0, text({0x80})),
       frame(from, 0x1, "x", false)},
      {"ends mid-character", "text message ends inside a UTF-8 sequence",
       frame(from, 0x0, euro.substr(0, 2)), frame(from, 0x1, "x", false)},
  };
  const Bytes lead = frame(from, 0x2, text({0xff, 0xfe}));  // binary: any bytes
  for (const auto& c : cases) {
    const Bytes input = join({lead, c.lead, c.bad});
    for (std::size_t piece : {0u, 1u, 4u}) {
      Parsed p = parse(from, input, piece);
      ASSERT_TRUE(p.violation) << c.name << " piece " << piece;
      EXPECT_EQ(p.violation->close_code, 1007) << c.name;
      EXPECT_EQ(p.violation->reason, c.reason) << c.name;
      EXPECT_LT(p.accepted, input.size()) << c.name << " piece " << piece;
      EXPECT_GE(p.accepted, lead.size() + c.lead.size()) << c.name << " piece " << piece;
      if (piece == 0) {
        EXPECT_EQ(p.accepted, lead.size() + c.lead.size()) << c.name;
      }
    }
    Parsed w = parse_whole(from, input);
    ASSERT_TRUE(w.violation) << c.name;
    EXPECT_EQ(w.violation->close_code, 1007) << c.name;
    EXPECT_EQ(w.violation->reason, c.reason) << c.name;
    EXPECT_EQ(w.accepted, lead.size() + c.lead.size()) << c.name;
  }
}

TEST_P(CodecBothWays, WholeFramesInPlaceMatchPieces) {
  const Sender from = GetParam();
  const Bytes bytes = join({
      frame(from, 0x2, std::string(300, 'a')),
      frame(from, 0x1, "hel", false),
      frame(from, 0x9, "ping in between"),
      frame(from, 0x0, "lo"),
      frame(from, 0x8,
            "\x03\xe8"
            "bye"),
  });
  Parsed whole = parse_whole(from, bytes);
  Parsed pieces = parse(from, bytes, 7);
  EXPECT_FALSE(whole.violation);
  EXPECT_EQ(whole.accepted, bytes.size());
  EXPECT_EQ(whole.opcodes, pieces.opcodes);
  EXPECT_EQ(whole.control_payloads, pieces.control_payloads);
  // And violations come out the same way.
  for (const Bytes& bad : {frame(other(from), 0x2, "x"), frame(from, 0x9, "x", false),
                           frame(from, 0x2, std::string(11, 'x'))}) {
    Parsed w = parse_whole(from, join({frame(from, 0x2, "ok"), bad}), 10);
    Parsed f = parse(from, join({frame(from, 0x2, "ok"), bad}), 0, 10);
    ASSERT_TRUE(w.violation);
    ASSERT_TRUE(f.violation);
    EXPECT_EQ(w.violation->reason, f.violation->reason);
    EXPECT_EQ(w.violation->close_code, f.violation->close_code);
    EXPECT_EQ(w.accepted, f.accepted);
  }
}

TEST(CodecNextTest, UnmasksInPlaceAndWaitsForWholeFrames) {
  Bytes b = frame(Sender::client, 0x2, "hello, masked world");
  Codec codec(Sender::client, 65536);
  for (std::size_t have = 0; have < b.size(); ++have)
    EXPECT_EQ(codec.next({b.data(), have}).status, Codec::Next::need_more) << have;
  Codec::Next f = codec.next(b);
  ASSERT_EQ(f.status, Codec::Next::frame);
  EXPECT_EQ(f.consumed, b.size());
  EXPECT_EQ(std::string(f.payload.begin(), f.payload.end()), "hello, masked world");
  EXPECT_EQ(f.payload.data(), b.data() + f.header.header_len);
}

TEST(CodecNextTest, RefusesAnOversizeFrameBeforeItsPayload) {
  Bytes b = frame(Sender::server, 0x2, std::string(100, 'x'));
  Codec codec(Sender::server, 99);
  Codec::Next f = codec.next({b.data(), 4});  // the header only
  EXPECT_EQ(f.status, Codec::Next::violation);
  ASSERT_TRUE(codec.violation());
  EXPECT_EQ(codec.violation()->close_code, 1009);
  EXPECT_EQ(codec.next(b).status, Codec::Next::violation);  // and stays refused
}

TEST(FrameInPlaceTest, FramesAChunkForEitherRole) {
  for (const MaskKey* mask : {&kKey, static_cast<const MaskKey*>(nullptr)}) {
    for (std::size_t len : {0u, 125u, 126u, 65535u, 65536u}) {
      const std::string payload(len, 'p');
      ChunkPtr c = chunk_copy({reinterpret_cast<const std::uint8_t*>(payload.data()), len});
      frame_in_place(*c, Opcode::binary, mask);
      Bytes wire(c->data(), c->data() + c->size());
      const Sender from = mask != nullptr ? Sender::client : Sender::server;
      EXPECT_EQ(wire, frame(from, 0x2, payload)) << len;
      Parsed p = parse_whole(from, wire);
      EXPECT_FALSE(p.violation) << len;
      EXPECT_EQ(p.accepted, wire.size()) << len;
    }
  }
}

TEST(Utf8StreamTest, EverySplitAgreesWithTheWholeStringValidator) {
  const std::vector<std::string> inputs = {
      "",
      "plain ascii",
      text({0xe2, 0x82, 0xac}),
      text({0xf0, 0x9f, 0x98, 0x80, 0x41}),
      "caf" + text({0xc3, 0xa9}),
      text({0xc3}),
      text({0xe2, 0x82}),
      text({0xed, 0xa0, 0x80}),
      text({0xf4, 0x90, 0x80, 0x80}),
      text({0xc0, 0x80}),
      text({0xe0, 0x80, 0x80}),
      text({0xf0, 0x9f, 0x98}),
      text({0x41, 0xff, 0x41}),
      text({0xe2, 0x41, 0x82}),
  };
  for (const std::string& s : inputs) {
    const std::span<const std::uint8_t> all(reinterpret_cast<const std::uint8_t*>(s.data()),
                                            s.size());
    const auto err = proto::validate_utf8(all);
    for (std::size_t a = 0; a <= s.size(); ++a) {
      for (std::size_t b = a; b <= s.size(); ++b) {
        Utf8Stream u;
        const bool ok =
            u.feed(all.first(a)) && u.feed(all.subspan(a, b - a)) && u.feed(all.subspan(b));
        EXPECT_EQ(ok && u.complete(), !err) << s << " split " << a << "," << b;
        EXPECT_EQ(ok, !err || !err->error_len) << s << " split " << a << "," << b;
      }
    }
  }
}

}  // namespace
}  // namespace zlt::ws
