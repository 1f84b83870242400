#include "support/log_capture.hpp"

#include <chrono>

#include "support/harness.hpp"

namespace zlt::test {

LogCapture::LogCapture(std::optional<LogLevel> at_least) {
  if (at_least) {
    previous_level_ = Log::level();
    if (!Log::enabled(*at_least)) Log::set_level(*at_least);
  }
  // The sink only copies the record; it is formatted when a test asks, on the test's thread.
  // A record logged while the process has no descriptor left (the descriptor exhaustion
  // tests) must need none: formatting's first use of a type makes UBSan check memory through
  // a pipe, which then fails and is reported as a bad object.
  Log::set_sink([this](const LogRecord& r) {
    std::lock_guard lock(mu_);
    lines_.push_back({r.level, std::string(r.component), std::string(r.message), r.fields});
  });
}

LogCapture::~LogCapture() {
  Log::set_sink(nullptr);
  if (previous_level_) Log::set_level(*previous_level_);
}

std::vector<LogCapture::Line> LogCapture::lines() {
  std::lock_guard lock(mu_);
  return lines_;
}

std::vector<std::string> LogCapture::messages_with(const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& l : lines())
    if (l.message.find(needle) != std::string::npos) out.push_back(l.message);
  return out;
}

bool LogCapture::any(const std::string& text) {
  return !messages_with(text).empty();
}

std::optional<LogCapture::Line> LogCapture::wait_for(const std::string& text,
                                                     const std::string& peer) {
  using namespace std::chrono_literals;
  std::optional<Line> found;
  eventually(
      [&] {
        for (const auto& l : lines())
          if (l.message.find(text) != std::string::npos && l.fields.value("peer", "") == peer) {
            found = l;
            return true;
          }
        return false;
      },
      5s);
  return found;
}

std::vector<std::string> LogCapture::formatted(LogFormat format) {
  std::vector<std::string> out;
  for (const auto& l : lines())
    out.push_back(Log::format(LogRecord{l.level, l.component, l.message, l.fields}, format));
  return out;
}

std::vector<std::string> LogCapture::text() {
  return formatted(LogFormat::text);
}

std::vector<std::string> LogCapture::json() {
  return formatted(LogFormat::json);
}

bool LogCapture::has(const std::string& needle) {
  for (const auto& line : text())
    if (line.find(needle) != std::string::npos) return true;
  return false;
}

bool LogCapture::wait_for(const std::string& needle) {
  return eventually([&] { return has(needle); });
}

}  // namespace zlt::test
