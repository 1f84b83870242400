#include "core/agent/agent_session.hpp"

#include <algorithm>

#include "core/agent/agent.hpp"
#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "core/session/proxy_header.hpp"
#include "core/session/tcp_endpoint.hpp"
#include "core/session/udp_endpoint.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "agent";
// The original waits 10 s for the answer to Auth.
constexpr std::chrono::milliseconds kAuthWait{10000};
constexpr std::chrono::milliseconds kUdpIdle{60000};

}  // namespace

AgentSession::AgentSession(TunnelAgent& agent, Channel& channel)
    : Session(agent.runtime(), channel, kLog), agent_(agent) {
  set_label("agent " + agent.config().server_url);
  set_queue_limits(agent.config().max_session_queue, agent.config().slow_peer_timeout);
}

AgentSession::~AgentSession() = default;

void AgentSession::begin() {
  send(proto::Auth{agent_.config().token, agent_.client_id(),
                   proto::V2Trailer{proto::kProtoVersion2, TunnelAgent::kFeatures}});
  auth_timer_.attach(loop());
  auth_timer_.start(kAuthWait, [this] {
    close_reason_ = "no answer to Auth within 10s";
    end(close_reason_, close_code::kGoingAway, false);
  });
}

void AgentSession::handle_control(proto::Message& message) {
  const proto::MsgType type = proto::type_of(message);
  if (!authenticated_) {
    if (auto* ok = std::get_if<proto::AuthOk>(&message)) {
      on_auth_ok(*ok);
    } else if (auto* fail = std::get_if<proto::AuthFail>(&message)) {
      auth_timer_.stop();
      auth_failed_ = true;
      close_reason_ = fail->reason;
      ZLT_LOG(warn, kLog).field("server", agent_.config().server_url)
          << "authentication refused: " << fail->reason;
      end("authentication refused: " + fail->reason, close_code::kNormal, false);
    } else {
      protocol_error("expected AuthOk or AuthFail, got " + std::string(proto::msg_type_name(type)));
    }
    return;
  }
  switch (type) {
    case proto::MsgType::RegisterOk:
    case proto::MsgType::RegisterFail:
      on_register_reply(message);
      return;
    case proto::MsgType::Connect:
      on_connect(std::get<proto::Connect>(message));
      return;
    case proto::MsgType::Heartbeat: {
      auto ts = std::get<proto::Heartbeat>(message).timestamp;
      send(proto::HeartbeatAck{ts});
      return;
    }
    case proto::MsgType::HeartbeatAck: {
      rtt_.echoed(std::get<proto::HeartbeatAck>(message).timestamp);
      return;
    }
    case proto::MsgType::Disconnect: {
      const std::string& reason = std::get<proto::Disconnect>(message).reason;
      fatal_ = reason.starts_with("fatal:");
      close_reason_ = "server disconnected: " + reason;
      ZLT_LOG(info, kLog).field("server", agent_.config().server_url) << close_reason_;
      end(close_reason_, close_code::kNormal, false);
      return;
    }
    case proto::MsgType::ConnectAck:
    case proto::MsgType::ConnectFail:
      return;  // answers for streams that already ended
    default:
      protocol_error("unexpected " + std::string(proto::msg_type_name(type)) + " from server");
      return;
  }
}

void AgentSession::on_auth_ok(const proto::AuthOk& ok) {
  auth_timer_.stop();
  authenticated_ = true;
  const bool v2 = ok.v2.has_value() && ok.v2->proto_version >= proto::kProtoVersion2;
  const std::uint32_t features = v2 ? (ok.v2->features & TunnelAgent::kFeatures) : 0;
  set_negotiated(v2, features);
  set_label("agent tunnel " + ok.tunnel_id.to_string().substr(0, 8));
  agent_.authenticated(ok.tunnel_id, v2, features);
  if (!alive()) return;
  for (auto& svc : agent_.services_) register_service(svc);

  const auto& cfg = agent_.config();
  const auto tick = std::max(std::chrono::milliseconds(50),
                             std::min(cfg.heartbeat_interval, cfg.heartbeat_timeout / 4));
  liveness_timer_.attach(loop());
  liveness_timer_.start(
      tick, [this] { liveness_tick(); }, tick);
  if (has(proto::feature::kClientHeartbeat)) {
    heartbeat_timer_.attach(loop());
    heartbeat_timer_.start(
        std::chrono::milliseconds(0), [this] { send(proto::Heartbeat{rtt_.sent(unix_time_ms())}); },
        cfg.heartbeat_interval);
  }
}

void AgentSession::register_service(RegisteredService& svc) {
  proto::Register reg{svc.config.name, svc.config.protocol, svc.config.local_port,
                      svc.config.remote_port, std::nullopt};
  if (svc.config.internal) {
    if (!has(proto::feature::kServiceRouting)) {
      svc.status = RegisteredService::Status::failed;
      svc.failure = "the server does not support internal services";
      agent_.observer().on_service_failed({svc.config.name, svc.failure});
      ZLT_LOG(warn, kLog) << "service " << svc.config.name << ": " << svc.failure;
      return;
    }
    reg.flags = proto::kRegisterInternal;
  } else if (has(proto::feature::kServiceRouting)) {
    reg.flags = 0;
  }
  awaiting_replies_.push_back({svc.config.name, svc.generation});
  send(reg);
}

void AgentSession::unregister_service(const Uuid& service_id) { send(proto::Unregister{service_id}); }

void AgentSession::on_register_reply(const proto::Message& reply) {
  if (awaiting_replies_.empty()) return;  // the original ignored surplus replies too
  const AwaitedReply awaited = awaiting_replies_.front();
  awaiting_replies_.pop_front();
  const std::string& name = awaited.name;
  RegisteredService* svc = agent_.service_by_name(name);
  if (svc == nullptr || svc->generation != awaited.generation) {
    // A reload removed or changed the service while its Register was under way: what the
    // server registered for it is not wanted, and a changed one registers now, in its place.
    if (const auto* ok = std::get_if<proto::RegisterOk>(&reply)) unregister_service(ok->service_id);
    if (svc != nullptr && svc->register_deferred) {
      svc->register_deferred = false;
      register_service(*svc);
    }
    return;
  }
  if (const auto* ok = std::get_if<proto::RegisterOk>(&reply)) {
    svc->status = RegisteredService::Status::registered;
    svc->service_id = ok->service_id;
    // An internal service has no public port, whatever a RegisterOk trailer carries.
    svc->public_port = svc->config.internal ? std::nullopt : ok->assigned_port;
    svc->failure.clear();
    std::string where = svc->config.internal ? "as an internal service"
                        : ok->assigned_port ? "on public port " + std::to_string(*ok->assigned_port)
                                            : "(public port not reported by a v1 server)";
    ZLT_LOG(info, kLog).field("service", name) << "registered " << name << " " << where;
    agent_.observer().on_service_registered(
        {name, ok->service_id, svc->config.internal, svc->public_port});
  } else {
    const auto& fail = std::get<proto::RegisterFail>(reply);
    svc->status = RegisteredService::Status::failed;
    svc->failure = fail.reason;
    ZLT_LOG(warn, kLog).field("service", name) << "service " << name << " refused: " << fail.reason;
    agent_.observer().on_service_failed({name, fail.reason});
  }
}

void AgentSession::on_connect(const proto::Connect& c) {
  RegisteredService* svc = agent_.service_by_id(c.service_id);
  if (find_stream(c.connection_id) != nullptr) {
    protocol_error("Connect reuses connection id " + c.connection_id.to_string());
    return;
  }
  if (svc == nullptr) {
    send(proto::ConnectFail{c.connection_id, "unknown service"});
    return;
  }
  if (!agent_.accept_connection(c.service_id, c.connection_id, c.client_addr)) {
    send(proto::ConnectFail{c.connection_id, "connection rejected by client"});
    return;
  }
  if (!has(proto::feature::kStreams)) {
    // A v1 server carries no bytes: acknowledging is all there is to do.
    send(proto::ConnectAck{c.connection_id});
    return;
  }
  auto stream =
      std::make_unique<Stream>(*this, c.connection_id, svc->config.protocol, Stream::Role::acceptor,
                               svc->config.name + " " + c.client_addr);
  stream->attach_service_counters(svc->counters);
  Stream& s = add_stream(std::move(stream));
  const auto& cfg = agent_.config();
  // The PROXY header names the public client (as Connect reports it; a UDP stream is one peer)
  // and, for want of the server's public address, the local service as the destination.
  DialHeader header;
  if (const config::ProxyProtocol version = svc->config.proxy_protocol;
      version != config::ProxyProtocol::none) {
    const ProxyTransport transport = svc->config.protocol == proto::ServiceProtocol::tcp
                                         ? ProxyTransport::stream
                                         : ProxyTransport::datagram;
    header = [version, transport, source = parse_peer_address(c.client_addr)](
                 const SockAddr& local) { return proxy_header(version, transport, source, local); };
  }
  if (svc->config.protocol == proto::ServiceProtocol::tcp) {
    TcpEndpoint::dial(s, cfg.local_host, svc->config.local_port, cfg.connect_timeout, {},
                      std::move(header));
  } else {
    ConnectedUdpEndpoint::dial(s, cfg.local_host, svc->config.local_port, {}, std::move(header));
    if (s.state() != Stream::State::ended) s.set_idle_timeout(kUdpIdle);
  }
}

Result<Stream*> AgentSession::open(const std::string& target, proto::ServiceProtocol protocol,
                                   const EndpointFactory& make_endpoint, std::string label,
                                   std::shared_ptr<Counters> counters) {
  if (!alive() || !authenticated_) return make_error(Errc::connection, "not connected");
  if (!has(proto::feature::kOpen))
    return make_error(Errc::connection, "the server does not allow Open");
  const Uuid id = crypto::uuid_v4();
  auto stream =
      std::make_unique<Stream>(*this, id, protocol, Stream::Role::opener, std::move(label));
  stream->attach_service_counters(std::move(counters));
  stream->set_endpoint(make_endpoint(*stream));
  Stream& s = add_stream(std::move(stream));
  send(proto::Open{id, protocol, target});
  s.start_open_timer(agent_.config().connect_timeout);
  return &s;
}

void AgentSession::liveness_tick() {
  const auto timeout = static_cast<std::uint64_t>(agent_.config().heartbeat_timeout.count());
  if (uv_now(loop()) - last_rx_ms() <= timeout) return;
  close_reason_ = "server silent for " + config::format_duration(agent_.config().heartbeat_timeout);
  ZLT_LOG(warn, kLog).field("server", agent_.config().server_url) << close_reason_;
  end(close_reason_, close_code::kGoingAway, true);
}

void AgentSession::goodbye(const std::string& reason) {
  close_reason_ = reason;
  end(reason, close_code::kNormal, true);
}

void AgentSession::on_session_closed(const Error& why) {
  auth_timer_.stop();
  liveness_timer_.stop();
  heartbeat_timer_.stop();
  Error reported = why;
  // Our own reason beats whatever the peer echoed in its close reply.
  if (!close_reason_.empty()) {
    reported.message = close_reason_;
  } else if (!end_reason().empty()) {
    reported.message = end_reason();
  }
  agent_.session_closed(reported, fatal_, auth_failed_);  // destroys this
}

}  // namespace zlt
