#include "core/session/udp_endpoint.hpp"

#include <netdb.h>

#include <cstring>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/session/session.hpp"

namespace zlt {

struct DatagramSender::Req {
  uv_udp_send_t req{};
  ChunkPtr bytes;
  std::shared_ptr<std::size_t> queued;
};

bool DatagramSender::send(uv_udp_t* socket, const SockAddr* to, std::span<const std::uint8_t> bytes,
                          std::string_view prefix) {
  const sockaddr* addr = to != nullptr ? to->get() : nullptr;
  uv_buf_t bufs[2] = {
      uv_buf_init(const_cast<char*>(prefix.data()), static_cast<unsigned>(prefix.size())),
      uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                  static_cast<unsigned>(bytes.size()))};
  const unsigned nbufs = prefix.empty() ? 1 : 2;
  uv_buf_t* first = prefix.empty() ? &bufs[1] : &bufs[0];
  if (*queued_ == 0) {
    int n = uv_udp_try_send(socket, first, nbufs, addr);
    if (n >= 0) return true;
    if (n != UV_EAGAIN) return false;
  }
  const std::size_t total = prefix.size() + bytes.size();
  if (*queued_ + total > kMaxQueuedBytes) return false;
  auto req = std::make_unique<Req>();
  if (prefix.empty()) {
    req->bytes = chunk_copy(bytes);
  } else {
    req->bytes = acquire_chunk_for(total, 0);
    req->bytes->append(
        std::span(reinterpret_cast<const std::uint8_t*>(prefix.data()), prefix.size()));
    req->bytes->append(bytes);
  }
  req->queued = queued_;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(req->bytes->data()),
                             static_cast<unsigned>(req->bytes->size()));
  req->req.data = req.get();
  auto on_sent = guarded_lambda<"udp send">([](uv_udp_send_t* r, int) {
    std::unique_ptr<Req> done(static_cast<Req*>(r->data));
    *done->queued -= done->bytes->size();
  });
  if (uv_udp_send(&req->req, socket, &buf, 1, addr, on_sent) != 0) return false;
  *queued_ += req->bytes->size();
  req.release();  // owned by libuv until the callback
  return true;
}

// ---- ConnectedUdpEndpoint ----

ConnectedUdpEndpoint& ConnectedUdpEndpoint::dial(Stream& stream, const std::string& host,
                                                 std::uint16_t port, AddressCheck check,
                                                 DialHeader header) {
  std::unique_ptr<ConnectedUdpEndpoint> self(new ConnectedUdpEndpoint(stream));
  ConnectedUdpEndpoint& ep = *self;
  ep.make_prefix_ = std::move(header);
  stream.set_endpoint(std::move(self));
  ep.resolver_ = std::make_unique<Dialer>(stream.session().loop());
  ep.resolver_->resolve(
      host, port, std::move(check),
      [&ep](std::vector<SockAddr> addresses) { ep.connect_to(addresses.front()); },
      [&ep](const DialFailure& f) {
        ep.stream_.refuse(f.stage == DialFailure::Stage::check ? f.refusal : "host not found");
      });
  return ep;
}

ConnectedUdpEndpoint::~ConnectedUdpEndpoint() {
  close(true);
}

void ConnectedUdpEndpoint::connect_to(const SockAddr& addr) {
  int rc = socket_.init(uv_udp_init, stream_.session().loop());
  if (rc == 0) {
    socket_.set_data(this);
    rc = uv_udp_connect(socket_.get(), addr.get());
  }
  if (rc != 0) {
    socket_.reset();
    stream_.refuse(std::string("udp connect: ") + uv_strerror(rc));
    return;
  }
  if (make_prefix_) prefix_ = make_prefix_(addr);
  make_prefix_ = nullptr;
  stream_.accept();
}

void ConnectedUdpEndpoint::on_open() {
  if (socket_)
    uv_udp_recv_start(socket_.get(), guarded<&on_alloc, "udp receive">,
                      guarded<&on_recv, "udp receive">);
}

void ConnectedUdpEndpoint::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<ConnectedUdpEndpoint*>(h->data);
  buf->base = nullptr;
  buf->len = 0;
  if (self == nullptr) return;
  if (!self->read_chunk_) self->read_chunk_ = acquire_chunk(Chunk::kPayloadOffset);
  buf->base = reinterpret_cast<char*>(self->read_chunk_->data());
  // One byte more than a datagram may carry, so an oversized one is seen as truncated.
  buf->len = proto::kMaxDataChunk + 1;
}

void ConnectedUdpEndpoint::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t*,
                                   const sockaddr* from, unsigned flags) {
  auto* self = static_cast<ConnectedUdpEndpoint*>(h->data);
  if (self == nullptr || nread < 0) return;  // ICMP errors (service down) surface here; keep going
  if (from == nullptr) return;               // nothing more to read
  if ((flags & UV_UDP_PARTIAL) != 0 || static_cast<std::size_t>(nread) > proto::kMaxDataChunk) {
    self->stream_.counters().apply([](Counters& c) { ++c.drops; });
    return;
  }
  ChunkPtr chunk = std::move(self->read_chunk_);
  chunk->set_range(Chunk::kPayloadOffset, Chunk::kPayloadOffset + static_cast<std::size_t>(nread));
  self->stream_.send_datagram(std::move(chunk));
}

void ConnectedUdpEndpoint::deliver_datagram(std::span<const std::uint8_t> bytes) {
  if (closed_ || !socket_) return;
  if (!sender_.send(socket_.get(), nullptr, bytes, prefix_))
    stream_.counters().apply([](Counters& c) { ++c.drops; });
}

void ConnectedUdpEndpoint::close(bool) {
  if (closed_) return;
  closed_ = true;
  read_chunk_.reset();
  if (resolver_) resolver_->abandon();
  socket_.reset();
}

}  // namespace zlt
