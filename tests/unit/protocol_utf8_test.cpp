// The UTF-8 validator: exact error positions and texts (those of Rust's Utf8Error, embedded in
// the original decoder's messages), and agreement with an independent reference on every
// sequence of up to three bytes.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/protocol/utf8.hpp"
#include "tests/unit/protocol_test_helpers.hpp"

namespace zlt::proto {
namespace {

using test::from_hex;

// "valid", or the error's description.
std::string check(std::span<const std::uint8_t> bytes) {
  auto err = validate_utf8(bytes);
  return err ? err->describe() : "valid";
}
std::string check_hex(std::string_view hex) {
  return check(from_hex(hex));
}

// Decodes code points arithmetically and rejects what RFC 3629 forbids; shares no code with the
// validator under test.
bool reference_valid(std::span<const std::uint8_t> s) {
  static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t b = s[i];
    std::size_t n;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      n = 2, cp = b & 0x1fu;
    } else if ((b & 0xf0) == 0xe0) {
      n = 3, cp = b & 0x0fu;
    } else if ((b & 0xf8) == 0xf0) {
      n = 4, cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3fu);
    }
    if (cp < kMinForLength[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

TEST(ProtocolUtf8, AcceptsWellFormedText) {
  EXPECT_EQ(check_hex(""), "valid");
  EXPECT_EQ(check(test::as_bytes("plain ascii, longer than one machine word")), "valid");
  // Each boundary of each length: U+0080 U+07FF, U+0800 U+D7FF U+E000 U+FFFF, U+10000 U+10FFFF.
  EXPECT_EQ(check_hex("c2 80 df bf"), "valid");
  EXPECT_EQ(check_hex("e0 a0 80 ed 9f bf ee 80 80 ef bf bf"), "valid");
  EXPECT_EQ(check_hex("f0 90 80 80 f4 8f bf bf"), "valid");
  EXPECT_EQ(check_hex("00"), "valid");  // NUL is a character
}

TEST(ProtocolUtf8, RejectsWithRustTexts) {
  // Bytes that never start a sequence: continuation, C0/C1 (overlong only), F5..FF.
  EXPECT_EQ(check_hex("80"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("c0 80"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("c1 bf"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("f5 80 80 80"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("ff"), "invalid utf-8 sequence of 1 bytes from index 0");
  // Overlong 3- and 4-byte forms, surrogates, above U+10FFFF: the second byte is out of range.
  EXPECT_EQ(check_hex("e0 80 80"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("e0 9f bf"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("ed a0 80"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("ed bf bf"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("f0 8f bf bf"), "invalid utf-8 sequence of 1 bytes from index 0");
  EXPECT_EQ(check_hex("f4 90 80 80"), "invalid utf-8 sequence of 1 bytes from index 0");
  // A bad later byte: the length counts the bytes accepted before it.
  EXPECT_EQ(check_hex("e2 82 28"), "invalid utf-8 sequence of 2 bytes from index 0");
  EXPECT_EQ(check_hex("f0 9f 98 28"), "invalid utf-8 sequence of 3 bytes from index 0");
  EXPECT_EQ(check_hex("61 62 c3 28"), "invalid utf-8 sequence of 1 bytes from index 2");
}

TEST(ProtocolUtf8, TruncatedSequencesAreIncomplete) {
  EXPECT_EQ(check_hex("c3"), "incomplete utf-8 byte sequence from index 0");
  EXPECT_EQ(check_hex("61 e2 82"), "incomplete utf-8 byte sequence from index 1");
  EXPECT_EQ(check_hex("f0 9f 98"), "incomplete utf-8 byte sequence from index 0");
  EXPECT_EQ(check_hex("f0"), "incomplete utf-8 byte sequence from index 0");
  // A bad second byte is reported as invalid even when the input also ends early.
  EXPECT_EQ(check_hex("e0 80"), "invalid utf-8 sequence of 1 bytes from index 0");
}

TEST(ProtocolUtf8, ErrorPositionInsideLongAscii) {
  // Moves the bad byte across the word-at-a-time fast path's boundaries.
  for (std::size_t pos = 0; pos < 40; ++pos) {
    std::vector<std::uint8_t> text(40, 'x');
    text[pos] = 0xff;
    auto err = validate_utf8(text);
    ASSERT_TRUE(err.has_value()) << pos;
    EXPECT_EQ(err->valid_up_to, pos);
    EXPECT_EQ(err->error_len, 1u);
  }
}

TEST(ProtocolUtf8, AgreesWithReferenceOnEveryShortSequence) {
  std::vector<std::uint8_t> buf;
  for (std::uint32_t v = 0; v < (1u << 24); ++v) {
    for (std::size_t len : {1u, 2u, 3u}) {
      if (len < 3 && (v >> (8 * len)) != 0) continue;  // each shorter sequence once
      buf.clear();
      for (std::size_t k = len; k-- > 0;) buf.push_back(static_cast<std::uint8_t>(v >> (8 * k)));
      if (validate_utf8(buf).has_value() != reference_valid(buf)) continue;
      FAIL() << "disagreement on " << test::to_hex(buf);
    }
  }
}

TEST(ProtocolUtf8, AgreesWithReferenceOnFourByteSequences) {
  std::mt19937 rng(0x5eed0005);
  std::vector<std::uint8_t> buf(4);
  // Lead bytes around the 4-byte range (E8..FF) with every second byte, and random tails.
  for (int lead = 0xe8; lead <= 0xff; ++lead) {
    for (int second = 0; second < 256; ++second) {
      for (int i = 0; i < 64; ++i) {
        buf = {static_cast<std::uint8_t>(lead), static_cast<std::uint8_t>(second),
               static_cast<std::uint8_t>(rng() & 0xbf), static_cast<std::uint8_t>(rng() | 0x80)};
        ASSERT_EQ(validate_utf8(buf).has_value(), !reference_valid(buf)) << test::to_hex(buf);
      }
    }
  }
}

bool is_utf8(std::string_view s) {
  return !validate_utf8({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

TEST(ProtocolUtf8, ClipKeepsWhatFits) {
  EXPECT_EQ(clip_utf8("", 0), "");
  EXPECT_EQ(clip_utf8("abc", 3), "abc");
  EXPECT_EQ(clip_utf8("abc", 10), "abc");
  EXPECT_EQ(clip_utf8("abcdef", 4), "abcd");
  EXPECT_EQ(clip_utf8("abc", 0), "");
}

TEST(ProtocolUtf8, ClipNeverSplitsASequence) {
  // "aé€😀": 1 + 2 + 3 + 4 bytes.
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  const std::size_t boundaries[] = {0, 1, 3, 6, 10};
  for (std::size_t max = 0; max <= text.size(); ++max) {
    const std::string_view clipped = clip_utf8(text, max);
    std::size_t expected = 0;
    for (std::size_t b : boundaries)
      if (b <= max) expected = b;
    EXPECT_EQ(clipped.size(), expected) << max;
    EXPECT_TRUE(is_utf8(clipped)) << max;
  }
}

TEST(ProtocolUtf8, ClipFitsACloseFrame) {
  std::string reason(122, 'x');
  reason += "\xe2\x82\xac";  // a 3-byte sequence across the 123-byte limit
  EXPECT_EQ(clip_utf8(reason, 123), std::string(122, 'x'));
}

}  // namespace
}  // namespace zlt::proto
