#include "core/server/server_session.hpp"

#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "core/server/registry.hpp"
#include "core/server/tunnel_server.hpp"
#include "core/session/relay.hpp"
#include "core/session/tcp_endpoint.hpp"
#include "core/session/udp_demux.hpp"
#include "core/session/udp_endpoint.hpp"

namespace zlt {

namespace {
constexpr const char* kLog = "server";

std::string short_id(const Uuid& id) {
  return id.to_string().substr(0, 8);
}
}  // namespace

ServerSession::ServerSession(TunnelServer& server, Channel& channel)
    : Session(server.runtime(), channel, kLog), server_(server), v1_(loop(), tunnel_id_) {
  set_queue_limits(server.config().max_session_queue, server.config().slow_peer_timeout);
  auth_timer_.attach(loop());
  auth_timer_.start(server.config().auth_timeout, [this] {
    ZLT_LOG(info, kLog).field("peer", peer())
        << "no Auth within " << config::format_duration(server_.config().auth_timeout)
        << "; closing";
    end("auth timeout", close_code::kPolicyViolation, false);
  });
}

ServerSession::~ServerSession() = default;

TunnelService* ServerSession::server_service(const Uuid& id) {
  if (!tunnel_id_) return nullptr;
  Tunnel* t = server_.registry().get_tunnel(*tunnel_id_);
  if (t == nullptr) return nullptr;
  auto it = t->services.find(id);
  return it == t->services.end() ? nullptr : &it->second;
}

void ServerSession::handle_control(proto::Message& message) {
  if (refusing_) return;  // an AuthFail is on its way; nothing else counts
  const proto::MsgType type = proto::type_of(message);
  if (!tunnel_id_) {
    if (auto* auth = std::get_if<proto::Auth>(&message)) {
      handle_auth(*auth);
    } else {
      // The original's answer to anything but Auth first.
      server_.count_auth_failure("protocol");
      send(proto::AuthFail{"Expected AUTH message"});
      end("expected Auth, got " + std::string(proto::msg_type_name(type)),
          close_code::kPolicyViolation, false);
    }
    return;
  }
  server_.registry().touch_tunnel(*tunnel_id_);
  switch (type) {
    case proto::MsgType::Register:
      handle_register(std::get<proto::Register>(message));
      return;
    case proto::MsgType::Unregister:
      handle_unregister(std::get<proto::Unregister>(message));
      return;
    case proto::MsgType::Open:
      handle_open(std::get<proto::Open>(message));
      return;
    case proto::MsgType::HeartbeatAck: {
      last_ack_ms_ = uv_now(loop());
      rtt_.echoed(std::get<proto::HeartbeatAck>(message).timestamp);
      return;
    }
    case proto::MsgType::Heartbeat:
      if (has(proto::feature::kClientHeartbeat)) {
        send(proto::HeartbeatAck{std::get<proto::Heartbeat>(message).timestamp});
      } else {
        ZLT_LOG(debug, kLog).field("tunnel", tunnel_id_->to_string())
            << label() << ": client heartbeat in a session without CLIENT_HEARTBEAT; ignored";
      }
      return;
    // Streams are answered in Session; what reaches here is a v1 agent's answer.
    case proto::MsgType::ConnectAck:
      v1_.acknowledged(std::get<proto::ConnectAck>(message).connection_id);
      return;
    case proto::MsgType::ConnectFail: {
      const auto& fail = std::get<proto::ConnectFail>(message);
      v1_.refused(fail.connection_id, fail.reason);
      return;
    }
    case proto::MsgType::Disconnect:
      end("agent disconnected: " + std::get<proto::Disconnect>(message).reason, close_code::kNormal,
          false);
      return;
    default:
      protocol_error("unexpected " + std::string(proto::msg_type_name(type)) + " from client");
      return;
  }
}

void ServerSession::refuse_auth(const std::string& reason, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) {
    send(proto::AuthFail{reason});
    end(reason, close_code::kPolicyViolation, false);
    return;
  }
  // Repeated failures from this address: the answer waits, and nothing more is read meanwhile.
  refusing_ = true;
  if (Channel* ch = channel()) ch->pause_receive(true);
  ZLT_LOG(debug, kLog).field("peer", peer())
      << "AuthFail delayed by " << delay.count() << " ms: repeated failures from this address";
  auth_timer_.start(delay, [this, reason] {
    send(proto::AuthFail{reason});
    end(reason, close_code::kPolicyViolation, false);
  });
}

void ServerSession::handle_auth(proto::Auth& auth) {
  auth_timer_.stop();
  const std::string hash = crypto::hash_token(auth.token);
  auto grant = server_.validate_token(auth.token, hash);
  if (!grant) {
    // A flood of bad tokens must not flood the log (AuthFailureThrottle decides).
    server_.count_auth_failure("invalid_token");
    const AuthFailureThrottle::Verdict verdict = server_.auth_failed(peer());
    if (verdict.log)
      ZLT_LOG(info, kLog).field("peer", peer())
          << "authentication refused: " << grant.error().message
          << LogThrottle::left_out_note(*verdict.log);
    refuse_auth(grant.error().display(), verdict.delay);
    return;
  }
  // The configuration validated the entries already: one that does not parse ends here.
  auto allow = AllowList::parse(grant->allow);
  if (!allow) {
    server_.count_auth_failure("bad_grant");
    refuse_auth(allow.error().display());
    return;
  }
  if (server_.is_draining()) {
    // Accepted just before the listener closed: this server is going away, try another.
    server_.count_auth_failure("draining");
    refuse_auth("server draining");
    return;
  }
  const bool v2 = auth.v2.has_value() && auth.v2->proto_version >= proto::kProtoVersion2;
  TunnelRegistry& registry = server_.registry();
  if (Tunnel* existing = registry.get_tunnel_by_token(hash)) {
    ServerSession* old = server_.session_for_tunnel(existing->id);
    if (v2 && old != nullptr && old != this && old->is_v2() && old->client_id() == auth.client_id) {
      ZLT_LOG(info, kLog).field("peer", peer())
          << "client " << short_id(auth.client_id) << " reconnected; taking over " << old->label();
      server_.take_over(*old);
    } else {
      server_.count_auth_failure("token_in_use");
      refuse_auth("Token already in use");
      return;
    }
  }
  if (registry.tunnel_count() >= server_.config().max_tunnels) {
    server_.count_auth_failure("server_full");
    refuse_auth("server full");
    return;
  }
  auto tunnel = registry.register_tunnel(hash, grant->name, peer(), crypto::uuid_v4());
  if (!tunnel) {
    server_.count_auth_failure("registry");
    refuse_auth(tunnel.error().display());
    return;
  }
  (*tunnel)->client_id = auth.client_id;
  (*tunnel)->counters = counters();
  tunnel_id_ = (*tunnel)->id;
  client_id_ = auth.client_id;
  token_hash_ = hash;
  grant_ = std::move(*grant);
  allow_ = std::move(*allow);
  const std::uint32_t granted = v2 ? (auth.v2->features & TunnelServer::kFeatures) : 0;
  set_negotiated(v2, granted);
  set_label("tunnel " + short_id(*tunnel_id_) + (grant_.name ? " (" + *grant_.name + ")" : ""));

  proto::AuthOk ok{*tunnel_id_, std::nullopt};
  if (v2) ok.v2 = proto::V2Trailer{proto::kProtoVersion2, granted};
  send(ok);
  ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string()).field("peer", peer())
      << label() << " authenticated from " << peer() << " (protocol v" << (v2 ? 2 : 1) << ")";

  last_ack_ms_ = uv_now(loop());
  heartbeat_timer_.attach(loop());
  heartbeat_timer_.start(
      std::chrono::milliseconds(0), [this] { heartbeat_tick(); },
      server_.config().heartbeat_interval);
  server_.tunnel_opened(*this);
}

void ServerSession::heartbeat_tick() {
  const auto timeout = static_cast<std::uint64_t>(server_.config().heartbeat_timeout.count());
  if (uv_now(loop()) - last_ack_ms_ > timeout) {
    ZLT_LOG(info, kLog).field("tunnel", tunnel_id_ ? tunnel_id_->to_string() : "")
        << label() << ": no HeartbeatAck for "
        << config::format_duration(server_.config().heartbeat_timeout);
    end("heartbeat timeout", close_code::kGoingAway, true);
    return;
  }
  send(proto::Heartbeat{rtt_.sent(unix_time_ms())});
}

void ServerSession::handle_register(proto::Register& reg) {
  const std::uint8_t flags = reg.flags.value_or(0);
  const bool routing = has(proto::feature::kServiceRouting);
  if (reg.flags && routing && (flags & ~proto::kRegisterInternal) != 0) {
    send(proto::RegisterFail{"Registry error: unknown register flags"});
    return;
  }
  if (server_.is_draining()) {
    send(proto::RegisterFail{"server draining"});
    return;
  }
  if (auto refusal = grant_.register_refusal(reg.name)) {
    ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string())
        << label() << ": service " << reg.name << " refused: " << *refusal;
    send(proto::RegisterFail{*refusal});
    return;
  }
  ServiceRequest req;
  req.name = reg.name;
  req.protocol = reg.protocol;
  req.local_port = reg.local_port;
  req.remote_port = reg.remote_port;
  req.internal = routing && (flags & proto::kRegisterInternal) != 0;
  req.allowed_ports = grant_.allowed_ports;

  const Uuid service_id = crypto::uuid_v4();
  auto added = server_.public_ports().add_service(*tunnel_id_, req, service_id, token_hash_);
  if (!added) {
    ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string())
        << label() << ": service " << reg.name << " refused: " << added.error().message;
    send(proto::RegisterFail{added.error().display()});
    return;
  }
  std::uint16_t public_port = 0;
  if (!req.internal) {
    auto published = server_.public_ports().publish(*this, *added, token_hash_);
    if (!published) {
      (void)server_.registry().remove_service(*tunnel_id_, service_id);
      ZLT_LOG(warn, kLog).field("tunnel", tunnel_id_->to_string())
          << label() << ": service " << reg.name << ": " << published.error().message;
      send(proto::RegisterFail{published.error().display()});
      return;
    }
    public_port = (*published)->port();
  }
  proto::RegisterOk ok{service_id, std::nullopt};
  if (is_v2()) ok.assigned_port = public_port;
  send(ok);
  TunnelService* svc = server_service(service_id);
  ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string()).field("service", reg.name)
      << label() << ": registered " << reg.name << " ("
      << proto::service_protocol_name(reg.protocol) << ")"
      << (req.internal ? " as internal" : " on public port " + std::to_string(public_port));
  server_.observer().on_service_registered({*tunnel_id_, svc});
}

void ServerSession::handle_unregister(const proto::Unregister& unreg) {
  TunnelService* svc = server_service(unreg.service_id);
  if (svc == nullptr) {
    ZLT_LOG(warn, kLog).field("tunnel", tunnel_id_->to_string())
        << label() << ": Unregister of unknown service " << unreg.service_id.to_string();
    return;
  }
  const std::string name = svc->name;
  // The event describes the service as it was, before its streams end.
  TunnelService as_was = *svc;
  as_was.counters = std::make_shared<Counters>(*svc->counters);
  // Its streams end with it: a UDP peer cannot outlive the socket, and a TCP connection to an
  // unregistered service should not linger unnoticed.
  std::vector<Uuid> doomed;
  for_each_stream([&](Stream& s) {
    if (s.counters().service == svc->counters) doomed.push_back(s.id());
  });
  for (const auto& id : doomed)
    if (Stream* s = find_stream(id)) s->fail("service unregistered");
  server_.public_ports().unpublish(unreg.service_id);
  (void)server_.registry().remove_service(*tunnel_id_, unreg.service_id);
  ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string()).field("service", name)
      << label() << ": unregistered " << name;
  server_.observer().on_service_unregistered({*tunnel_id_, as_was, "unregistered by the agent"});
}

bool ServerSession::at_stream_limit() const {
  return stream_count() + v1_.size() >= server_.config().max_streams_per_tunnel;
}

Stream& ServerSession::open_stream(const TunnelService& service, proto::ServiceProtocol protocol,
                                   const std::string& client, const EndpointFactory& endpoint) {
  const Uuid id = crypto::uuid_v4();
  auto stream = std::make_unique<Stream>(*this, id, protocol, Stream::Role::opener,
                                         service.name + " " + client);
  stream->attach_service_counters(service.counters);
  if (endpoint) stream->set_endpoint(endpoint(*stream));
  Stream& s = add_stream(std::move(stream));
  send(proto::Connect{service.id, id, client});
  s.start_open_timer(server_.config().connect_timeout);
  return s;
}

void ServerSession::open_public_tcp(const TunnelService& service, UvHandle<uv_tcp_t> socket,
                                    std::shared_ptr<void> slot) {
  const std::string client = peer_of(socket.get()).to_string();
  const std::string label_text = service.name + " " + client;
  if (!alive() || at_stream_limit()) {
    ZLT_LOG(warn, kLog).field("tunnel", tunnel_id_ ? tunnel_id_->to_string() : "")
        << label() << ": " << label_text << ": too many streams; connection refused";
    socket.reset_abortive();
    return;
  }
  if (server_.busy()) {
    ZLT_LOG(warn, kLog).field("tunnel", tunnel_id_->to_string())
        << label() << ": " << label_text << ": server busy (max_buffered_bytes "
        << server_.config().max_buffered_bytes << " reached); connection refused";
    socket.reset_abortive();
    return;
  }
  if (!has(proto::feature::kStreams)) {
    const Uuid id =
        v1_.hold(std::move(socket), std::move(slot), label_text, server_.config().connect_timeout);
    send(proto::Connect{service.id, id, client});
    return;
  }
  open_stream(service, proto::ServiceProtocol::tcp, client, [&](Stream& stream) {
    auto endpoint = std::make_unique<TcpEndpoint>(stream, std::move(socket));
    endpoint->hold_while_open(std::move(slot));
    return endpoint;
  });
}

Stream* ServerSession::open_public_udp(UdpDemux& socket, const TunnelService& service,
                                       const SockAddr& peer) {
  if (!alive() || !has(proto::feature::kDatagrams) || at_stream_limit() || server_.busy())
    return nullptr;
  Stream& s = open_stream(service, proto::ServiceProtocol::udp, peer.to_string(),
                          [&](Stream& stream) { return socket.make_endpoint(peer, stream.id()); });
  s.set_idle_timeout(server_.config().udp_idle_timeout);
  return &s;
}

void ServerSession::handle_open(proto::Open& open) {
  if (!has(proto::feature::kOpen)) {
    protocol_error("Open without the OPEN feature");
    return;
  }
  if (find_stream(open.connection_id) != nullptr) {
    protocol_error("Open reuses connection id " + open.connection_id.to_string());
    return;
  }
  auto refuse = [&](const std::string& reason) {
    ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string()).field("target", open.target)
        << label() << ": Open " << open.target << " refused: " << reason;
    send(proto::ConnectFail{open.connection_id, reason});
  };
  if (server_.is_draining()) return refuse("server draining");
  if (at_stream_limit()) return refuse("too many streams");
  if (server_.busy()) return refuse("server busy");
  auto target = OpenTarget::parse(open.target);
  if (!target) return refuse("invalid target");
  if (!allow_.allows(*target)) return refuse("target not allowed");
  if (target->kind == OpenTarget::Kind::service) {
    if (!has(proto::feature::kServiceRouting)) return refuse("target not allowed");
    open_service_target(open, target->name);
    return;
  }

  auto stream = std::make_unique<Stream>(*this, open.connection_id, open.protocol,
                                         Stream::Role::acceptor, "open " + open.target);
  Stream& s = add_stream(std::move(stream));
  // The name was allowed; each address it leads to is checked too, right before it is dialed
  // (with its own copy of the list: it holds no pointer into the session).
  AddressCheck check = [allow = allow_](const SockAddr& a) {
    return allow.address_refusal(a.storage);
  };
  if (open.protocol == proto::ServiceProtocol::tcp) {
    TcpEndpoint::dial(s, target->host, target->port, server_.config().connect_timeout,
                      std::move(check));
  } else {
    ConnectedUdpEndpoint::dial(s, target->host, target->port, std::move(check));
    if (s.state() != Stream::State::ended) s.set_idle_timeout(server_.config().udp_idle_timeout);
  }
}

void ServerSession::open_service_target(const proto::Open& open, const std::string& name) {
  auto refuse = [&](const std::string& reason) {
    ZLT_LOG(info, kLog).field("tunnel", tunnel_id_->to_string()).field("target", open.target)
        << label() << ": Open " << open.target << " refused: " << reason;
    send(proto::ConnectFail{open.connection_id, reason});
  };
  auto found = server_.registry().get_service_by_name(name);
  ServerSession* owner = found ? server_.session_for_tunnel(found->first->id) : nullptr;
  if (owner == nullptr) return refuse("no such service");
  const TunnelService& service = *found->second;
  if (service.protocol != open.protocol) return refuse("protocol mismatch");
  // The opener's half first, so the owner's answer always finds it.
  Stream& mine = add_stream(std::make_unique<Stream>(
      *this, open.connection_id, open.protocol, Stream::Role::acceptor, "open " + open.target));
  Stream* theirs = owner->open_spliced(service, open.protocol,
                                       "tunnel:" + tunnel_id_->to_string() + "@" + peer());
  if (theirs == nullptr) {
    mine.refuse("too many streams");
    return;
  }
  splice(mine, *theirs);
  if (open.protocol == proto::ServiceProtocol::udp)
    mine.set_idle_timeout(server_.config().udp_idle_timeout);
}

Stream* ServerSession::open_spliced(const TunnelService& service, proto::ServiceProtocol protocol,
                                    const std::string& client_addr) {
  if (!alive() || !has(proto::feature::kStreams) || at_stream_limit()) return nullptr;
  // No endpoint: the opener's half is spliced to this one.
  return &open_stream(service, protocol, client_addr, nullptr);
}

bool ServerSession::update_grant(TokenGrant grant) {
  auto allow = AllowList::parse(grant.allow);
  if (!allow) return false;
  if (const Tunnel* t = server_.registry().get_tunnel(*tunnel_id_)) {
    for (const auto& [sid, svc] : t->services) {
      if (grant.register_refusal(svc.name)) return false;
      const auto& ports = grant.allowed_ports;
      if (ports && svc.assigned_port &&
          (*svc.assigned_port < ports->start || *svc.assigned_port > ports->end))
        return false;
    }
  }
  grant_ = std::move(grant);
  allow_ = std::move(*allow);
  return true;
}

nlohmann::json ServerSession::status() const {
  nlohmann::json j = nlohmann::json::object();
  j["peer"] = peer();
  j["version"] = is_v2() ? 2 : 1;
  j["features"] = features();
  j["streams"] = stream_count();
  // What the server holds for this tunnel right now, in real bytes: waiting to go out on its
  // channel (capped at max_session_queue), and that plus its streams' socket buffers.
  j.update(queue_status());
  j["traffic"] = counters()->to_json();
  j["rtt_ms"] = rtt_ms() ? nlohmann::json(*rtt_ms()) : nlohmann::json(nullptr);
  return j;
}

void ServerSession::on_session_closed(const Error& why) {
  auth_timer_.stop();
  heartbeat_timer_.stop();
  v1_.clear();
  server_.session_closed(*this, why);  // destroys this
}

}  // namespace zlt
