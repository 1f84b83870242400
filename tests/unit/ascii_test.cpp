#include "core/common/ascii.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zlt {
namespace {

TEST(AsciiTest, FoldsOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower('A'), 'a');
  EXPECT_EQ(ascii_lower('Z'), 'z');
  EXPECT_EQ(ascii_lower('a'), 'a');
  EXPECT_EQ(ascii_lower('@'), '@');  // just below 'A'
  EXPECT_EQ(ascii_lower('['), '[');  // just above 'Z'
  EXPECT_EQ(ascii_upper('a'), 'A');
  EXPECT_EQ(ascii_upper('z'), 'Z');
  EXPECT_EQ(ascii_upper('`'), '`');
  EXPECT_EQ(ascii_upper('{'), '{');
  // Bytes above 0x7f (negative as char) pass through unchanged, whatever the locale says.
  for (int b = 0x80; b <= 0xff; ++b) {
    const char c = static_cast<char>(b);
    EXPECT_EQ(ascii_lower(c), c) << b;
    EXPECT_EQ(ascii_upper(c), c) << b;
  }
}

TEST(AsciiTest, ClassifiesDigitsAndLetters) {
  for (int b = 0; b <= 0xff; ++b) {
    const char c = static_cast<char>(b);
    const bool digit = b >= '0' && b <= '9';
    const bool alpha = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    EXPECT_EQ(ascii_is_digit(c), digit) << b;
    EXPECT_EQ(ascii_is_alpha(c), alpha) << b;
    EXPECT_EQ(ascii_is_alnum(c), digit || alpha) << b;
  }
}

TEST(AsciiTest, ConvertsWholeStrings) {
  EXPECT_EQ(to_ascii_lower("Sec-WebSocket-Key: ÄBC"), "sec-websocket-key: Äbc");
  EXPECT_EQ(to_ascii_upper("info"), "INFO");
  EXPECT_EQ(to_ascii_lower(""), "");
}

TEST(AsciiTest, ComparesIgnoringAsciiCase) {
  EXPECT_TRUE(iequals_ascii("Upgrade", "upgrade"));
  EXPECT_TRUE(iequals_ascii("WEBSOCKET", "websocket"));
  EXPECT_TRUE(iequals_ascii("", ""));
  EXPECT_FALSE(iequals_ascii("upgrade", "upgrades"));
  EXPECT_FALSE(iequals_ascii("a", "b"));
  // '@' and '`' differ from 'A' and 'a' by 0x20 but are not letters.
  EXPECT_FALSE(iequals_ascii("@", "`"));
  EXPECT_FALSE(iequals_ascii("[", "{"));
  // Non-ASCII bytes compare exactly: 'Ä' (C3 84) is not 'ä' (C3 A4).
  EXPECT_FALSE(iequals_ascii("Ä", "ä"));
  EXPECT_TRUE(iequals_ascii("Ä", "Ä"));
  static_assert(iequals_ascii("Host", "HOST"));
}

}  // namespace
}  // namespace zlt
