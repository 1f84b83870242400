#include "core/access/local_forwarder.hpp"

#include "core/agent/agent_session.hpp"
#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/session/tcp_endpoint.hpp"

namespace zlt {
namespace {
constexpr const char* kLog = "access";
}  // namespace

Result<std::unique_ptr<LocalForwarder>> LocalForwarder::bind(
    uv_loop_t* loop, proto::ServiceProtocol protocol, const SockAddr& local, std::string target,
    SessionSource source, std::shared_ptr<Counters> counters) {
  std::unique_ptr<LocalForwarder> self(new LocalForwarder());
  self->loop_ = loop;
  self->protocol_ = protocol;
  self->target_ = std::move(target);
  self->source_ = std::move(source);
  self->counters_ = counters ? std::move(counters) : std::make_shared<Counters>();
  if (protocol == proto::ServiceProtocol::tcp) {
    int rc = self->listener_.init(uv_tcp_init, loop);
    if (rc == 0) {
      self->listener_.set_data(self.get());
      rc = uv_tcp_bind(self->listener_.get(), local.get(), 0);
    }
    if (rc == 0) rc = uv_listen(self->listener_.stream(), 128,
                                  guarded<&LocalForwarder::on_connection, "access listener">);
    if (rc != 0)
      return make_error(Errc::connection,
                        "cannot listen on " + local.to_string() + ": " + uv_error_text(rc));
    int len = sizeof self->address_.storage;
    uv_tcp_getsockname(self->listener_.get(), self->address_.get(), &len);
    self->address_.len = static_cast<socklen_t>(len);
    return self;
  }
  LocalForwarder* raw = self.get();
  auto demux = UdpDemux::bind(
      loop, local,
      UdpDemux::Hooks{
          [raw](const SockAddr& peer) -> Stream* {
            UdpDemux* d = raw->udp_.get();
            return raw->open_stream(peer, [d, peer](Stream& s) {
              return d->make_endpoint(peer, s.id());
            });
          },
          [raw](const Uuid& id) -> Stream* {
            AgentSession* session = raw->source_();
            return session != nullptr ? session->find_stream(id) : nullptr;
          },
          [raw] { ++raw->counters_->drops; }});
  if (!demux) return demux.take_error();
  self->udp_ = std::move(*demux);
  self->address_ = self->udp_->address();
  return self;
}

LocalForwarder::~LocalForwarder() {
  listener_.reset();
  close_connections("access closed");
  udp_.reset();
}

Stream* LocalForwarder::open_stream(
    const SockAddr& peer, const std::function<std::unique_ptr<StreamEndpoint>(Stream&)>& make) {
  AgentSession* session = source_();
  if (session == nullptr) {
    ZLT_LOG(info, kLog).field("target", target_)
        << "connection from " << peer.to_string() << " refused: not connected to the server";
    return nullptr;
  }
  auto stream = session->open(target_, protocol_, make,
                              target_ + " from " + peer.to_string(), counters_);
  if (!stream) {
    ZLT_LOG(info, kLog).field("target", target_)
        << "connection from " << peer.to_string() << " refused: " << stream.error().message;
    return nullptr;
  }
  // Forget streams that have ended (and any of an earlier session, which ended with it), so
  // the list stays as long as the live ones. Earlier sessions are never dereferenced.
  std::erase_if(streams_, [session](const auto& e) {
    return e.first != session || session->find_stream(e.second) == nullptr;
  });
  streams_.emplace_back(session, (*stream)->id());
  return *stream;
}

void LocalForwarder::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<LocalForwarder*>(server->data);
  if (self == nullptr || status < 0) return;
  UvHandle<uv_tcp_t> client;
  if (client.init(uv_tcp_init, self->loop_) != 0) return;
  if (uv_accept(server, client.stream()) != 0) return;
  const SockAddr peer = peer_of(client.get());
  auto socket = std::make_shared<UvHandle<uv_tcp_t>>(std::move(client));
  Stream* s = self->open_stream(peer, [socket](Stream& stream) {
    return std::make_unique<TcpEndpoint>(stream, std::move(*socket));
  });
  if (s == nullptr && *socket) socket->reset_abortive();
}

void LocalForwarder::close_connections(const std::string& reason) {
  auto streams = std::move(streams_);
  streams_.clear();
  AgentSession* live = source_ ? source_() : nullptr;
  for (const auto& [session, id] : streams) {
    if (session != live || live == nullptr) continue;  // streams of a dead session are gone
    if (Stream* s = live->find_stream(id)) s->fail(reason);
  }
}

}  // namespace zlt
