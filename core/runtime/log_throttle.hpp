// A recurring event that a peer can trigger at will (a refused connection, an evicted flow)
// must not flood the log: at most one line per period, and that line says how many like it
// were left out since the previous one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace zlt {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::milliseconds period = std::chrono::seconds(10))
      : period_ms_(static_cast<std::uint64_t>(period.count())) {}

  // Whether the event at `now_ms` may be logged. If so, returns how many events were left out
  // since the last line; otherwise counts this one as left out.
  std::optional<std::uint64_t> allow(std::uint64_t now_ms) {
    if (logged_once_ && now_ms - last_ms_ < period_ms_) {
      ++left_out_;
      return std::nullopt;
    }
    logged_once_ = true;
    last_ms_ = now_ms;
    std::uint64_t n = left_out_;
    left_out_ = 0;
    return n;
  }

  // " (N more since the last report)" or nothing: the suffix for a line allow() permitted.
  static std::string left_out_note(std::uint64_t n) {
    return n == 0 ? std::string() : " (" + std::to_string(n) + " more since the last report)";
  }

 private:
  std::uint64_t period_ms_;
  std::uint64_t last_ms_ = 0;
  std::uint64_t left_out_ = 0;
  bool logged_once_ = false;
};

}  // namespace zlt
