#include "core/transport/byte_stream.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "core/runtime/callback_guard.hpp"

namespace zlt {
namespace {

// Bufs per uv_write: enough to hand the kernel a few MiB in one writev.
constexpr std::size_t kMaxWriteBatch = 128;
// Bufs per uv_try_write: what one sent message becomes after TLS, with room to spare.
constexpr std::size_t kTryWriteBufs = 8;

}  // namespace

ByteStream::ByteStream(UvHandle<uv_tcp_t> socket, ByteStreamEvents* events)
    : socket_(std::move(socket)), events_(events) {
  socket_.set_data(this);
  uv_tcp_nodelay(socket_.get(), 1);
}

ByteStream::~ByteStream() = default;

// ---- reading ----

void ByteStream::set_reading(bool on) {
  if (on == reading_) return;
  if (on) {
    if (uv_read_start(socket_.stream(), guarded<&ByteStream::on_alloc, "byte stream read">,
                      guarded<&ByteStream::on_read, "byte stream read">) == 0)
      reading_ = true;
  } else {
    uv_read_stop(socket_.stream());
    reading_ = false;
  }
}

void ByteStream::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<ByteStream*>(handle->data);
  if (self == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  if (self->tls_) {
    *buf = uv_buf_init(reinterpret_cast<char*>(self->cipher_in_.get()),
                       static_cast<unsigned>(kCipherBufferSize));
    return;
  }
  // Plain bytes go straight to where the owner parses them.
  auto space = self->events_->read_space();
  *buf = uv_buf_init(reinterpret_cast<char*>(space.data()), static_cast<unsigned>(space.size()));
}

void ByteStream::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ByteStream*>(stream->data);
  if (self == nullptr || nread == 0 || !self->reading_) return;
  if (nread < 0) {
    self->events_->on_stream_read_error(static_cast<int>(nread));
    return;
  }
  auto n = static_cast<std::size_t>(nread);
  if (self->tls_) {
    self->tls_->feed({reinterpret_cast<const std::uint8_t*>(buf->base), n});
    self->drive_tls();
    return;
  }
  self->events_->on_stream_data(n);
}

bool ByteStream::start_tls(std::unique_ptr<TlsClient> tls, std::span<const std::uint8_t> early) {
  tls_ = std::move(tls);
  cipher_in_ = std::make_unique<std::uint8_t[]>(kCipherBufferSize);
  handshaking_ = true;
  if (!early.empty()) tls_->feed(early);
  return drive_tls();
}

bool ByteStream::drive_tls() {
  if (handshaking_) {
    auto done = tls_->handshake();
    flush_tls_output();
    if (!done) return events_->on_stream_error(done.take_error());
    if (!*done) return true;
    handshaking_ = false;
    if (!events_->on_stream_secure()) return false;
  }
  return pump();
}

// Decrypts into the owner's buffer as long as it reads; while it does not, the rest waits
// inside OpenSSL until pump() is called again.
bool ByteStream::pump() {
  if (!tls_ || handshaking_) return true;
  while (reading_) {
    auto space = events_->read_space();
    if (space.empty()) break;
    auto n = tls_->read(space);
    if (!n) return events_->on_stream_error(n.take_error());
    if (*n == 0) break;
    if (!events_->on_stream_data(*n)) return false;
  }
  flush_tls_output();
  return true;
}

// ---- writing ----

Status ByteStream::write(ChunkPtr bytes) {
  if (write_error_ != 0)
    return make_error(Errc::connection, "write: " + uv_error_text(write_error_));
  if (!tls_) {
    push({&bytes, 1});
  } else {
    auto st = tls_->write(bytes->span());
    bytes.reset();
    if (!st) return st;
    flush_tls_output();
  }
  if (write_error_ != 0)
    return make_error(Errc::connection, "write: " + uv_error_text(write_error_));
  return {};
}

Status ByteStream::write(std::string_view bytes) {
  while (!bytes.empty()) {
    ChunkPtr c = acquire_chunk(0);
    std::size_t n = std::min(bytes.size(), c->capacity());
    std::memcpy(c->base(), bytes.data(), n);
    c->set_range(0, n);
    if (auto st = write(std::move(c)); !st) return st;
    bytes.remove_prefix(n);
  }
  return {};
}

void ByteStream::shutdown_tls() {
  if (!tls_) return;
  tls_->shutdown();
  flush_tls_output();
}

void ByteStream::flush_tls_output() {
  // Top up the last queued chunk first: the records of one message should not end up as a
  // full chunk plus a sliver in separate writes.
  if (!wire_.empty() && tls_->pending_output() > 0) {
    Chunk& last = *wire_.back();
    std::size_t n = tls_->take_output({last.data() + last.size(), last.tailroom()});
    last.set_range(last.headroom(), last.headroom() + last.size() + n);
  }
  // The rest goes out in groups, so one message costs one write system call.
  while (tls_->pending_output() > 0) {
    std::array<ChunkPtr, kTryWriteBufs> group;
    std::size_t count = 0;
    while (count < group.size() && tls_->pending_output() > 0) {
      ChunkPtr c = acquire_chunk(0);
      std::size_t n = tls_->take_output({c->base(), c->capacity()});
      if (n == 0) break;
      c->set_range(0, n);
      group[count++] = std::move(c);
    }
    if (count == 0) break;
    push({group.data(), count});
  }
}

void ByteStream::push(std::span<ChunkPtr> chunks) {
  std::size_t first = 0;
  if (idle()) {
    // Fast path: straight to the kernel, no request, nothing kept.
    std::array<uv_buf_t, kTryWriteBufs> bufs{};
    const std::size_t n = std::min(chunks.size(), bufs.size());
    for (std::size_t i = 0; i < n; ++i)
      bufs[i] = uv_buf_init(reinterpret_cast<char*>(chunks[i]->data()),
                            static_cast<unsigned>(chunks[i]->size()));
    int written = uv_try_write(socket_.stream(), bufs.data(), static_cast<unsigned>(n));
    // Errors other than EAGAIN come back from uv_write's callback, never from here.
    auto left = static_cast<std::size_t>(std::max(written, 0));
    while (first < n && left >= chunks[first]->size()) left -= chunks[first++]->size();
    if (first < n) chunks[first]->consume_front(left);
  }
  for (std::size_t i = first; i < chunks.size(); ++i) {
    if (chunks[i]->size() == 0) continue;
    wire_bytes_ += chunks[i]->footprint();
    wire_.push_back(std::move(chunks[i]));
  }
  if (!write_.in_flight() && !wire_.empty()) submit_writes();
}

void ByteStream::submit_writes() {
  auto& node = write_.prepare(this);
  const std::size_t n = std::min(wire_.size(), kMaxWriteBatch);
  node.extra.chunks.reserve(n);
  node.extra.bufs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    ChunkPtr c = std::move(wire_.front());
    wire_.pop_front();
    wire_bytes_ -= c->footprint();
    inflight_bytes_ += c->footprint();
    node.extra.bufs.push_back(
        uv_buf_init(reinterpret_cast<char*>(c->data()), static_cast<unsigned>(c->size())));
    node.extra.chunks.push_back(std::move(c));
  }
  int rc = uv_write(&node.req, socket_.stream(), node.extra.bufs.data(), static_cast<unsigned>(n),
                    guarded<&ByteStream::on_written, "byte stream write">);
  if (rc != 0) {
    write_error_ = rc;
    inflight_bytes_ = 0;
    write_.abandon();
    return;
  }
  write_.sent();
}

void ByteStream::on_written(uv_write_t* req, int status) {
  auto node = decltype(write_)::complete(req);
  ByteStream* self = node->owner;
  if (self == nullptr) return;
  self->inflight_bytes_ = 0;
  node.reset();  // chunks back to the pool before more are taken
  if (status == 0 && !self->wire_.empty()) {
    self->submit_writes();
    if (self->write_error_ != 0) status = self->write_error_;
  }
  self->events_->on_stream_written(status);
}

}  // namespace zlt
