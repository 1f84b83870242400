// The project's own RFC 6455 WebSocket client over libuv (docs/DESIGN.md, "The rooms"; the
// libwebsockets client masks and parses a byte at a time). It composes the transport's
// parts: the Dialer (DNS, each address in turn), an HTTP CONNECT proxy (http_proxy), a
// ByteStream (plain or TLS, the write queue), the upgrade (ws_handshake) and the RFC 6455
// engine (ws_codec), and keeps the connection's states, deadlines and in-place data path.
//
// Lifetime: the owner may destroy a WsClient at any time except from inside one of its event
// callbacks. An owner that is done with it there calls set_events(nullptr), after which no
// event is delivered, and hands it to a DeferredDelete (the one way core frees an object that
// is still on the call stack).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/chunk.hpp"
#include "core/common/error.hpp"
#include "core/crypto/crypto.hpp"
#include "core/protocol/message.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/transport/byte_stream.hpp"
#include "core/transport/channel.hpp"
#include "core/transport/dialer.hpp"
#include "core/transport/tls_client.hpp"
#include "core/transport/url.hpp"
#include "core/transport/ws_codec.hpp"

namespace zlt {

struct WsClientOptions {
  std::string url;
  std::optional<std::string> ca_file;  // nullopt: the system CA store
  bool insecure = false;               // skip certificate and hostname verification
  // http://[user:pass@]host:port; nullopt = direct (callers resolve the environment themselves,
  // see proxy_from_env).
  std::optional<std::string> proxy;
  // Everything up to the open event: DNS, TCP, proxy, TLS and the upgrade.
  std::chrono::milliseconds connect_timeout{10000};
  std::vector<std::string> subprotocols{"zlayer-tunnel.v1"};
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  // A larger incoming message closes the connection with 1009. Capped at kMaxMessageSize,
  // which is what one chunk holds.
  std::size_t max_message_size = proto::kMaxMessageSize;
};

class WsClientEvents : public ChannelEvents {
 public:
  // The upgrade succeeded; messages sent before this have been handed to the socket.
  virtual void on_channel_open() = 0;
};

class WsClient final : public Channel, private ByteStreamEvents {
 public:
  struct Stats {
    std::uint64_t bytes_in = 0;   // payload bytes of delivered binary messages
    std::uint64_t bytes_out = 0;  // payload bytes of messages passed to send()
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
  };

  // The read buffer: any frame within max_message_size fits, so complete frames are parsed
  // and delivered in place.
  static constexpr std::size_t kReadBufferSize = 256 * 1024;
  // How long close() waits for the peer's close frame before dropping the connection.
  static constexpr std::chrono::milliseconds kCloseTimeout{2000};

  WsClient(uv_loop_t* loop, WsClientOptions options, WsClientEvents* events);
  ~WsClient() override;
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects asynchronously. Failures arrive as on_channel_closed; never calls an event
  // from inside start().
  void start();

  void set_events(ChannelEvents* events) override;
  // Allowed before open: frames are queued and flushed right after the upgrade. Ignored once
  // closing.
  void send(ChunkPtr message) override;
  std::size_t queued_bytes() const override;
  void pause_receive(bool paused) override;
  void close(std::uint16_t code, std::string_view reason) override;
  std::string peer_address() const override;

  Stats stats() const { return stats_; }
  bool is_open() const { return state_ == State::open; }
  // The configured URL (credentials never appear in it).
  std::string url() const;

 private:
  enum class State { idle, resolving, connecting, proxy, tls, upgrade, open, closing, closed };
  enum Deferred : unsigned { kKickoff = 1, kResume = 2, kFail = 4 };

  // Connection setup. Every bool-returning step returns false when the object finished (and
  // may be gone): the caller must return at once.
  void on_deferred();
  void begin_dial();
  bool on_connected(UvHandle<uv_tcp_t> socket, const SockAddr& peer);
  bool begin_session();
  bool send_upgrade_request();
  bool process_inbound();
  bool handle_proxy_response();
  bool handle_upgrade_response();
  bool on_upgraded();

  // The byte stream's events.
  std::span<std::uint8_t> read_space() override;
  bool on_stream_data(std::size_t n) override;
  bool on_stream_secure() override;
  bool on_stream_read_error(int uv_code) override;
  bool on_stream_written(int status) override;
  bool on_stream_error(Error why) override;

  // Frames.
  bool process_frames();
  bool handle_control(std::uint8_t opcode, std::span<const std::uint8_t> payload);
  bool fail_protocol(ws::Violation violation);
  void send_control(ws::Opcode opcode, std::span<const std::uint8_t> payload);
  void send_close_frame(std::uint16_t code, std::string_view reason);
  void frame_in_place(Chunk& chunk, ws::Opcode opcode);
  void write_frame(ChunkPtr frame);
  bool maybe_drain();
  void update_reading();

  // Endings.
  bool active() const { return state_ != State::closed && !pending_finish_ && !deferred_error_; }
  bool handshaking() const { return state_ == State::tls || state_ == State::upgrade; }
  void defer(unsigned what);
  void fail_later(Error why);
  bool finish_after_flush(Error why);
  bool finish(Error why);
  void teardown();
  Error with_url(Errc code, std::string message) const;
  Error with_url(Error e) const { return with_url(e.code, std::move(e.message)); }

  bool emit_open();
  bool emit_message(std::span<const std::uint8_t> message);
  bool emit_drain();

  uv_loop_t* loop_;
  WsClientOptions options_;
  ChannelEvents* events_;
  WsClientEvents* ws_events_;
  std::optional<Error> config_error_;
  Url url_;
  std::optional<Url> proxy_url_;
  std::size_t max_message_;

  State state_ = State::idle;
  // Event callbacks under way: the destructor checks that none is (see Lifetime above).
  int calling_out_ = 0;
  unsigned deferred_ = 0;
  std::optional<Error> deferred_error_;
  std::optional<Error> pending_finish_;

  Timer connect_timer_;
  Timer close_timer_;
  Timer defer_timer_;
  Dialer dialer_;
  std::unique_ptr<ByteStream> stream_;
  std::string peer_;
  std::string handshake_key_;

  std::unique_ptr<std::uint8_t[]> in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  bool paused_ = false;

  ws::Codec codec_;  // the rules over the server's frames
  ws::MessageAssembler assembler_;

  std::deque<ChunkPtr> pending_;  // frames sent before open
  // Queue figures are real bytes: the footprints of the chunks held.
  std::size_t pending_bytes_ = 0;
  bool above_high_water_ = false;

  crypto::MaskKeySource masks_;
  Stats stats_;
};

}  // namespace zlt
