#include "core/transport/ws_client.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "core/config/config.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/http_proxy.hpp"
#include "core/transport/ws_handshake.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "ws-client";
// Frames bigger than this never wait in the read buffer (they are refused first), so after
// compaction there is always room for a whole frame.
constexpr std::size_t kMinReadSpace = proto::kMaxMessageSize + ws::kMaxHeaderSize;
static_assert(WsClient::kReadBufferSize >= 2 * kMinReadSpace);

std::string close_text(std::uint16_t code, std::string_view reason) {
  std::string out = std::to_string(code);
  if (!reason.empty()) out += ": " + std::string(reason);
  return out;
}

}  // namespace

// ---- construction, configuration ----

WsClient::WsClient(uv_loop_t* loop, WsClientOptions options, WsClientEvents* events)
    : loop_(loop),
      options_(std::move(options)),
      events_(events),
      ws_events_(events),
      max_message_(std::min(options_.max_message_size, proto::kMaxMessageSize)),
      connect_timer_(loop),
      close_timer_(loop),
      defer_timer_(loop),
      dialer_(loop),
      codec_(ws::Sender::server, max_message_) {
  in_ = std::make_unique<std::uint8_t[]>(kReadBufferSize);
  auto url = parse_url(options_.url);
  if (!url) {
    config_error_ = url.take_error();
    return;
  }
  url_ = std::move(*url);
  if (url_.scheme != "ws" && url_.scheme != "wss") {
    config_error_ = make_error(
        Errc::config, "invalid URL '" + url_.to_string() + "': expected a ws:// or wss:// URL");
    return;
  }
  if (options_.proxy) {
    auto proxy = parse_proxy_url(*options_.proxy);
    if (!proxy) {
      config_error_ = proxy.take_error();
      return;
    }
    proxy_url_ = std::move(*proxy);
  }
  if (auto st = check_extra_headers(options_.headers); !st) config_error_ = st.take_error();
}

WsClient::~WsClient() {
  assert(calling_out_ == 0 && "a WsClient destroyed inside its own callback (see ws_client.hpp)");
  teardown();
}

std::string WsClient::url() const {
  return config_error_ ? options_.url : url_.to_string();
}

void WsClient::set_events(ChannelEvents* events) {
  events_ = events;
  ws_events_ = dynamic_cast<WsClientEvents*>(events);
}

std::string WsClient::peer_address() const {
  return peer_;
}

Error WsClient::with_url(Errc code, std::string message) const {
  return make_error(code, std::move(message) + " (" + url() + ")");
}

// ---- events out ----

// Each returns false when the callback left the client closed: the caller returns at once.
bool WsClient::emit_open() {
  if (ws_events_ == nullptr) return true;
  ++calling_out_;
  ws_events_->on_channel_open();
  --calling_out_;
  return state_ != State::closed;
}

bool WsClient::emit_message(std::span<const std::uint8_t> message) {
  ++stats_.messages_in;
  stats_.bytes_in += message.size();
  if (events_ == nullptr) return true;
  ++calling_out_;
  events_->on_channel_message(message);
  --calling_out_;
  return state_ != State::closed;
}

bool WsClient::emit_drain() {
  if (events_ == nullptr) return true;
  ++calling_out_;
  events_->on_channel_drain();
  --calling_out_;
  return state_ != State::closed;
}

// The terminal step: everything is released first, then the owner hears about it. Always
// false: the caller returns at once.
bool WsClient::finish(Error why) {
  if (state_ == State::closed) return false;
  const bool was_open = state_ == State::open || state_ == State::closing;
  state_ = State::closed;
  teardown();
  if (was_open) {
    ZLT_LOG(info, kLog).field("url", url()) << "closed: " << why.message;
  } else {
    ZLT_LOG(debug, kLog).field("url", url()) << "connection failed: " << why.message;
  }
  if (events_ != nullptr) {
    ++calling_out_;
    events_->on_channel_closed(why);
    --calling_out_;
  }
  return false;
}

void WsClient::teardown() {
  dialer_.abandon();
  stream_.reset();
  connect_timer_.stop();
  close_timer_.stop();
  defer_timer_.stop();
  deferred_ = 0;
  pending_.clear();
  pending_bytes_ = 0;
  assembler_ = {};
}

void WsClient::defer(unsigned what) {
  deferred_ |= what;
  if (!defer_timer_.active()) defer_timer_.start(Timer::Ms{0}, [this] { on_deferred(); });
}

// For failures found inside a call from the owner (send, close), which must not call back
// into it: nothing is processed from here on, and the end is reported from the loop.
void WsClient::fail_later(Error why) {
  if (state_ == State::closed || deferred_error_) return;
  deferred_error_ = std::move(why);
  update_reading();
  defer(kFail);
}

void WsClient::on_deferred() {
  unsigned what = deferred_;
  deferred_ = 0;
  if (what & kFail) {
    Error e = std::move(*deferred_error_);
    deferred_error_.reset();
    finish(std::move(e));
    return;
  }
  if (what & kKickoff) begin_dial();
  if ((what & kResume) && !paused_ && stream_) {
    update_reading();
    if (process_inbound() && stream_) stream_->pump();
  }
}

// ---- the byte stream's events ----

std::span<std::uint8_t> WsClient::read_space() {
  if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
  } else if (kReadBufferSize - in_end_ < kMinReadSpace && in_begin_ > 0) {
    // What is left is at most one partial frame: moving it is cheap.
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  return {in_.get() + in_end_, kReadBufferSize - in_end_};
}

bool WsClient::on_stream_data(std::size_t n) {
  in_end_ += n;
  return process_inbound();
}

bool WsClient::on_stream_error(Error why) {
  return finish(handshaking() ? with_url(std::move(why)) : std::move(why));
}

bool WsClient::on_stream_read_error(int code) {
  if (pending_finish_) return finish(std::move(*pending_finish_));
  const bool eof = code == UV_EOF;
  const std::string text = uv_error_text(code);
  switch (state_) {
    case State::proxy:
      return finish(with_url(Errc::connection, eof ? "proxy closed the connection before "
                                                     "answering CONNECT"
                                                   : "proxy: read: " + text));
    case State::tls:
      return finish(with_url(Errc::connection, eof ? "TLS: connection closed during the handshake"
                                                   : "TLS: read: " + text));
    case State::upgrade:
      return finish(with_url(Errc::connection,
                             eof ? "handshake: connection closed before the upgrade response"
                                 : "handshake: read: " + text));
    case State::closing:
      return finish(
          make_error(Errc::connection, eof ? "connection closed by peer during the close handshake"
                                           : "read: " + text));
    default:
      return finish(
          make_error(Errc::connection,
                     eof ? "connection closed by peer without a close frame" : "read: " + text));
  }
}

bool WsClient::on_stream_written(int status) {
  if (status != 0 || (pending_finish_ && stream_->idle())) {
    if (pending_finish_) return finish(std::move(*pending_finish_));
    return finish(make_error(Errc::connection, "write: " + uv_error_text(status)));
  }
  return maybe_drain();
}

void WsClient::update_reading() {
  if (stream_) stream_->set_reading(active() && !(paused_ && state_ == State::open));
}

// ---- frames in ----

bool WsClient::process_frames() {
  while (active() && (state_ == State::open || state_ == State::closing)) {
    if (paused_ && state_ == State::open) break;
    // Every acceptable frame fits the buffer, so the codec waits for whole frames and the
    // payload is read in place.
    ws::Codec::Next f = codec_.next({in_.get() + in_begin_, in_end_ - in_begin_});
    if (f.status == ws::Codec::Next::need_more) break;
    if (f.status == ws::Codec::Next::violation) return fail_protocol(*codec_.violation());
    const ws::FrameHeader& h = f.header;
    in_begin_ += f.consumed;  // consumed before any callback, which may pause or close

    if (ws::is_control(h.opcode)) {
      if (!handle_control(h.opcode, f.payload)) return false;
      continue;
    }
    auto message = assembler_.add(h, f.payload);
    if (!message) {
      if (h.fin && h.opcode == 1)
        ZLT_LOG(debug, kLog) << "ignoring a text message of " << f.payload.size() << " bytes";
      continue;
    }
    if (state_ == State::open && !emit_message(message->bytes)) return false;
  }
  return state_ != State::closed;
}

bool WsClient::handle_control(std::uint8_t opcode, std::span<const std::uint8_t> payload) {
  switch (static_cast<ws::Opcode>(opcode)) {
    case ws::Opcode::ping:
      if (state_ == State::open) send_control(ws::Opcode::pong, payload);
      return true;
    case ws::Opcode::pong:
      return true;
    default:
      break;
  }
  // Close (its payload passed the codec's checks).
  const ws::CloseStatus peer = ws::read_close_payload(payload);
  if (state_ == State::closing) {
    return finish_after_flush(
        make_error(Errc::shutdown, "closed (" + close_text(peer.code, peer.reason) + ")"));
  }
  // Echo the peer's code (an empty close answers an empty close).
  if (payload.size() >= 2) {
    send_close_frame(peer.code, "");
  } else {
    send_control(ws::Opcode::close, {});
  }
  state_ = State::closing;
  return finish_after_flush(
      make_error(Errc::connection, "closed by peer (" + close_text(peer.code, peer.reason) + ")"));
}

bool WsClient::fail_protocol(ws::Violation violation) {
  ZLT_LOG(warn, kLog).field("url", url()).field("peer", peer_)
      << "protocol error: " << violation.reason << " (closing with " << violation.close_code << ")";
  if (state_ == State::open) send_close_frame(violation.close_code, violation.reason);
  state_ = State::closing;
  // A message over the limit is the peer's choice of size, not broken framing: it stays a
  // limit error for the owner.
  if (violation.close_code == close_code::kMessageTooBig)
    return finish_after_flush(make_error(Errc::limit, std::move(violation.reason)));
  return finish_after_flush(make_error(Errc::protocol, "protocol error: " + violation.reason));
}

// ---- frames out ----

void WsClient::frame_in_place(Chunk& chunk, ws::Opcode opcode) {
  ws::MaskKey key;
  const std::uint32_t k = masks_.next();
  std::memcpy(key.data(), &k, 4);
  ws::frame_in_place(chunk, opcode, &key);
}

void WsClient::send(ChunkPtr message) {
  if (!message || state_ == State::closing || !active()) return;
  if (message->size() + ws::header_size(message->size(), true) > Chunk::kCapacity) {
    ZLT_LOG(error, kLog) << "dropping an outgoing message of " << message->size()
                         << " bytes: larger than a chunk";
    return;
  }
  ++stats_.messages_out;
  stats_.bytes_out += message->size();
  frame_in_place(*message, ws::Opcode::binary);
  if (state_ != State::open) {
    pending_bytes_ += message->footprint();
    pending_.push_back(std::move(message));
  } else {
    write_frame(std::move(message));
  }
  if (queued_bytes() >= high_water()) above_high_water_ = true;
}

void WsClient::send_control(ws::Opcode opcode, std::span<const std::uint8_t> payload) {
  ChunkPtr c = chunk_copy(payload);
  frame_in_place(*c, opcode);
  write_frame(std::move(c));
}

void WsClient::send_close_frame(std::uint16_t code, std::string_view reason) {
  std::array<std::uint8_t, ws::kMaxControlPayload> payload{};
  const std::size_t len = ws::write_close_payload(payload, code, reason);
  send_control(ws::Opcode::close, {payload.data(), len});
}

void WsClient::write_frame(ChunkPtr frame) {
  if (!stream_) return;
  if (auto st = stream_->write(std::move(frame)); !st) fail_later(st.take_error());
}

std::size_t WsClient::queued_bytes() const {
  return pending_bytes_ + (stream_ ? stream_->queued_bytes() : 0);
}

bool WsClient::maybe_drain() {
  if (!above_high_water_ || queued_bytes() > low_water() || state_ != State::open || !active())
    return true;
  above_high_water_ = false;
  return emit_drain();
}

// ---- endings ----

void WsClient::close(std::uint16_t code, std::string_view reason) {
  if (!active() || state_ == State::closing) return;
  if (state_ != State::open) {
    // Not open yet: nothing to say goodbye to. Stop at once so no open event can follow.
    teardown();
    if (state_ == State::idle) state_ = State::resolving;
    fail_later(make_error(Errc::shutdown, "closed before the connection was open"));
    return;
  }
  ZLT_LOG(debug, kLog).field("url", url()) << "closing (" << close_text(code, reason) << ")";
  send_close_frame(code, reason);
  state_ = State::closing;
  close_timer_.start(kCloseTimeout, [this, code] {
    finish(make_error(Errc::shutdown, "closed (" + std::to_string(code) +
                                          "); no close reply within " +
                                          config::format_duration(kCloseTimeout)));
  });
  // The peer's answer must be read even if delivery was paused.
  update_reading();
}

// Waits for everything queued (the close frame last) to reach the kernel, then ends.
bool WsClient::finish_after_flush(Error why) {
  if (stream_) stream_->shutdown_tls();
  if (!stream_ || stream_->idle()) return finish(std::move(why));
  pending_finish_ = std::move(why);
  update_reading();
  close_timer_.start(kCloseTimeout, [this] { finish(std::move(*pending_finish_)); });
  return false;
}

void WsClient::pause_receive(bool paused) {
  if (paused == paused_) return;
  paused_ = paused;
  if (paused) {
    deferred_ &= ~kResume;
    update_reading();
  } else if (state_ == State::open) {
    defer(kResume);  // never re-enters the owner from inside this call
  }
}

}  // namespace zlt
