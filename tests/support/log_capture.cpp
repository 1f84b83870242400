#include "support/log_capture.hpp"

#include <chrono>

#include "support/harness.hpp"

namespace zlt::test {

LogCapture::LogCapture(std::optional<LogLevel> at_least) {
  if (at_least) {
    previous_level_ = Log::level();
    if (!Log::enabled(*at_least)) Log::set_level(*at_least);
  }
  Log::set_sink([this](const LogRecord& r) {
    std::lock_guard lock(mu_);
    lines_.push_back({std::string(r.message), r.fields});
    text_.push_back(Log::format(r, LogFormat::text));
    json_.push_back(Log::format(r, LogFormat::json));
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

std::vector<std::string> LogCapture::text() {
  std::lock_guard lock(mu_);
  return text_;
}

std::vector<std::string> LogCapture::json() {
  std::lock_guard lock(mu_);
  return json_;
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
