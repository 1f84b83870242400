#include "core/session/tcp_endpoint.hpp"

#include <netdb.h>

#include <cassert>
#include <cstring>
#include <deque>
#include <vector>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/session/session.hpp"

namespace zlt {

// Bytes the socket did not take at once, packed densely: a run of small Data messages fills
// chunks instead of pinning one each, so what is held is the payload plus at most one partly
// filled chunk. One uv_write is in flight at a time and covers a prefix of `chunks`; what
// arrives meanwhile is appended behind it, even into the chunk partly in flight (libuv reads
// only the range it was given). A writer with a write in flight is owned by that write once
// its endpoint has gone (`owner` cleared), so libuv never reads freed bytes.
struct TcpEndpoint::Writer {
  static constexpr std::size_t kMaxBufs = 64;

  TcpEndpoint* owner = nullptr;
  uv_write_t req{};
  bool in_flight = false;
  std::deque<ChunkPtr> chunks;
  std::size_t inflight_chunks = 0;  // chunks the write covers, the last maybe only in part
  std::size_t inflight_bytes = 0;
  std::vector<uv_buf_t> bufs;
  std::size_t bytes = 0;  // content not yet written, in flight included
  std::size_t held = 0;   // footprints of `chunks`

  void append(std::span<const std::uint8_t> data) {
    while (!data.empty()) {
      if (!chunks.empty()) {
        ChunkPtr& last = chunks.back();
        const bool last_in_flight = in_flight && inflight_chunks == chunks.size();
        if (last->tailroom() < data.size() && !last_in_flight &&
            last->size_class() + 1 < Chunk::kClasses) {
          // Move up a class rather than start another chunk: small writes stay packed, and
          // the copy is of a small chunk only.
          ChunkPtr bigger =
              acquire_chunk_for(std::min(last->size() + data.size(), Chunk::kCapacity), 0);
          bigger->append(last->span());
          held += bigger->footprint();
          held -= last->footprint();
          last = std::move(bigger);
        }
        const std::size_t n = last->append(data);
        bytes += n;
        data = data.subspan(n);
        if (data.empty()) return;
      }
      ChunkPtr c = acquire_chunk_for(std::min(data.size(), Chunk::kCapacity), 0);
      held += c->footprint();
      chunks.push_back(std::move(c));
    }
  }

  int submit(uv_stream_t* stream, uv_write_cb cb) {
    const std::size_t n = std::min(chunks.size(), kMaxBufs);
    bufs.clear();
    inflight_bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      Chunk& c = *chunks[i];
      bufs.push_back(
          uv_buf_init(reinterpret_cast<char*>(c.data()), static_cast<unsigned>(c.size())));
      inflight_bytes += c.size();
    }
    req.data = this;
    int rc = uv_write(&req, stream, bufs.data(), static_cast<unsigned>(n), cb);
    if (rc == 0) {
      in_flight = true;
      inflight_chunks = n;
    }
    return rc;
  }

  // The write in flight is over: its bytes leave the front.
  void written() {
    std::size_t left = inflight_bytes;
    for (std::size_t i = 0; i < inflight_chunks && !chunks.empty(); ++i) {
      Chunk& c = *chunks.front();
      const std::size_t k = std::min(left, c.size());
      c.consume_front(k);
      left -= k;
      if (c.size() > 0) break;  // bytes appended behind the written range
      held -= c.footprint();
      chunks.pop_front();
    }
    bytes -= inflight_bytes;
    inflight_bytes = 0;
    inflight_chunks = 0;
    in_flight = false;
  }
};

namespace {

std::string reason_for(int uv_code) {
  switch (uv_code) {
    case UV_ECONNREFUSED:
      return "connection refused";
    case UV_ETIMEDOUT:
      return "timeout";
    case UV_ENETUNREACH:
      return "network unreachable";
    case UV_EHOSTUNREACH:
      return "host unreachable";
    case UV_ECONNRESET:
      return "connection reset";
    default:
      return uv_strerror(uv_code);
  }
}

}  // namespace

TcpEndpoint::TcpEndpoint(Stream& stream) : stream_(stream) {}

TcpEndpoint::TcpEndpoint(Stream& stream, UvHandle<uv_tcp_t> socket)
    : stream_(stream), socket_(std::move(socket)) {
  socket_.set_data(this);
  uv_tcp_nodelay(socket_.get(), 1);
}

TcpEndpoint::~TcpEndpoint() {
  close(true);
}

TcpEndpoint& TcpEndpoint::dial(Stream& stream, const std::string& host, std::uint16_t port,
                               std::chrono::milliseconds timeout, AddressCheck check,
                               DialHeader header) {
  std::unique_ptr<TcpEndpoint> self(new TcpEndpoint(stream));
  TcpEndpoint& ep = *self;
  stream.set_endpoint(std::move(self));
  uv_loop_t* loop = stream.session().loop();
  ep.dialer_ = std::make_unique<Dialer>(loop);
  ep.dial_deadline_.attach(loop);
  ep.dial_deadline_.start(timeout, [&ep] { ep.dial_failed("timeout"); });
  ep.dialer_->connect(
      host, port, std::move(check),
      [&ep, header = std::move(header)](UvHandle<uv_tcp_t> socket, const SockAddr& to) {
        ep.dial_deadline_.stop();
        // What the dial held (the addresses, its requests) is not needed for the stream's
        // life; a callback may destroy its Dialer.
        ep.dialer_.reset();
        ep.socket_ = std::move(socket);
        ep.socket_.set_data(&ep);
        uv_tcp_nodelay(ep.socket_.get(), 1);
        if (header && !ep.write_preamble(header(to))) return;
        ep.stream_.accept();
      },
      [&ep](const DialFailure& f) {
        switch (f.stage) {
          case DialFailure::Stage::resolve:
            ep.dial_failed(f.uv_code == 0
                               ? "host not found: " + f.host
                               : "host not found: " + f.host + " (" + uv_strerror(f.uv_code) + ")");
            break;
          case DialFailure::Stage::check:
            ep.dial_failed(f.refusal);
            break;
          case DialFailure::Stage::connect:
            ep.dial_failed(reason_for(f.uv_code));
            break;
        }
      });
  return ep;
}

bool TcpEndpoint::write_preamble(std::string bytes) {
  if (bytes.empty()) return true;
  // One write, queued ahead of everything the stream delivers: libuv writes a stream's
  // requests in order, and uv_try_write declines while one is queued.
  auto& node = preamble_write_.prepare(this);
  node.extra = std::move(bytes);
  uv_buf_t buf = uv_buf_init(node.extra.data(), static_cast<unsigned>(node.extra.size()));
  auto on_written = guarded_lambda<"tcp preamble">([](uv_write_t* req, int status) {
    auto done = UvReq<uv_write_t, TcpEndpoint, std::string>::complete(req);
    if (done->owner == nullptr || status == 0) return;
    done->owner->stream_.fail(reason_for(status));
  });
  int rc = uv_write(&node.req, socket_.stream(), &buf, 1, on_written);
  if (rc != 0) {
    dial_failed(reason_for(rc));
    return false;
  }
  preamble_write_.sent();
  return true;
}

void TcpEndpoint::abandon_dial() {
  dial_deadline_.stop();
  if (dialer_) dialer_->abandon();
}

void TcpEndpoint::dial_failed(std::string reason) {
  abandon_dial();
  socket_.reset();
  ZLT_LOG(debug, "stream").field("stream", stream_.id().to_string())
      << stream_.label() << ": dial failed: " << reason;
  stream_.refuse(reason);
}

void TcpEndpoint::on_open() {
  start_reading();
}

void TcpEndpoint::start_reading() {
  if (reading_ || read_eof_ || closed_ || !socket_) return;
  if (stream_.send_allowance() == 0) {
    stream_.wait_writable();
    return;
  }
  reading_ = true;
  uv_read_start(socket_.stream(), guarded<&TcpEndpoint::on_alloc, "tcp read">,
                guarded<&TcpEndpoint::on_read, "tcp read">);
}

void TcpEndpoint::stop_reading() {
  if (!reading_) return;
  reading_ = false;
  uv_read_stop(socket_.stream());
}

void TcpEndpoint::on_writable() {
  start_reading();
}

void TcpEndpoint::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<TcpEndpoint*>(h->data);
  buf->base = nullptr;
  buf->len = 0;
  if (self == nullptr) return;
  std::size_t allowance = self->stream_.send_allowance();
  if (allowance == 0) return;  // read_cb sees UV_ENOBUFS and pauses
  if (!self->read_chunk_) self->read_chunk_ = acquire_chunk(Chunk::kPayloadOffset);
  buf->base = reinterpret_cast<char*>(self->read_chunk_->data());
  buf->len = std::min(allowance, self->read_chunk_->tailroom());
}

void TcpEndpoint::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<TcpEndpoint*>(s->data);
  if (self == nullptr) return;
  if (nread > 0) {
    ChunkPtr chunk = std::move(self->read_chunk_);
    chunk->set_range(Chunk::kPayloadOffset,
                     Chunk::kPayloadOffset + static_cast<std::size_t>(nread));
    self->stream_.send_data(std::move(chunk));  // arranges on_writable if nothing more fits
    if (self->stream_.send_allowance() == 0) self->stop_reading();
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_ENOBUFS) {
    self->stop_reading();
    self->stream_.wait_writable();
    return;
  }
  self->stop_reading();
  self->read_chunk_.reset();
  if (nread == UV_EOF) {
    self->read_eof_ = true;
    self->stream_.send_eof();
    return;
  }
  self->stream_.fail(reason_for(static_cast<int>(nread)));
}

std::size_t TcpEndpoint::buffered() const {
  return writer_ ? writer_->bytes : 0;
}

std::size_t TcpEndpoint::held_bytes() const {
  return writer_ ? writer_->held : 0;
}

void TcpEndpoint::deliver(std::span<const std::uint8_t> bytes) {
  if (closed_ || !socket_ || shutdown_started_) return;
  std::size_t done = 0;
  if (buffered() == 0) {
    uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                               static_cast<unsigned>(bytes.size()));
    int n = uv_try_write(socket_.stream(), &buf, 1);
    if (n > 0)
      done = static_cast<std::size_t>(n);
    else if (n < 0 && n != UV_EAGAIN) {
      stream_.fail(reason_for(n));
      return;
    }
  }
  if (done > 0) stream_.consumed(done);
  if (done == bytes.size()) return;
  if (!writer_) {
    writer_ = std::make_unique<Writer>();
    writer_->owner = this;
  }
  writer_->append(bytes.subspan(done));
  if (writer_->in_flight) return;
  int rc = writer_->submit(socket_.stream(), guarded<&TcpEndpoint::on_written, "tcp write">);
  if (rc != 0) stream_.fail(reason_for(rc));
}

void TcpEndpoint::on_written(uv_write_t* req, int status) {
  auto* w = static_cast<Writer*>(req->data);
  TcpEndpoint* self = w->owner;
  if (self == nullptr) {  // the endpoint went away meanwhile; this write owned the writer
    delete w;             // NOLINT
    return;
  }
  const std::size_t n = w->inflight_bytes;
  w->written();
  if (status != 0) {
    self->stream_.fail(reason_for(status));
    return;
  }
  self->stream_.consumed(n);
  if (self->closed_) return;
  if (!w->chunks.empty()) {
    int rc = w->submit(self->socket_.stream(), guarded<&TcpEndpoint::on_written, "tcp write">);
    if (rc != 0) self->stream_.fail(reason_for(rc));
    return;
  }
  if (self->eof_pending_) self->shutdown_write();
}

void TcpEndpoint::abandon_writer() {
  if (!writer_) return;
  if (writer_->in_flight) {
    writer_->owner = nullptr;
    (void)writer_.release();  // owned by the write in flight; its callback frees it
    return;
  }
  writer_.reset();
}

void TcpEndpoint::deliver_eof() {
  eof_pending_ = true;
  if (buffered() == 0) shutdown_write();
}

void TcpEndpoint::shutdown_write() {
  if (shutdown_started_ || closed_ || !socket_) return;
  shutdown_started_ = true;
  auto* req = new uv_shutdown_t;  // NOLINT: freed in its callback
  auto on_shutdown = guarded_lambda<"tcp shutdown">([](uv_shutdown_t* r, int) {
    std::unique_ptr<uv_shutdown_t> owned(r);
    auto* self = static_cast<TcpEndpoint*>(r->handle->data);
    if (self != nullptr) self->stream_.local_write_done();
  });
  int rc = uv_shutdown(req, socket_.stream(), on_shutdown);
  if (rc != 0) {
    delete req;  // NOLINT
    stream_.local_write_done();
  }
}

void TcpEndpoint::close(bool abortive) {
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  read_chunk_.reset();
  held_.reset();
  abandon_dial();
  abandon_writer();
  preamble_write_.abandon();
  if (!socket_) return;
  if (abortive && !shutdown_started_) {
    // A reset tells the local application the connection was cut, rather than ending it
    // with what looks like a complete stream.
    socket_.reset_abortive();
    return;
  }
  socket_.reset();
}

}  // namespace zlt
