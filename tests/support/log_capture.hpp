// Collects every record the library logs while it lives, from any thread (the stderr output is
// replaced meanwhile). Each record is kept as its level, component, message and fields, and
// formatted on request as a text line or a JSON line exactly as stderr output would be.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/runtime/log.hpp"

namespace zlt::test {

class LogCapture {
 public:
  struct Line {
    LogLevel level = LogLevel::info;
    std::string component;
    std::string message;
    nlohmann::json fields;
  };

  // With `at_least`, records of that level are logged while the capture lives even if the
  // level is higher; the level is restored afterwards.
  explicit LogCapture(std::optional<LogLevel> at_least = std::nullopt);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<Line> lines();
  // The messages containing `needle`, in order.
  std::vector<std::string> messages_with(const std::string& needle);
  // Some message contains `text`.
  bool any(const std::string& text);
  // The first line whose message contains `text` and whose "peer" field is `peer`; waits up to
  // 5 s.
  std::optional<Line> wait_for(const std::string& text, const std::string& peer);

  // The formatted lines (text / JSON).
  std::vector<std::string> text();
  std::vector<std::string> json();
  // Some text line contains `needle` (now, or within the default wait of eventually()).
  bool has(const std::string& needle);
  bool wait_for(const std::string& needle);

 private:
  std::optional<LogLevel> previous_level_;
  std::mutex mu_;
  std::vector<std::string> formatted(LogFormat format);

  std::vector<Line> lines_;
};

}  // namespace zlt::test
