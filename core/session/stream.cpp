#include "core/session/stream.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "core/protocol/codec.hpp"
#include "core/runtime/log.hpp"
#include "core/session/session.hpp"

namespace zlt {

Stream::Stream(Session& session, Uuid id, proto::ServiceProtocol protocol, Role role,
               std::string label)
    : session_(session), id_(id), protocol_(protocol), role_(role), label_(std::move(label)) {
  counters_.tunnel = session.counters();
  counters_.apply([](Counters& c) {
    ++c.streams_active;
    ++c.streams_total;
  });
  last_activity_ms_ = uv_now(session.loop());
}

Stream::~Stream() {
  if (endpoint_ && state_ != State::ended) endpoint_->close(true);
}

void Stream::set_endpoint(std::unique_ptr<StreamEndpoint> endpoint) {
  endpoint_ = std::move(endpoint);
}

void Stream::attach_service_counters(std::shared_ptr<Counters> service) {
  if (!service || counters_.service == service) return;
  counters_.service = std::move(service);
  ++counters_.service->streams_active;
  ++counters_.service->streams_total;
}

void Stream::start_open_timer(std::chrono::milliseconds timeout) {
  open_timer_.attach(session_.loop());
  open_timer_.start(timeout, [this, timeout] {
    if (state_ != State::pending) return;
    ZLT_LOG(info, session_.component_).field("stream", id_.to_string())
        << label_ << ": no answer within " << timeout.count() << " ms";
    if (role_ == Role::opener) session_.send(proto::Close{id_, "timeout"});
    end("timeout", true);
  });
}

void Stream::set_idle_timeout(std::chrono::milliseconds timeout) {
  idle_timeout_ = timeout;
  idle_timer_.attach(session_.loop());
  idle_check_ = [this] {
    std::uint64_t now = uv_now(session_.loop());
    std::uint64_t idle_ms = static_cast<std::uint64_t>(idle_timeout_.count());
    if (now - last_activity_ms_ >= idle_ms) {
      ZLT_LOG(debug, session_.component_).field("stream", id_.to_string())
          << label_ << ": idle for " << idle_ms << " ms";
      fail("idle");
      return;
    }
    // Traffic came since: sleep until the new deadline instead of re-arming per datagram.
    idle_timer_.start(std::chrono::milliseconds(last_activity_ms_ + idle_ms - now), idle_check_);
  };
  idle_timer_.start(timeout, idle_check_);
}

void Stream::touch() {
  last_activity_ms_ = uv_now(session_.loop());
}

std::size_t Stream::send_allowance() const {
  if (state_ != State::open || sent_eof_ || session_.congested()) return 0;
  return static_cast<std::size_t>(std::min<std::uint64_t>(send_window_, proto::kMaxDataChunk));
}

void Stream::send_data(ChunkPtr payload) {
  const std::size_t n = payload->size();
  assert(n > 0 && n <= send_window_ && n <= proto::kMaxDataChunk);
  assert(payload->headroom() >= Chunk::kFrameHeadroom + proto::kStreamHeaderSize);
  send_window_ -= n;
  proto::write_stream_header(payload->prepend(proto::kStreamHeaderSize), proto::MsgType::Data, id_,
                             n);
  counters_.apply([n](Counters& c) { c.bytes_out += n; });
  session_.send_chunk(std::move(payload));
  if (send_allowance() == 0) wait_writable();
}

std::size_t Stream::held_bytes() const {
  std::size_t n = endpoint_ ? endpoint_->held_bytes() : 0;
  return n + pending_datagram_bytes_;
}

void Stream::wait_writable() {
  if (state_ == State::ended) return;
  waiting_for_writable_ = true;
  // The window reopens with a WindowUpdate; a congested channel with its drain.
  if (session_.congested()) session_.wait_for_drain(*this);
}

void Stream::send_datagram(ChunkPtr payload) {
  const std::size_t n = payload->size();
  touch();
  if (state_ == State::pending) {
    // Held until ConnectAck, within bounds of real bytes; later ones are dropped.
    payload = fit_chunk(std::move(payload));
    const std::size_t held = payload->footprint();
    if (pending_datagrams_.size() >= kMaxPendingDatagrams ||
        pending_datagram_bytes_ + held > kMaxPendingDatagramBytes) {
      counters_.apply([](Counters& c) { ++c.drops; });
      return;
    }
    pending_datagram_bytes_ += held;
    pending_datagrams_.push_back(std::move(payload));
    return;
  }
  if (state_ != State::open || session_.congested()) {
    counters_.apply([](Counters& c) { ++c.drops; });
    return;
  }
  proto::write_stream_header(payload->prepend(proto::kStreamHeaderSize), proto::MsgType::Datagram,
                             id_, n);
  counters_.apply([n](Counters& c) {
    c.bytes_out += n;
    ++c.datagrams_out;
  });
  session_.send_chunk(std::move(payload));
}

void Stream::flush_pending_datagrams() {
  while (!pending_datagrams_.empty()) {
    ChunkPtr d = std::move(pending_datagrams_.front());
    pending_datagrams_.pop_front();
    pending_datagram_bytes_ -= d->footprint();
    send_datagram(std::move(d));
  }
}

void Stream::send_eof() {
  if (sent_eof_ || state_ == State::ended) return;
  sent_eof_ = true;
  session_.send(proto::Eof{id_});
  maybe_finish();
}

void Stream::consumed(std::size_t n) {
  if (state_ == State::ended || n == 0) return;
  unreturned_ += n;
  // Return credit in batches: a WindowUpdate per Data message would double the message rate.
  if (unreturned_ < std::max<std::uint64_t>(window_target_ / 4, 1)) return;
  std::uint64_t increment = unreturned_;
  const std::size_t buffered = endpoint_ ? endpoint_->buffered() : 0;
  // The sender is window-limited (little credit left) while our socket keeps up (little
  // buffered): a larger window would raise throughput.
  if (recv_credit_ < window_target_ / 4 && buffered < window_target_ / 4 &&
      window_target_ < kMaxWindow) {
    increment += window_target_;
    window_target_ *= 2;
  }
  unreturned_ = 0;
  recv_credit_ += increment;
  session_.send(proto::WindowUpdate{id_, static_cast<std::uint32_t>(increment)});
}

void Stream::local_write_done() {
  local_write_done_ = true;
  maybe_finish();
}

void Stream::fail(const std::string& reason) {
  if (state_ == State::ended) return;
  if (state_ == State::pending && role_ == Role::acceptor) {
    refuse(reason);
    return;
  }
  session_.send(proto::Close{id_, reason});
  end(reason, true);
}

void Stream::accept() {
  if (state_ != State::pending) return;
  session_.send(proto::ConnectAck{id_});
  open();
}

void Stream::refuse(const std::string& reason) {
  if (state_ != State::pending) return;
  session_.send(proto::ConnectFail{id_, reason});
  end(reason, true);
}

void Stream::open() {
  state_ = State::open;
  open_timer_.stop();
  touch();
  if (endpoint_) endpoint_->on_open();
  if (state_ == State::open && is_datagram()) flush_pending_datagrams();
}

void Stream::on_ack() {
  if (role_ != Role::opener || state_ != State::pending) return;
  open();
}

void Stream::on_refused(const std::string& reason) {
  if (role_ != Role::opener || state_ != State::pending) return;
  ZLT_LOG(info, session_.component_).field("stream", id_.to_string())
      << label_ << ": refused: " << reason;
  if (endpoint_) endpoint_->on_refused(reason);
  end("refused: " + reason, true);
}

void Stream::on_data(std::span<const std::uint8_t> bytes) {
  if (state_ != State::open) return;
  if (got_eof_) {
    fail("data after eof");
    return;
  }
  if (bytes.size() > recv_credit_) {
    ZLT_LOG(warn, session_.component_).field("stream", id_.to_string())
        << label_ << ": peer exceeded its window (" << bytes.size() << " > " << recv_credit_ << ")";
    fail("flow control violation");
    return;
  }
  recv_credit_ -= bytes.size();
  const std::size_t n = bytes.size();
  counters_.apply([n](Counters& c) { c.bytes_in += n; });
  touch();
  if (endpoint_) endpoint_->deliver(bytes);
}

void Stream::on_datagram(std::span<const std::uint8_t> bytes) {
  if (state_ != State::open) return;
  const std::size_t n = bytes.size();
  counters_.apply([n](Counters& c) {
    c.bytes_in += n;
    ++c.datagrams_in;
  });
  touch();
  if (endpoint_) endpoint_->deliver_datagram(bytes);
}

void Stream::on_eof() {
  if (state_ != State::open || got_eof_) return;
  got_eof_ = true;
  if (endpoint_) endpoint_->deliver_eof();
}

void Stream::on_close(const std::string& reason) {
  if (state_ == State::ended) return;
  ZLT_LOG(debug, session_.component_).field("stream", id_.to_string())
      << label_ << ": closed by peer: " << reason;
  end(reason, true);
}

void Stream::on_window_update(std::uint32_t increment) {
  if (state_ == State::ended) return;
  if (send_window_ + increment > (std::uint64_t{1} << 32)) {
    fail("flow control violation");
    return;
  }
  const bool was_blocked = send_window_ == 0;
  send_window_ += increment;
  if (endpoint_) endpoint_->on_window_update(increment);
  if (state_ != State::ended && (was_blocked || waiting_for_writable_)) notify_writable();
}

void Stream::relay_data(std::span<const std::uint8_t> bytes) {
  if (state_ != State::open || sent_eof_) return;
  const std::size_t n = bytes.size();
  send_window_ = n > send_window_ ? 0 : send_window_ - n;
  ChunkPtr chunk = acquire_chunk_for(n, Chunk::kPayloadOffset);
  chunk->append(bytes);
  proto::write_stream_header(chunk->prepend(proto::kStreamHeaderSize), proto::MsgType::Data, id_,
                             n);
  counters_.apply([n](Counters& c) { c.bytes_out += n; });
  session_.send_chunk(std::move(chunk));
}

void Stream::relay_credit(std::uint32_t increment) {
  if (state_ == State::ended || increment == 0) return;
  recv_credit_ += increment;
  session_.send(proto::WindowUpdate{id_, increment});
}

void Stream::notify_writable() {
  if (state_ != State::open) return;
  if (session_.congested()) {
    session_.wait_for_drain(*this);
    return;
  }
  waiting_for_writable_ = false;
  if (endpoint_) endpoint_->on_writable();
}

void Stream::abort(const std::string& reason) {
  end(reason, true, true);
}

void Stream::maybe_finish() {
  if (sent_eof_ && got_eof_ && local_write_done_) end("finished", false);
}

void Stream::end(const std::string& why, bool abortive, bool session_gone) {
  if (state_ == State::ended) return;
  state_ = State::ended;
  open_timer_.stop();
  idle_timer_.stop();
  pending_datagrams_.clear();
  pending_datagram_bytes_ = 0;
  counters_.apply([](Counters& c) { --c.streams_active; });
  ZLT_LOG(trace, session_.component_).field("stream", id_.to_string())
      << label_ << ": ended (" << why << ")";
  // The endpoint object lives until the stream is reaped: we may be inside one of its callbacks.
  if (endpoint_) {
    endpoint_->on_end(why, session_gone);
    endpoint_->close(abortive);
  }
  session_.stream_ended(*this);
}

}  // namespace zlt
