#include "core/session/udp_demux.hpp"

#include <algorithm>
#include <cstring>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"

namespace zlt {

// One peer's side of the shared socket.
class UdpDemux::PeerEndpoint final : public StreamEndpoint {
 public:
  PeerEndpoint(UdpDemux* owner, SockAddr peer, Uuid stream_id)
      : owner_(owner), peer_(peer), stream_id_(stream_id) {}
  ~PeerEndpoint() override { close(true); }

  void on_open() override {}
  void deliver(std::span<const std::uint8_t>) override {}
  void deliver_datagram(std::span<const std::uint8_t> bytes) override {
    if (owner_ != nullptr) owner_->send_to(peer_, bytes);
  }
  void deliver_eof() override {}
  void on_writable() override {}
  void close(bool) override {
    if (owner_ == nullptr) return;
    UdpDemux* owner = owner_;
    owner_ = nullptr;
    owner->peer_gone(this, peer_, stream_id_);
  }
  // The socket goes away first.
  void detach() { owner_ = nullptr; }

 private:
  UdpDemux* owner_;
  SockAddr peer_;
  Uuid stream_id_;
};

Result<std::unique_ptr<UdpDemux>> UdpDemux::bind(uv_loop_t* loop, const SockAddr& address,
                                                 Hooks hooks) {
  std::unique_ptr<UdpDemux> self(new UdpDemux());
  self->hooks_ = std::move(hooks);
  int rc = self->socket_.init(uv_udp_init, loop);
  if (rc == 0) {
    self->socket_.set_data(self.get());
    rc = uv_udp_bind(self->socket_.get(), address.get(), 0);
  }
  if (rc == 0) rc = uv_udp_recv_start(self->socket_.get(), guarded<&on_alloc, "udp receive">,
                                          guarded<&on_recv, "udp receive">);
  if (rc != 0)
    return make_error(Errc::connection,
                      "cannot bind udp " + address.to_string() + ": " + uv_error_text(rc));
  int len = sizeof self->address_.storage;
  uv_udp_getsockname(self->socket_.get(), self->address_.get(), &len);
  self->address_.len = static_cast<socklen_t>(len);
  return self;
}

UdpDemux::~UdpDemux() {
  // End the streams this socket carries, then cut any endpoint still pointing here.
  auto peers = std::move(peers_);
  peers_.clear();
  for (const auto& [key, id] : peers)
    if (hooks_.find)
      if (Stream* s = hooks_.find(id)) s->abort("socket closed");
  for (PeerEndpoint* e : endpoints_) e->detach();
  endpoints_.clear();
}

void UdpDemux::set_hooks(Hooks hooks) {
  hooks_ = std::move(hooks);
  peers_.clear();
}

std::unique_ptr<StreamEndpoint> UdpDemux::make_endpoint(const SockAddr& peer,
                                                        const Uuid& stream_id) {
  auto e = std::make_unique<PeerEndpoint>(this, peer, stream_id);
  endpoints_.push_back(e.get());
  peers_[peer.to_string()] = stream_id;
  return e;
}

void UdpDemux::peer_gone(PeerEndpoint* endpoint, const SockAddr& peer, const Uuid& stream_id) {
  std::erase(endpoints_, endpoint);
  // Only forget the mapping if it is still this stream's (a successor may own the peer now).
  auto it = peers_.find(peer.to_string());
  if (it != peers_.end() && it->second == stream_id) peers_.erase(it);
}

void UdpDemux::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<UdpDemux*>(h->data);
  buf->base = nullptr;
  buf->len = 0;
  if (self == nullptr) return;
  if (!self->read_chunk_) self->read_chunk_ = acquire_chunk(Chunk::kPayloadOffset);
  buf->base = reinterpret_cast<char*>(self->read_chunk_->data());
  buf->len = proto::kMaxDataChunk + 1;  // one more than fits: oversized datagrams show as such
}

void UdpDemux::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t*, const sockaddr* from,
                       unsigned flags) {
  auto* self = static_cast<UdpDemux*>(h->data);
  if (self == nullptr || nread < 0 || from == nullptr) return;
  auto drop = [self] {
    if (self->hooks_.dropped) self->hooks_.dropped();
  };
  if ((flags & UV_UDP_PARTIAL) != 0 || static_cast<std::size_t>(nread) > proto::kMaxDataChunk) {
    drop();
    return;
  }
  SockAddr peer;
  peer.len = from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::memcpy(&peer.storage, from, peer.len);
  Stream* stream = nullptr;
  if (auto it = self->peers_.find(peer.to_string()); it != self->peers_.end() && self->hooks_.find)
    stream = self->hooks_.find(it->second);
  if (stream == nullptr && self->hooks_.open) stream = self->hooks_.open(peer);
  if (stream == nullptr) {
    drop();
    return;
  }
  ChunkPtr chunk = std::move(self->read_chunk_);
  chunk->set_range(Chunk::kPayloadOffset, Chunk::kPayloadOffset + static_cast<std::size_t>(nread));
  stream->send_datagram(std::move(chunk));
}

void UdpDemux::send_to(const SockAddr& to, std::span<const std::uint8_t> bytes) {
  if (!socket_) return;
  if (!sender_.send(socket_.get(), &to, bytes) && hooks_.dropped) hooks_.dropped();
}

}  // namespace zlt
