// What both ends of a control channel share: decoding, sending, the stream table with flow
// control, channel backpressure, and an orderly end. Server and agent sessions derive from it
// and decide what control messages mean; nothing here knows about sockets beyond the
// StreamEndpoint interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/common/error.hpp"
#include "core/protocol/message.hpp"
#include "core/runtime/deferred_delete.hpp"
#include "core/runtime/runtime.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/counters.hpp"
#include "core/session/stream.hpp"
#include "core/transport/channel.hpp"

namespace zlt {

class Session : public ChannelEvents {
 public:
  // Defaults of the outgoing queue cap (config max_session_queue, slow_peer_timeout).
  static constexpr std::size_t kDefaultMaxQueue = 2u << 20;
  static constexpr std::chrono::milliseconds kDefaultSlowPeerTimeout{30000};

  Session(Runtime& runtime, Channel& channel, std::string component);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Runtime& runtime() { return runtime_; }
  uv_loop_t* loop() { return runtime_.loop(); }
  // The channel, or null once it has closed.
  Channel* channel() { return channel_; }
  // Real bytes waiting in the outgoing queue.
  std::size_t queued_bytes() const { return channel_ != nullptr ? channel_->queued_bytes() : 0; }
  // Real bytes held for this session: its outgoing queue and what its streams buffer toward
  // their sockets.
  std::size_t held_bytes() const;
  // Caps the outgoing queue (data and control replies alike) at `max_queue` real bytes. Above
  // it this end stops reading the channel; a peer that has not drained it within
  // `slow_peer_timeout` is disconnected with "slow consumer".
  void set_queue_limits(std::size_t max_queue, std::chrono::milliseconds slow_peer_timeout);
  std::size_t max_queue() const { return max_queue_; }
  // Whether reading is paused because the peer does not drain the queue.
  bool throttled() const { return throttled_; }
  // The queue figures for status output: queued_bytes, held_bytes, max_session_queue,
  // throttled, ending.
  nlohmann::json queue_status() const;
  bool alive() const { return channel_ != nullptr && !ending_; }
  std::uint32_t features() const { return features_; }
  bool has(std::uint32_t feature) const { return (features_ & feature) != 0; }
  bool is_v2() const { return v2_; }
  const std::string& peer() const { return peer_; }
  const std::shared_ptr<Counters>& counters() const { return counters_; }
  // A short name for logs ("tunnel 1234abcd", "agent").
  const std::string& label() const { return label_; }
  void set_label(std::string label) { label_ = std::move(label); }

  // ---- sending ----
  void send(const proto::Message& message);
  void send_chunk(ChunkPtr message);
  bool congested() const { return channel_ != nullptr && channel_->congested(); }

  // ---- streams ----
  Stream& add_stream(std::unique_ptr<Stream> stream);
  Stream* find_stream(const Uuid& id);
  std::size_t stream_count() const { return streams_.size(); }
  // Calls f(Stream&) for every live stream.
  template <class F>
  void for_each_stream(F&& f) {
    for (auto& [id, s] : streams_) f(*s);
  }
  // A stream waits for on_channel_drain before it may read again.
  void wait_for_drain(Stream& stream);

  // Ends the session: Disconnect{reason} if `disconnect` and the peer may receive one, then a
  // WebSocket close with `code`. Streams close at once.
  void end(const std::string& reason, std::uint16_t code, bool disconnect);

  // ChannelEvents
  void on_channel_message(std::span<const std::uint8_t> message) final;
  void on_channel_drain() final;
  void on_channel_closed(const Error& why) final;

 protected:
  void set_negotiated(bool v2, std::uint32_t features) {
    v2_ = v2;
    features_ = features;
  }
  // Control messages (everything but stream messages), in channel order.
  virtual void handle_control(proto::Message& message) = 0;
  // The channel is gone and every stream is closed. Last call on this object: the owner may
  // destroy it inside.
  virtual void on_session_closed(const Error& why) = 0;
  // Whether this end may send Disconnect (v1: server only).
  virtual bool may_send_disconnect() const = 0;
  // A fatal protocol violation: Disconnect{"protocol error: ..."} and close 1002.
  void protocol_error(const std::string& what);
  // Any message arrived (liveness).
  std::uint64_t last_rx_ms() const { return last_rx_ms_; }
  // Why this end ended the session (empty if the peer or the network ended it).
  const std::string& end_reason() const { return end_reason_; }
  std::string component_;

 private:
  friend class Stream;
  void stream_ended(Stream& stream);
  void close_streams(const std::string& reason);
  bool handle_stream_message(proto::Message& message);
  // After every send: the queue cap (pause reading, arm the slow-peer timer).
  void check_queue();
  void release_throttle();

  Runtime& runtime_;
  Channel* channel_;
  std::string peer_;
  std::string label_;
  bool v2_ = false;
  std::uint32_t features_ = 0;
  bool ending_ = false;
  std::string end_reason_;
  std::uint64_t last_rx_ms_ = 0;
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  std::unordered_map<Uuid, std::unique_ptr<Stream>, UuidHash> streams_;
  std::vector<Uuid> blocked_;  // streams waiting for the channel to drain
  std::vector<std::uint8_t> scratch_;  // encoding buffer for control messages
  std::size_t max_queue_ = kDefaultMaxQueue;
  std::chrono::milliseconds slow_peer_timeout_ = kDefaultSlowPeerTimeout;
  bool throttled_ = false;
  bool throttle_logged_ = false;
  Timer slow_peer_timer_;
  // Streams end from inside their own callbacks; they are destroyed on the next loop turn.
  // Last member: a buried stream still uses everything above, so it must go first.
  DeferredDelete ended_streams_;
};

}  // namespace zlt
