#include "core/server/public_service.hpp"

#include <cstring>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/server/registry.hpp"
#include "core/server/server_session.hpp"

namespace zlt {

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

void PublicService::attach(ServerSession& session, const TunnelService& service) {
  session_ = &session;
  service_id_ = service.id;
  service_name_ = service.name;
  if (udp_) {
    ServerSession* s = &session;
    const Uuid id = service.id;
    UdpDemux* demux = udp_.get();
    udp_->set_hooks(UdpDemux::Hooks{
        [s, id, demux](const SockAddr& peer) -> Stream* {
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
  while (pending_connections_ > 0 && session_ != nullptr) {
    --pending_connections_;
    on_connection(tcp_.stream(), 0);
  }
}

void PublicService::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<PublicService*>(server->data);
  if (self == nullptr) return;
  if (status < 0) {
    ZLT_LOG(warn, "server").field("port", self->port())
        << "accept on public port " << self->port() << ": " << uv_error_text(status);
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
  self->session_->open_public_tcp(*tunnel_service, std::move(client));
}

}  // namespace zlt
