// The one logger: levels, text or JSON lines, an optional host sink.
//
//   ZLT_LOG(info, "server") << "tunnel " << id << " registered " << name;
//   ZLT_LOG(warn, "agent").field("tunnel", id) << "heartbeat timeout";
//
// Arguments are only evaluated when the level is enabled.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace zlt {

enum class LogLevel : int { trace = 0, debug, info, warn, error, off };
enum class LogFormat { text, json };

std::optional<LogLevel> parse_log_level(std::string_view name);  // "trace".."error", "off"
std::string_view log_level_name(LogLevel level);

struct LogRecord {
  LogLevel level;
  std::string_view component;
  std::string_view message;
  const nlohmann::json& fields;  // an object, possibly empty
};
using LogSink = std::function<void(const LogRecord&)>;

class Log {
 public:
  static void set_level(LogLevel level) { level_.store(static_cast<int>(level)); }
  static LogLevel level() { return static_cast<LogLevel>(level_.load(std::memory_order_relaxed)); }
  static bool enabled(LogLevel level) {
    return static_cast<int>(level) >= level_.load(std::memory_order_relaxed);
  }
  static void set_format(LogFormat format);
  // Replaces stderr output with a host function (nullptr restores stderr). The sink is called
  // from whichever thread logs; it must be thread-safe.
  static void set_sink(LogSink sink);
  static void write(LogLevel level, std::string_view component, std::string_view message,
                    const nlohmann::json& fields);
  // Formats one record the way stderr output does (without the trailing newline).
  static std::string format(const LogRecord& record, LogFormat format);

 private:
  static std::atomic<int> level_;
};

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component) : level_(level), component_(component) {}
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine() { Log::write(level_, component_, text_.str(), fields_); }

  template <class T>
  LogLine& operator<<(const T& value) {
    text_ << value;
    return *this;
  }
  LogLine& field(std::string_view key, nlohmann::json value) {
    fields_[std::string(key)] = std::move(value);
    return *this;
  }

 private:
  LogLevel level_;
  std::string_view component_;
  std::ostringstream text_;
  nlohmann::json fields_ = nlohmann::json::object();
};

// A for statement rather than if/else, so the macro nests safely inside an unbraced if.
#define ZLT_LOG(lvl, component)                                                        \
  for (bool zlt_log_once_ = ::zlt::Log::enabled(::zlt::LogLevel::lvl); zlt_log_once_; \
       zlt_log_once_ = false)                                                          \
  ::zlt::LogLine(::zlt::LogLevel::lvl, component)

}  // namespace zlt
