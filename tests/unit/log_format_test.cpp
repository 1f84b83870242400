// Log lines stay one event per line, and JSON lines stay JSON, whatever bytes a peer put into a
// message or a field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/common/json_dump.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

std::string text_line(std::string_view message, const nlohmann::json& fields) {
  return Log::format(LogRecord{LogLevel::info, "test", message, fields}, LogFormat::text);
}

std::string json_line(std::string_view message, const nlohmann::json& fields) {
  return Log::format(LogRecord{LogLevel::info, "test", message, fields}, LogFormat::json);
}

TEST(LogFormat, TextEscapesControlCharactersInTheMessage) {
  const std::string line = text_line("reason x\nFORGED level=error\r\t\x01\x7f end", {});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_NE(line.find(R"(reason x\nFORGED level=error\r\t\x01\x7f end)"), std::string::npos)
      << line;
}

TEST(LogFormat, TextEscapesControlCharactersInFieldValues) {
  nlohmann::json fields = {{"bare", "a\nb"}, {"spaced", "x\nFORGED level=error \"q\" \\"}};
  const std::string line = text_line("open", fields);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_NE(line.find(R"(bare=a\nb)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"(spaced="x\nFORGED level=error \"q\" \\")"), std::string::npos) << line;
  // Non-string values are JSON, whose escapes already keep them on one line.
  EXPECT_NE(text_line("m", {{"list", {"a\nb"}}}).find(R"(list=["a\nb"])"), std::string::npos);
}

TEST(LogFormat, TextShowsBytesThatAreNotUtf8AsHex) {
  const std::string line = text_line("caf\xc3\xa9 \xff\xfe ok \xe2\x82", {{"v", "a\xff"}});
  EXPECT_NE(line.find("caf\xc3\xa9 \\xff\\xfe ok \\xe2\\x82"), std::string::npos) << line;
  EXPECT_NE(line.find("v=a\\xff"), std::string::npos) << line;
}

TEST(LogFormat, JsonStaysValidForInvalidUtf8) {
  const std::string line =
      json_line("bad \xff\xfe\n", {{"target", "db\xff:5432"}, {"nested", {{"k", "\xc3"}}}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  nlohmann::json parsed = nlohmann::json::parse(line);  // throws (fails the test) if invalid
  EXPECT_EQ(parsed["msg"], "bad \xEF\xBF\xBD\xEF\xBF\xBD\n");  // U+FFFD for each bad byte
  EXPECT_EQ(parsed["target"], "db\xEF\xBF\xBD:5432");
}

TEST(LogFormat, DumpJsonNeverThrowsOnPeerStrings) {
  nlohmann::json j = {{"error", "invalid JSON: \xff"}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);  // what dump_json protects from
  EXPECT_EQ(dump_json(j), "{\"error\":\"invalid JSON: \xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace zlt
