// Round-trip time from heartbeats. The wire carries wall-clock milliseconds, too coarse for a
// LAN or loopback, so the sender also remembers when, on the monotonic clock, it sent the last
// timestamp and measures the echo against that.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

namespace zlt {

class RttEstimator {
 public:
  // Call with the timestamp of the heartbeat being sent now; returns it.
  std::uint64_t sent(std::uint64_t timestamp) {
    pending_ = timestamp;
    sent_at_ = Clock::now();
    return timestamp;
  }
  // The echo of a heartbeat. Only the latest one counts: an echo of an older heartbeat (or a
  // timestamp never sent) says nothing about when it left.
  void echoed(std::uint64_t timestamp) {
    if (!pending_ || *pending_ != timestamp) return;
    pending_.reset();
    const double sample =
        std::chrono::duration<double, std::milli>(Clock::now() - sent_at_).count();
    // Smoothed like TCP's SRTT (1/8 gain), so one slow reply does not dominate.
    srtt_ms_ = srtt_ms_ ? (*srtt_ms_ * 7 + sample) / 8 : sample;
  }
  // Milliseconds, to the microsecond; none before the first echo.
  std::optional<double> ms() const {
    if (!srtt_ms_) return std::nullopt;
    return std::round(*srtt_ms_ * 1000) / 1000;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::optional<std::uint64_t> pending_;
  Clock::time_point sent_at_;
  std::optional<double> srtt_ms_;
};

}  // namespace zlt
