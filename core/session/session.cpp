#include "core/session/session.hpp"

#include <algorithm>
#include <cstring>

#include "core/protocol/codec.hpp"
#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

// Routes the messages that name a stream to it; anything else is a control message.
struct StreamMessageRouter {
  Session& self;
  bool operator()(proto::Data& m) {
    if (Stream* s = self.find_stream(m.connection_id)) s->on_data(m.bytes);
    return true;
  }
  bool operator()(proto::Datagram& m) {
    if (Stream* s = self.find_stream(m.connection_id)) s->on_datagram(m.bytes);
    return true;
  }
  bool operator()(proto::Eof& m) {
    if (Stream* s = self.find_stream(m.connection_id)) s->on_eof();
    return true;
  }
  bool operator()(proto::Close& m) {
    if (Stream* s = self.find_stream(m.connection_id)) s->on_close(m.reason);
    return true;
  }
  bool operator()(proto::WindowUpdate& m) {
    if (Stream* s = self.find_stream(m.connection_id)) s->on_window_update(m.increment);
    return true;
  }
  // Answers to a stream this end opened (Connect on the server, Open on the client).
  bool operator()(proto::ConnectAck& m) {
    Stream* s = self.find_stream(m.connection_id);
    if (s == nullptr || s->role() != Stream::Role::opener) return false;
    s->on_ack();
    return true;
  }
  bool operator()(proto::ConnectFail& m) {
    Stream* s = self.find_stream(m.connection_id);
    if (s == nullptr || s->role() != Stream::Role::opener) return false;
    s->on_refused(m.reason);
    return true;
  }
  bool operator()(auto&) { return false; }
};

}  // namespace

Session::Session(Runtime& runtime, Channel& channel, std::string component)
    : component_(std::move(component)),
      runtime_(runtime),
      channel_(&channel),
      peer_(channel.peer_address()),
      label_(peer_),
      ended_streams_(runtime.loop()) {
  last_rx_ms_ = uv_now(runtime.loop());
  slow_peer_timer_.attach(runtime.loop());
  channel.set_events(this);
  channel.set_queue_limit(max_queue_);
}

Session::~Session() {
  if (channel_ != nullptr) {
    channel_->set_events(nullptr);
    channel_ = nullptr;
  }
  close_streams("session destroyed");
  ended_streams_.flush();
}

void Session::send(const proto::Message& message) {
  if (channel_ == nullptr) return;
  std::vector<std::uint8_t>& bytes = scratch_;
  bytes.clear();
  Status st = proto::encode_to(message, bytes);
  if (!st.ok()) {
    // Only our own values are encoded here; a refusal is a bug worth a loud log, never a
    // corrupt frame on the wire.
    ZLT_LOG(error, component_).field("peer", peer_)
        << "cannot encode " << proto::msg_type_name(proto::type_of(message)) << ": "
        << st.error().message;
    return;
  }
  channel_->send(chunk_copy(bytes));
  check_queue();
}

void Session::send_chunk(ChunkPtr message) {
  if (channel_ == nullptr) return;
  channel_->send(fit_chunk(std::move(message)));
  check_queue();
}

void Session::set_queue_limits(std::size_t max_queue, std::chrono::milliseconds slow_peer_timeout) {
  max_queue_ = max_queue;
  slow_peer_timeout_ = slow_peer_timeout;
  if (channel_ != nullptr) channel_->set_queue_limit(max_queue);
}

std::size_t Session::held_bytes() const {
  std::size_t n = queued_bytes();
  for (const auto& [id, s] : streams_) n += s->held_bytes();
  return n;
}

nlohmann::json Session::queue_status() const {
  return {{"queued_bytes", queued_bytes()},
          {"held_bytes", held_bytes()},
          {"max_session_queue", max_queue_},
          {"throttled", throttled_},
          {"ending", ending_}};
}

void Session::check_queue() {
  if (throttled_ || ending_ || channel_ == nullptr || channel_->queued_bytes() <= max_queue_)
    return;
  // Streams stopped reading at the high-water mark already; what grows past the cap are
  // answers to what the peer sends. Reading stops until the peer drains the queue.
  throttled_ = true;
  channel_->pause_receive(true);
  // Once per session at warn: a peer that drains slowly may cross the cap again and again.
  const bool first = !throttle_logged_;
  throttle_logged_ = true;
  const LogLevel level = first ? LogLevel::warn : LogLevel::debug;
  if (Log::enabled(level))
    LogLine(level, component_).field("peer", peer_)
        << label_ << ": outgoing queue over " << max_queue_
        << " bytes; not reading until the peer drains it";
  slow_peer_timer_.start(slow_peer_timeout_, [this] {
    ZLT_LOG(warn, component_).field("peer", peer_)
        << label_ << ": peer did not drain " << queued_bytes() << " queued bytes within "
        << slow_peer_timeout_.count() << " ms";
    end("slow consumer", close_code::kPolicyViolation, true);
  });
}

void Session::release_throttle() {
  if (!throttled_) return;
  throttled_ = false;
  slow_peer_timer_.stop();
  if (channel_ != nullptr && !ending_) channel_->pause_receive(false);
}

Stream& Session::add_stream(std::unique_ptr<Stream> stream) {
  Stream& ref = *stream;
  streams_[stream->id()] = std::move(stream);
  return ref;
}

Stream* Session::find_stream(const Uuid& id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Session::wait_for_drain(Stream& stream) {
  if (std::find(blocked_.begin(), blocked_.end(), stream.id()) == blocked_.end())
    blocked_.push_back(stream.id());
}

void Session::stream_ended(Stream& stream) {
  auto it = streams_.find(stream.id());
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> ended = std::move(it->second);
  streams_.erase(it);
  ended_streams_.later(std::move(ended));
}

void Session::close_streams(const std::string& reason) {
  // Ending a stream removes it from the table; iterate over a snapshot of the ids.
  std::vector<Uuid> ids;
  ids.reserve(streams_.size());
  for (auto& [id, s] : streams_) ids.push_back(id);
  for (const auto& id : ids)
    if (Stream* s = find_stream(id)) s->abort(reason);
  blocked_.clear();
}

void Session::end(const std::string& reason, std::uint16_t code, bool disconnect) {
  if (ending_ || channel_ == nullptr) return;
  ending_ = true;
  end_reason_ = reason;
  ZLT_LOG(info, component_).field("peer", peer_) << label_ << ": ending session: " << reason;
  slow_peer_timer_.stop();
  close_streams(reason);
  if (disconnect && may_send_disconnect()) send(proto::Disconnect{reason});
  channel_->close(code, reason);
}

void Session::protocol_error(const std::string& what) {
  ZLT_LOG(warn, component_).field("peer", peer_) << label_ << ": protocol error: " << what;
  end("protocol error: " + what, close_code::kProtocolError, true);
}

void Session::on_channel_message(std::span<const std::uint8_t> bytes) {
  if (ending_) return;
  last_rx_ms_ = uv_now(loop());
  auto decoded = proto::decode(bytes);
  if (!decoded) {
    protocol_error(decoded.error().message);
    return;
  }
  proto::Message& message = decoded->message;
  if (!v2_ && proto::is_v2_only(proto::type_of(message))) {
    protocol_error(std::string(proto::msg_type_name(proto::type_of(message))) +
                   " is not allowed in a version 1 session");
    return;
  }
  if (handle_stream_message(message)) return;
  handle_control(message);
}

bool Session::handle_stream_message(proto::Message& message) {
  return std::visit(StreamMessageRouter{*this}, message);
}

void Session::on_channel_drain() {
  if (throttled_ && queued_bytes() <= max_queue_) release_throttle();
  auto waiting = std::move(blocked_);
  blocked_.clear();
  for (const auto& id : waiting) {
    if (congested()) {
      blocked_.push_back(id);
      continue;
    }
    if (Stream* s = find_stream(id)) s->notify_writable();
  }
}

void Session::on_channel_closed(const Error& why) {
  channel_ = nullptr;
  slow_peer_timer_.stop();
  ending_ = true;
  close_streams("session ended: " + why.message);
  on_session_closed(why);  // may destroy this
}

}  // namespace zlt
