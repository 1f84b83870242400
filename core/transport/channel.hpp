// A message channel: one WebSocket carrying protocol messages, whichever end implements it
// (the libwebsockets server connection or the project's own client). Sessions talk to this
// interface only, so the same session code runs on both ends.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/common/chunk.hpp"
#include "core/common/error.hpp"

namespace zlt {

// WebSocket close codes used by the protocol (RFC 6455 §7.4.1).
namespace close_code {
inline constexpr std::uint16_t kNormal = 1000;
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kProtocolError = 1002;
inline constexpr std::uint16_t kPolicyViolation = 1008;  // authentication refused
inline constexpr std::uint16_t kMessageTooBig = 1009;
inline constexpr std::uint16_t kInternalError = 1011;
inline constexpr std::uint16_t kTryAgainLater = 1013;  // a connection cap was reached
}  // namespace close_code

class ChannelEvents {
 public:
  virtual ~ChannelEvents() = default;
  // One complete binary WebSocket message (= one protocol message). The span is valid only
  // during the call.
  virtual void on_channel_message(std::span<const std::uint8_t> message) = 0;
  // The send queue fell below the low-water mark after having been above the high-water mark.
  virtual void on_channel_drain() = 0;
  // The channel is gone (closed by either side or failed). Called once; the channel must not
  // be used afterwards. `why` says what happened ("closed by peer (1000)", "connection reset").
  virtual void on_channel_closed(const Error& why) = 0;
};

class Channel {
 public:
  // Send-queue marks: above kHighWater producers stop reading their sockets until
  // on_channel_drain (queue <= kLowWater).
  static constexpr std::size_t kHighWater = 1 << 20;
  static constexpr std::size_t kLowWater = 256 << 10;

  virtual ~Channel() = default;

  virtual void set_events(ChannelEvents* events) = 0;
  // Queues one protocol message: the chunk's content. The channel writes its frame header into
  // the chunk's headroom (at least Chunk::kFrameHeadroom bytes must be free in front).
  virtual void send(ChunkPtr message) = 0;
  // Real bytes (chunk footprints, not just content) queued and not yet handed to the kernel.
  virtual std::size_t queued_bytes() const = 0;
  bool congested() const { return queued_bytes() >= high_water_; }
  // The owner caps the queue at `limit`: the marks move below it, so producers stop (and
  // on_channel_drain follows) before the cap is reached.
  void set_queue_limit(std::size_t limit) {
    high_water_ = std::min(kHighWater, limit);
    low_water_ = std::min(kLowWater, high_water_ / 4);
  }
  std::size_t high_water() const { return high_water_; }
  std::size_t low_water() const { return low_water_; }
  // Stops (true) or resumes (false) delivering messages; the peer is then held back by TCP.
  virtual void pause_receive(bool paused) = 0;
  // Sends what is queued, then a close frame with `code` and `reason`, then closes.
  // on_channel_closed follows (asynchronously).
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  // The peer's address as "ip:port" / "[v6]:port".
  virtual std::string peer_address() const = 0;

 private:
  std::size_t high_water_ = kHighWater;
  std::size_t low_water_ = kLowWater;
};

}  // namespace zlt
