#include "core/server/public_service.hpp"

#include <cstring>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/server/registry.hpp"
#include "core/server/server_session.hpp"

namespace zlt {
namespace {

// One public connection counted against its source address for as long as it lives.
class SourceSlot {
 public:
  SourceSlot(std::weak_ptr<std::unordered_map<std::string, std::size_t>> counts,
             std::string source)
      : counts_(std::move(counts)), source_(std::move(source)) {}
  ~SourceSlot() {
    auto counts = counts_.lock();
    if (!counts) return;
    auto it = counts->find(source_);
    if (it != counts->end() && --it->second == 0) counts->erase(it);
  }
  SourceSlot(const SourceSlot&) = delete;
  SourceSlot& operator=(const SourceSlot&) = delete;

 private:
  std::weak_ptr<std::unordered_map<std::string, std::size_t>> counts_;
  std::string source_;
};

}  // namespace

Result<std::unique_ptr<PublicService>> PublicService::bind(uv_loop_t* loop,
                                                           proto::ServiceProtocol protocol,
                                                           const std::string& host,
                                                           std::uint16_t port) {
  auto addr = resolve_listen_address(host, port);
  if (!addr) return addr.take_error();
  std::unique_ptr<PublicService> self(new PublicService());
  self->loop_ = loop;
  self->protocol_ = protocol;
  const std::string where = addr->to_string();
  int rc = 0;
  if (protocol == proto::ServiceProtocol::tcp) {
    rc = self->tcp_.init(uv_tcp_init, loop);
    if (rc == 0) {
      self->tcp_.set_data(self.get());
      rc = uv_tcp_bind(self->tcp_.get(), addr->get(), 0);
    }
    if (rc == 0) rc = uv_listen(self->tcp_.stream(), 511,
                                  guarded<&PublicService::on_connection, "public listener">);
    if (rc == 0) {
      self->address_.len = sizeof self->address_.storage;
      uv_tcp_getsockname(self->tcp_.get(), self->address_.get(),
                         reinterpret_cast<int*>(&self->address_.len));
    }
  } else {
    auto demux = UdpDemux::bind(loop, *addr, {});
    if (!demux) return make_error(Errc::registry, demux.error().message);
    self->udp_ = std::move(*demux);
    self->address_ = self->udp_->address();
  }
  if (rc != 0) return make_error(Errc::registry, "cannot bind " + where + ": " + uv_error_text(rc));
  return self;
}

PublicService::~PublicService() { detach(); }

void PublicService::set_limits(Limits limits) {
  limits_ = limits;
  if (udp_) udp_->set_max_flows(limits.max_udp_flows);
}

void PublicService::stop_accepting() {
  accepting_ = false;
  pending_connections_ = 0;
  if (tcp_) tcp_.reset();
}

void PublicService::attach(ServerSession& session, const TunnelService& service) {
  session_ = &session;
  service_id_ = service.id;
  service_name_ = service.name;
  if (udp_) {
    ServerSession* s = &session;
    const Uuid id = service.id;
    UdpDemux* demux = udp_.get();
    const bool* accepting = &accepting_;  // this socket owns the demux, so outlives its hooks
    udp_->set_hooks(UdpDemux::Hooks{
        [s, id, demux, accepting](const SockAddr& peer) -> Stream* {
          if (!*accepting) return nullptr;
          TunnelService* svc = s->server_service(id);
          return svc != nullptr ? s->open_public_udp(*demux, *svc, peer) : nullptr;
        },
        [s](const Uuid& stream) { return s->find_stream(stream); },
        [s, id] {
          if (TunnelService* svc = s->server_service(id)) ++svc->counters->drops;
        }});
  }
  accept_pending();
}

void PublicService::detach() {
  session_ = nullptr;
  // Datagrams arriving until the successor attaches are dropped.
  if (udp_) udp_->set_hooks({});
}

void PublicService::accept_pending() {
  while (pending_connections_ > 0 && session_ != nullptr && tcp_) {
    --pending_connections_;
    on_connection(tcp_.stream(), 0);
  }
}

void PublicService::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<PublicService*>(server->data);
  if (self == nullptr) return;
  if (status < 0) {
    // EMFILE and kin repeat for as long as the shortage lasts.
    if (auto left_out = self->accept_error_log_.allow(uv_now(self->loop_)))
      ZLT_LOG(warn, "server").field("port", self->port())
          << "accept on public port " << self->port() << ": " << uv_error_text(status)
          << LogThrottle::left_out_note(*left_out);
    return;
  }
  if (self->session_ == nullptr && self->hold_while_detached_) {
    // Leave it in the backlog; libuv pauses accepting until uv_accept is called.
    ++self->pending_connections_;
    return;
  }
  UvHandle<uv_tcp_t> client;
  if (client.init(uv_tcp_init, self->loop_) != 0) return;
  if (uv_accept(server, client.stream()) != 0) return;
  if (self->session_ == nullptr) {
    client.reset_abortive();  // nobody to carry it: fail fast
    return;
  }
  auto* tunnel_service = self->session_->authenticated()
                             ? self->session_->server_service(self->service_id_)
                             : nullptr;
  if (tunnel_service == nullptr) return;  // closing `client` drops the connection
  std::shared_ptr<void> slot;
  if (self->limits_.max_conns_per_source > 0) {
    const std::string source = source_of(peer_of(client.get()));
    std::size_t& live = (*self->live_by_source_)[source];
    if (live >= self->limits_.max_conns_per_source) {
      if (auto left_out = self->refusal_log_.allow(uv_now(self->loop_)))
        ZLT_LOG(info, "server").field("service", self->service_name_).field("source", source)
            << self->service_name_ << ": connection from " << source << " reset: it already has "
            << live << " (max_conns_per_source)" << LogThrottle::left_out_note(*left_out);
      client.reset_abortive();
      return;
    }
    ++live;
    slot = std::make_shared<SourceSlot>(self->live_by_source_, source);
  }
  self->session_->open_public_tcp(*tunnel_service, std::move(client), std::move(slot));
}

}  // namespace zlt
