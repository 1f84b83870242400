// Slows down guessing tokens: each source address that keeps failing Auth waits longer before
// it hears AuthFail. The first few failures are answered at once (a mistyped token), then the
// wait doubles up to a cap. One failure is forgiven per quiet period, and the table of
// addresses is bounded (the address that failed longest ago is forgotten first). Only the
// failing address waits; nobody else is slowed, and a valid token is never delayed.
//
// It also keeps a flood of bad tokens out of the log: the first failure of each source is
// always logged, the rest share one line per log period that says how many were left out.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/runtime/log_throttle.hpp"

namespace zlt {

class AuthFailureThrottle {
 public:
  struct Options {
    std::size_t free_failures = 3;                   // answered at once
    std::chrono::milliseconds first_delay{250};      // the next failure; doubles from there
    std::chrono::milliseconds max_delay{5000};       // 0: never wait
    std::chrono::milliseconds forgive_every{10000};  // one failure forgotten per quiet period
    std::size_t max_sources = 4096;
    std::chrono::milliseconds log_period{10000};  // repeated failures: one line per period
  };
  struct Verdict {
    std::chrono::milliseconds delay{0};  // before answering AuthFail
    // Whether to log this failure; if so, how many failures were left out of the log since
    // the last line (LogThrottle::left_out_note).
    std::optional<std::uint64_t> log;
  };

  explicit AuthFailureThrottle(Options options)
      : options_(options), log_throttle_(options.log_period) {}

  // Records a failed Auth from `source` (an IP address) at `now_ms`.
  Verdict failed(const std::string& source, std::uint64_t now_ms);
  std::size_t size() const { return by_source_.size(); }
  // A reload: the next failures wait at most this long.
  void set_max_delay(std::chrono::milliseconds d) { options_.max_delay = d; }

 private:
  struct Record {
    std::uint64_t failures = 0;
    std::uint64_t last_ms = 0;
    std::list<std::string>::iterator in_lru;
  };
  Options options_;
  std::unordered_map<std::string, Record> by_source_;
  std::list<std::string> lru_;  // most recent failure first
  LogThrottle log_throttle_;    // failures after each source's first
};

}  // namespace zlt
