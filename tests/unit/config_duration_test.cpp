#include <gtest/gtest.h>

#include <string>

#include "core/config/config.hpp"

namespace zlt::config {
namespace {

std::string error_of(const Result<Duration>& r) {
  return r.ok() ? "<ok>" : r.error().message;
}

TEST(ConfigDuration, ParsesTheOriginalForms) {
  const std::pair<std::string_view, Duration> cases[] = {
      {"10s", 10s},     {"2m", 120s},
      {"500ms", 500ms}, {"1000ms", 1000ms},
      {"1h", 3600s},    {"2h", 7200s},
      {"  5s ", 5s},    {"7", 7s},
      {"0", 0s},        {"0ms", 0ms},
      {"5 ms", 5ms},    {"\t3m\n", 180s},
      {"007s", 7s},     {"9223372036854775807ms", Duration(INT64_MAX)},
  };
  for (const auto& [text, expected] : cases) {
    Result<Duration> d = parse_duration(text);
    ASSERT_TRUE(d.ok()) << "'" << text << "': " << error_of(d);
    EXPECT_EQ(*d, expected) << "'" << text << "'";
  }
}

TEST(ConfigDuration, RejectsWithTheOriginalMessages) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", "invalid duration format: "},        {"   ", "invalid duration format: "},
      {"1.5s", "invalid duration number: 1.5"}, {"5x", "invalid duration format: 5x"},
      {"-1s", "invalid duration number: -1"},   {"+5s", "invalid duration number: +5"},
      {"ms", "invalid duration number: "},      {"1m30s", "invalid duration number: 1m30"},
      {"s5", "invalid duration format: s5"},    {"ten s", "invalid duration number: ten "},
      {"1d", "invalid duration format: 1d"},
  };
  for (const auto& [text, message] : cases) {
    Result<Duration> d = parse_duration(text);
    ASSERT_FALSE(d.ok()) << "'" << text << "'";
    EXPECT_EQ(d.error().code, Errc::config);
    EXPECT_EQ(d.error().message, message) << "'" << text << "'";
  }
}

TEST(ConfigDuration, OverflowIsAnError) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"99999999999999999999", "duration out of range: 99999999999999999999"},
      {"9223372036854776", "duration out of range: 9223372036854776"},
      {"9223372036854776s", "duration out of range: 9223372036854776s"},
      {"153722867280913m", "duration out of range: 153722867280913m"},
      {"2562047788016h", "duration out of range: 2562047788016h"},
      {"9223372036854775808ms", "duration out of range: 9223372036854775808ms"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(error_of(parse_duration(text)), message);
  EXPECT_EQ(*parse_duration("2562047788015h"), std::chrono::hours(2562047788015));
}

TEST(ConfigDuration, FormatKeepsMilliseconds) {
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(120s), "120s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(1h), "3600s");
  for (Duration d : {Duration(0), Duration(1), Duration(999), Duration(1000), Duration(61001),
                     Duration(INT64_MAX)}) {
    EXPECT_EQ(*parse_duration(format_duration(d)), d) << d.count();
  }
}

}  // namespace
}  // namespace zlt::config
